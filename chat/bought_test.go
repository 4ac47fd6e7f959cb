package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// hiding is a Privacy where the named users opted out.
type hiding map[uuid.UUID]bool

func (h hiding) HidesPurchases(_ context.Context, id uuid.UUID) (bool, error) { return h[id], nil }

func withPrivacy(p chat.Privacy) option {
	return func(c *nodeConfig) { c.setup = func(w *world) { w.hub.Privacy = p } }
}

// TestBoughtNotices: a paid order is announced to the room with the buyer's
// first name and initial and the offer's sold count, on every node; a buyer
// who opted out is announced without a name.
func TestBoughtNotices(t *testing.T) {
	bus := memory.NewBus()
	priv := hiding{}
	w := newWorld(t, bus, withPrivacy(priv))
	other := w.node(bus, withPrivacy(priv))
	watcher, _ := other.join("member")
	carre := demo.Offers(time.Time{})[1].ID
	buy := func(name string) {
		t.Helper()
		w.mu.Lock()
		u := w.users[name]
		w.mu.Unlock()
		r, _, err := w.shop.Reserve(t.Context(), u, checkout.ReserveRequest{OfferID: carre, Quantity: 1})
		if err != nil {
			t.Fatal(err)
		}
		o, _, err := w.shop.PlaceOrder(t.Context(), u, checkout.OrderRequest{ReservationID: r.ID, PaymentToken: "tok_visa",
			Shipping: checkout.Shipping{Name: "X", Line1: "1 Rue", City: "Paris", PostalCode: "75002", Country: "FR"}})
		if err != nil || o.State != checkout.Paid {
			t.Fatalf("order: %+v, %v", o, err)
		}
	}
	mei := &account.User{ID: uuid.New(), Email: "mei@test.example", DisplayName: "Mei Lin Chen", Roles: []account.Role{account.RoleViewer},
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := w.db.CreateUser(t.Context(), mei, "not-a-hash"); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.users["mei"] = mei
	w.mu.Unlock()
	buy("mei")
	f := watcher.until(offerEvent("bought", carre), "the first notice")
	if f["buyer"] != "Mei C." || num(obj(f, "offer"), "sold") != 1 || seqOf(f) == 0 {
		t.Fatalf("notice = %v", f)
	}
	priv[w.userID("viewer")] = true
	buy("viewer")
	f = watcher.until(offerEvent("bought", carre), "the second notice")
	if _, named := f["buyer"]; named || num(obj(f, "offer"), "sold") != 2 {
		t.Fatalf("an opted-out buyer's notice = %v", f)
	}
}

func TestShortName(t *testing.T) {
	for in, want := range map[string]string{
		"Mei Lin": "Mei L.", "Mei Lin Chen": "Mei C.", "Mei": "Mei", "  vic   viewer ": "vic V.", "": "",
		"mei@example.com": "", "Zoë 王": "Zoë 王.", "Ann 1984": "Ann",
	} {
		if got := chat.ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}
