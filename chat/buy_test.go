package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/show"
)

// createOffer adds an offer of the blue carré (a SKU no demo offer uses) to
// the show. Call it before anyone joins: a room reads its offers once.
func (w *world) createOffer(allocated, limit int) uuid.UUID {
	w.t.Helper()
	ctx := context.Background()
	sh, err := w.db.ShowByID(ctx, w.show)
	if err != nil {
		w.t.Fatal(err)
	}
	products, err := w.db.ListProducts(ctx, sh.BrandID)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, p := range products {
		for _, s := range p.SKUs {
			if s.Code == "CARRE-BLEU" {
				o := &checkout.Offer{ID: uuid.New(), ShowID: w.show, SKUID: s.ID, PriceMinor: 30000, Currency: "EUR",
					Allocated: allocated, PerCustomerLimit: limit, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
				if err := w.db.CreateOffer(ctx, o); err != nil {
					w.t.Fatal(err)
				}
				return o.ID
			}
		}
	}
	w.t.Fatal("no CARRE-BLEU SKU in the demo")
	return uuid.Nil
}

func offerEvent(typ string, offer uuid.UUID) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["type"] == typ && f["offer_id"] == offer.String() }
}

func TestBuyingFollowsCheckoutRules(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	small := w.createOffer(3, 0)
	carre := demo.Offers(time.Time{})[1].ID // two per customer
	buyer, _ := w.join("viewer")
	watcher, _ := w.join("member")

	// A retry with the same id answers with the first reservation.
	buyer.send(map[string]any{"type": "reserve", "id": "tap-1", "offer_id": w.offer})
	first := buyer.next("reservation")
	buyer.send(map[string]any{"type": "reserve", "id": "tap-1", "offer_id": w.offer})
	again := buyer.next("reservation")
	r1 := obj(first, "reservation")
	if first["replayed"] != false || again["replayed"] != true || again["id"] != "tap-1" || obj(again, "reservation")["id"] != r1["id"] ||
		r1["state"] != "held" || num(r1, "quantity") != 1 || r1["offer_id"] != w.offer.String() {
		t.Fatalf("first = %v\nretry = %v", first, again)
	}
	// The frame's id and the HTTP Idempotency-Key are one key space: a
	// client that falls back to POST /api/reservations with the same intent
	// gets the same hold, not a second one.
	w.mu.Lock()
	viewer := w.users["viewer"]
	w.mu.Unlock()
	viaHTTP, replayed, err := w.shop.Reserve(t.Context(), viewer, checkout.ReserveRequest{OfferID: w.offer, Quantity: 1, IdempotencyKey: "tap-1"})
	if err != nil || !replayed || viaHTTP.ID.String() != r1["id"] {
		t.Fatalf("the same intent over HTTP = %+v, replayed %v, %v; want reservation %v replayed", viaHTTP, replayed, err, r1["id"])
	}
	// The same id for another request is refused.
	buyer.sendRefused(map[string]any{"type": "reserve", "id": "tap-1", "offer_id": carre}, "unprocessable", "reused id")
	// Another viewer sees the stock move.
	if f := watcher.until(offerEvent("stock", w.offer), "the bag's stock"); num(f, "available") != 9 || f["sold_out"] != false || seqOf(f) == 0 {
		t.Fatalf("stock = %v", f)
	}

	// Over the per-customer limit.
	buyer.sendRefused(map[string]any{"type": "reserve", "id": "tap-2", "offer_id": carre, "quantity": 3}, "limit_reached", "3 carrés")
	buyer.sendRefused(map[string]any{"type": "reserve", "id": "tap-3", "offer_id": w.offer}, "limit_reached", "a second bag")
	buyer.sendRefused(map[string]any{"type": "reserve", "id": "tap-4", "offer_id": uuid.New()}, "not_found", "an unknown offer")

	// Release: the units come back, for everyone to see.
	buyer.send(map[string]any{"type": "release", "id": "rel-1", "reservation_id": r1["id"]})
	rel := buyer.next("released")
	if rel["id"] != "rel-1" || obj(rel, "reservation")["state"] != "released" || obj(rel, "reservation")["id"] != r1["id"] {
		t.Fatalf("released = %v", rel)
	}
	if f := watcher.until(offerEvent("stock", w.offer), "the bag's stock"); num(f, "available") != 10 {
		t.Fatalf("stock after release = %v", f)
	}
	buyer.sendRefused(map[string]any{"type": "release", "id": "rel-2", "reservation_id": r1["id"]}, "gone", "releasing twice")
	// Someone else's reservation is as good as missing.
	buyer.send(map[string]any{"type": "reserve", "id": "tap-5", "offer_id": carre})
	r5 := obj(buyer.next("reservation"), "reservation")
	watcher.sendRefused(map[string]any{"type": "release", "id": "steal", "reservation_id": r5["id"]}, "not_found", "releasing another's")
	watcher.sendRefused(map[string]any{"type": "release", "id": "ghost", "reservation_id": uuid.New()}, "not_found", "releasing a missing one")

	// The last unit goes: a sold_out event; then "sold out" for the next buyer.
	buyer.send(map[string]any{"type": "reserve", "id": "s1", "offer_id": small, "quantity": 2})
	buyer.next("reservation")
	watcher.send(map[string]any{"type": "reserve", "id": "s2", "offer_id": small})
	watcher.next("reservation")
	for _, c := range []*client{buyer, watcher} {
		if f := c.until(offerEvent("sold_out", small), "sold_out"); num(f, "available") != 0 || f["sold_out"] != true || seqOf(f) == 0 {
			t.Fatalf("sold_out = %v", f)
		}
	}
	w.addUser("late")
	late, welcome := w.join("late")
	for _, o := range welcome["offers"].([]any) {
		if o := o.(map[string]any); o["id"] == small.String() && num(o, "available") != 0 {
			t.Fatalf("welcome offer = %v", o)
		}
	}
	late.sendRefused(map[string]any{"type": "reserve", "id": "s3", "offer_id": small}, "sold_out", "after the last unit")
}

// The demo bag: ten units, one each. The tenth buyer empties it.
func TestTenBuyersSellOutTheBag(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	watcher, _ := w.join("member")
	var buyers []*client
	for i := range 10 {
		name := "buyer-" + string(rune('a'+i))
		w.addUser(name)
		c, _ := w.join(name)
		buyers = append(buyers, c)
	}
	for _, c := range buyers {
		c.send(map[string]any{"type": "reserve", "id": "bag", "offer_id": w.offer})
	}
	for _, c := range buyers {
		if r := c.next("reservation"); obj(r, "reservation")["state"] != "held" {
			t.Fatalf("reservation = %v", r)
		}
	}
	if f := watcher.until(offerEvent("sold_out", w.offer), "sold_out"); num(f, "available") != 0 {
		t.Fatalf("sold_out = %v", f)
	}
	watcher.sendRefused(map[string]any{"type": "reserve", "id": "eleventh", "offer_id": w.offer}, "sold_out", "eleventh")
}

// A host pins and unpins for every viewer, and ends the show through the
// show service; the room refuses what an ended show no longer allows.
func TestPinAndEnd(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	host, _ := w.join("host")
	viewer, _ := w.join("viewer")
	anon, _ := w.join("")
	brand, _ := w.join("brand")

	host.send(map[string]any{"type": "pin", "offer_id": w.offer})
	for _, c := range []*client{host, viewer, anon, brand} {
		p := c.next("pin")
		o := obj(p, "offer")
		if p["offer_id"] != w.offer.String() || o["id"] != w.offer.String() || num(o, "price_minor") != 220000 || o["currency"] != "EUR" ||
			num(o, "available") != 10 || num(o, "per_customer_limit") != 1 || seqOf(p) == 0 {
			t.Fatalf("pin = %v", p)
		}
	}
	if _, welcome := w.join("member"); obj(welcome, "pinned")["id"] != w.offer.String() {
		t.Fatalf("welcome.pinned = %v", welcome["pinned"])
	}
	host.sendRefused(map[string]any{"type": "pin", "id": "p2", "offer_id": uuid.New()}, "not_found", "pinning an offer of no show")
	// The brand admin unpins.
	brand.send(map[string]any{"type": "pin"})
	if p := viewer.next("pin"); p["offer"] != nil || p["offer_id"] != nil {
		t.Fatalf("unpin = %v", p)
	}
	if _, welcome := w.join("member"); welcome["pinned"] != nil {
		t.Fatalf("welcome.pinned = %v", welcome["pinned"])
	}

	// "end" goes through the show service's rules: a viewer may not.
	viewer.sendRefused(map[string]any{"type": "end", "id": "nope"}, "forbidden", "a viewer ending the show")
	host.send(map[string]any{"type": "end", "id": "end"})
	states := map[*client]map[string]any{}
	for _, c := range []*client{host, viewer, anon, brand} {
		if s := c.next("show_state"); s["state"] != "ended" || seqOf(s) == 0 {
			t.Fatalf("show_state = %v", s)
		} else {
			states[c] = s
		}
	}
	sh, err := w.db.ShowByID(context.Background(), w.show)
	if err != nil || sh.State != show.Ended || sh.EndedAt == nil {
		t.Fatalf("stored show = %v, %v", sh, err)
	}
	// Everyone hears when it really ended, as stored; a later welcome says it too.
	ended := sh.EndedAt.Format(time.RFC3339Nano)
	if at, _ := states[viewer]["at"].(string); at == "" || !sameInstant(at, *sh.EndedAt) {
		t.Fatalf("show_state at %q, stored ended_at %s", at, ended)
	}
	if _, welcome := w.join("member"); obj(welcome, "show")["state"] != "ended" || !sameInstant(str(obj(welcome, "show")["ended_at"]), *sh.EndedAt) {
		t.Fatalf("welcome.show = %v (ended %s)", welcome["show"], ended)
	}
	viewer.sendRefused(map[string]any{"type": "reserve", "id": "late", "offer_id": w.offer}, "conflict", "reserve after the end")
	host.sendRefused(map[string]any{"type": "end", "id": "again"}, "conflict", "ending twice")
}

// The show service's state changes (the media server turning a show live,
// a cancellation) reach every viewer in the room as show_state.
func TestShowStateChangedReachesTheRoom(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	viewer, welcome := w.join("viewer")
	anon, _ := w.join("")
	if obj(welcome, "show")["state"] == "live" {
		t.Fatal("the demo show should not start live in this test")
	}
	wentLive := time.Date(2030, 5, 1, 20, 3, 0, 0, time.UTC)
	w.hub.ShowStateChanged(context.Background(), &show.Show{ID: w.show, State: show.Live, WentLiveAt: &wentLive})
	for _, c := range []*client{viewer, anon} {
		if s := c.next("show_state"); s["state"] != "live" || seqOf(s) == 0 || !sameInstant(str(s["at"]), wentLive) {
			t.Fatalf("show_state = %v", s)
		}
	}
	if _, welcome := w.join("member"); obj(welcome, "show")["state"] != "live" || !sameInstant(str(obj(welcome, "show")["went_live_at"]), wentLive) {
		t.Fatalf("a later welcome says %v", welcome["show"])
	}
}

// TestStockEditsReachTheRoom: a brand admin changing a SKU's stock moves
// the units left of its offers in open rooms, and a restock after a sell-out
// sells again (the gate would otherwise keep saying "sold out").
func TestStockEditsReachTheRoom(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	watcher, _ := w.join("member")
	buyer, _ := w.join("viewer")
	o, err := w.db.OfferByID(t.Context(), w.offer)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	admin := w.users["brand"]
	w.mu.Unlock()

	one := 1
	if _, err := w.shop.UpdateSKU(t.Context(), admin, o.SKUID, checkout.SKUPatch{OnHand: &one}); err != nil {
		t.Fatal(err)
	}
	if f := watcher.until(offerEvent("stock", w.offer), "the stock after the recount"); num(f, "available") != 1 {
		t.Fatalf("stock after on_hand = 1: %v", f)
	}
	buyer.send(map[string]any{"type": "reserve", "id": "last", "offer_id": w.offer})
	buyer.next("reservation")
	watcher.until(offerEvent("sold_out", w.offer), "sold out")

	four := 4
	if _, err := w.shop.UpdateSKU(t.Context(), admin, o.SKUID, checkout.SKUPatch{OnHandDelta: &four}); err != nil {
		t.Fatal(err)
	}
	if f := watcher.until(offerEvent("stock", w.offer), "the stock after the restock"); num(f, "available") != 4 {
		t.Fatalf("stock after a restock of 4: %v", f)
	}
	watcher.send(map[string]any{"type": "reserve", "id": "restocked", "offer_id": w.offer})
	if r := watcher.next("reservation"); obj(r, "reservation")["state"] != "held" {
		t.Fatalf("a reservation after the restock = %v", r)
	}

	// Only the brand's admins change its stock.
	w.mu.Lock()
	host := w.users["host"]
	w.mu.Unlock()
	if _, err := w.shop.UpdateSKU(t.Context(), host, o.SKUID, checkout.SKUPatch{OnHandDelta: &four}); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a host changing stock: %v; want forbidden", err)
	}
}

// str is v as a string, "" when it is none.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// sameInstant reports whether the RFC 3339 time s is t.
func sameInstant(s string, t time.Time) bool {
	got, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && got.Equal(t)
}
