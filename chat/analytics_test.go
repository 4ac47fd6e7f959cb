package chat_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
)

// dialHeader connects to w's room with extra request headers.
func (w *world) dialHeader(h http.Header) (*client, *http.Response) {
	w.t.Helper()
	ws, res, err := websocket.DefaultDialer.Dial(w.url(""), h)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { ws.Close() })
	c := &client{t: w.t, ws: ws, record: w.record}
	c.next("welcome")
	return c, res
}

// waitEmpty waits until the node's hub has let every connection go (its
// leave hooks have run).
func (w *world) waitEmpty() {
	w.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if _, conns := w.hub.Rooms(); conns == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatal("connections still open")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A show on two nodes, through the websocket: the hooks feed the recorders,
// and the figures read back are what happened.
func TestAnalyticsHooks(t *testing.T) {
	ctx := context.Background()
	bus := memory.NewBus()
	recA, recB := &analytics.Recorder{Node: "a"}, &analytics.Recorder{Node: "b"}
	a := newWorld(t, bus, withAnalytics(recA))
	b := a.node(bus, withAnalytics(recB))
	recA.Store, recB.Store = a.db, a.db

	viewer, _ := a.join("viewer")
	member, _ := b.join("member")
	// An anonymous viewer gets a visitor cookie, and keeps counting as one
	// viewer when it comes back with it, on the other node.
	anon, res := a.dialHeader(http.Header{})
	cookie := res.Header.Get("Set-Cookie")
	if !strings.HasPrefix(cookie, chat.VisitorCookie+"=") || !strings.Contains(cookie, "HttpOnly") {
		t.Fatalf("Set-Cookie on an anonymous upgrade = %q", cookie)
	}
	name, value, _ := strings.Cut(strings.Split(cookie, ";")[0], "=")
	anon.ws.Close()
	anon, res = b.dialHeader(http.Header{"Cookie": {name + "=" + value}})
	if got := res.Header.Get("Set-Cookie"); got != "" {
		t.Fatalf("a returning visitor got a new cookie: %q", got)
	}
	odd, r2 := a.dialHeader(http.Header{"Cookie": {name + "=short"}})
	if r2.Header.Get("Set-Cookie") == "" {
		t.Fatal("an unusable visitor cookie was kept")
	}
	odd.ws.Close()

	viewer.send(map[string]any{"type": "chat", "text": "hello"})
	viewer.next("chat")
	viewer.send(map[string]any{"type": "react", "emoji": "fire"})
	viewer.send(map[string]any{"type": "tap", "offer_id": a.offer})
	anon.send(map[string]any{"type": "tap", "offer_id": a.offer})
	member.sendRefused(map[string]any{"type": "tap", "id": "t", "offer_id": uuid.New()}, "not_found", "tap on an offer of no show")
	anon.sendRefused(map[string]any{"type": "tap", "id": "bad"}, "invalid", "tap without offer_id")
	viewer.send(map[string]any{"type": "reserve", "id": "r1", "offer_id": a.offer})
	res1 := obj(viewer.next("reservation"), "reservation")
	a.mu.Lock()
	buyer := a.users["viewer"]
	a.mu.Unlock()
	if _, _, err := a.shop.PlaceOrder(ctx, buyer, checkout.OrderRequest{ReservationID: uuid.MustParse(res1["id"].(string)),
		Shipping:     checkout.Shipping{Name: "Vic Viewer", Line1: "1 Rue de la Paix", City: "Paris", PostalCode: "75002", Country: "FR"},
		PaymentToken: testpay.TokenSuccess}); err != nil {
		t.Fatal(err)
	}
	viewer.next("order")

	for _, c := range []*client{viewer, member, anon} {
		c.ws.Close()
	}
	a.waitEmpty()
	b.waitEmpty()
	for _, r := range []*analytics.Recorder{recA, recB} {
		if err := r.Flush(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	st, err := recA.Stats(ctx, a.show)
	if err != nil {
		t.Fatal(err)
	}
	// Joins: viewer, member, the visitor twice, the bad-cookie visitor.
	if st.Joins != 5 || st.UniqueViewers != 4 || st.ChatMessages != 1 || st.Reactions != 1 || st.CardTaps != 2 ||
		st.Reservations != 1 || st.Orders != 1 || st.Buyers != 1 || st.ViewerBuyers != 1 || st.Conversion != 0.25 {
		t.Fatalf("stats = %+v", st)
	}
	var bagTaps int64
	for _, o := range st.Offers {
		if o.OfferID == a.offer {
			bagTaps = o.CardTaps
		}
	}
	if bagTaps != 2 {
		t.Fatalf("taps on the bag = %d, want 2 (offers %+v)", bagTaps, st.Offers)
	}
}

// A card tapped while its offer is sold out is a buyer turned away: the
// live room counts it as a lost intent (the player's buy button is disabled
// then, so the tap is the only sign). While the offer sells, a tap is only
// a tap.
func TestTapOnSoldOutCountsLostIntent(t *testing.T) {
	ctx := context.Background()
	rec := &analytics.Recorder{Node: "a"}
	w := newWorld(t, memory.NewBus(), withAnalytics(rec))
	rec.Store = w.db
	v, _ := w.join("viewer")
	v.send(map[string]any{"type": "tap", "offer_id": w.offer})
	o, err := w.db.OfferByID(ctx, w.offer)
	if err != nil {
		t.Fatal(err)
	}
	zero := 0
	if _, err := w.shop.UpdateSKU(ctx, w.users["brand"], o.SKUID, checkout.SKUPatch{OnHand: &zero}); err != nil {
		t.Fatal(err)
	}
	v.until(func(f map[string]any) bool {
		return (f["type"] == "stock" || f["type"] == "sold_out") && f["offer_id"] == w.offer.String() && (f["available"] == 0.0 || f["type"] == "sold_out")
	}, "the offer sold out")
	v.send(map[string]any{"type": "tap", "offer_id": w.offer})
	v.send(map[string]any{"type": "tap", "offer_id": w.offer})
	// A chat line after the taps: the room has handled them when it comes back.
	v.send(map[string]any{"type": "chat", "text": "sold out already?"})
	v.next("chat")
	if err := rec.Flush(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	lost, err := w.db.LostIntents(ctx, []uuid.UUID{w.show})
	if err != nil {
		t.Fatal(err)
	}
	if len(lost) != 1 || lost[0].Cause != checkout.LostSoldOut || lost[0].N != 2 || lost[0].OfferID != w.offer {
		t.Fatalf("lost intents = %+v, want the two taps after the sell-out", lost)
	}
}

// A viewer at their own per-customer limit finds the buy button disabled
// and taps the card: checkout's gate says they are at the limit, and the tap
// is a lost intent "limit reached". Another viewer's tap on the same card,
// still free to buy, is not.
func TestTapAtOwnLimitCountsLostIntent(t *testing.T) {
	ctx := context.Background()
	rec := &analytics.Recorder{Node: "a"}
	w := newWorld(t, memory.NewBus(), withAnalytics(rec))
	rec.Store = w.db
	w.shop.Intents = rec
	buyer, _ := w.join("viewer") // the bag: one per customer
	other, _ := w.join("member")
	other.send(map[string]any{"type": "tap", "offer_id": w.offer})
	buyer.send(map[string]any{"type": "reserve", "id": "bag-1", "offer_id": w.offer})
	buyer.next("reservation")
	buyer.send(map[string]any{"type": "tap", "offer_id": w.offer})
	buyer.send(map[string]any{"type": "tap", "offer_id": w.offer})
	other.send(map[string]any{"type": "tap", "offer_id": w.offer})
	// A chat line after the taps: each room has handled them when it comes back.
	buyer.send(map[string]any{"type": "chat", "text": "one is enough"})
	buyer.next("chat")
	other.send(map[string]any{"type": "chat", "text": "still thinking"})
	other.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == "still thinking" }, "own chat line")
	if err := rec.Flush(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	lost, err := w.db.LostIntents(ctx, []uuid.UUID{w.show})
	if err != nil {
		t.Fatal(err)
	}
	if len(lost) != 1 || lost[0].Cause != checkout.LostLimitReached || lost[0].N != 2 || lost[0].OfferID != w.offer {
		t.Fatalf("lost intents = %+v, want the buyer's two taps at their limit", lost)
	}
}
