package chat_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
	"github.com/pavilion-live/pavilion/internal/show"
)

// The live moment holds across nodes and restarts: what a late joiner's
// welcome shows does not depend on which node's room heard the events.

func TestPinReachesColdRoomsMemoryBus(t *testing.T) {
	bus := memory.NewBus()
	testPinReachesColdRooms(t, newWorld(t, bus), func(w *world) *world { return w.node(bus) })
}

func TestPinReachesColdRoomsRedisBus(t *testing.T) {
	open := redisBuses(t)
	testPinReachesColdRooms(t, newWorld(t, open()), func(w *world) *world { return w.node(open()) })
}

// pinnedIn returns the welcome's pinned offer ID, "" when nothing is pinned.
func pinnedIn(welcome map[string]any) string {
	p, _ := welcome["pinned"].(map[string]any)
	if p == nil {
		return ""
	}
	id, _ := p["id"].(string)
	return id
}

func testPinReachesColdRooms(t *testing.T, a *world, another func(*world) *world) {
	host, _ := a.join("host")
	b := another(a) // no room open there yet

	host.send(map[string]any{"type": "pin", "offer_id": a.offer})
	host.next("pin")
	onB, welcome := b.join("viewer")
	if pinnedIn(welcome) != a.offer.String() {
		t.Fatalf("a cold room on another node welcomes with pinned %v, want %s", welcome["pinned"], a.offer)
	}

	// A node that starts after the pin (a restart) opens its room with it,
	// and with the offer's state of now.
	carre := demo.Offers(time.Time{})[1].ID
	if err := a.hub.Pin(context.Background(), a.users["host"], a.show, carre); err != nil {
		t.Fatal(err)
	}
	host.until(func(f map[string]any) bool { return f["type"] == "pin" && f["offer_id"] == carre.String() }, "the HTTP pin")
	restarted := another(a)
	_, welcome = restarted.join("member")
	if pinnedIn(welcome) != carre.String() {
		t.Fatalf("a restarted node welcomes with pinned %v, want %s", welcome["pinned"], carre)
	}
	if p := obj(welcome, "pinned"); num(p, "available") != 50 {
		t.Fatalf("pinned offer = %v", p)
	}

	// Unpinning holds for rooms that open later too.
	host.send(map[string]any{"type": "pin"})
	host.next("pin")
	if _, welcome := another(a).join("viewer"); welcome["pinned"] != nil {
		t.Fatalf("after unpinning, a cold room welcomes with pinned %v", welcome["pinned"])
	}

	// The show ending unpins: every room, open or not yet, shows nothing
	// pinned, and nothing more can be pinned.
	host.send(map[string]any{"type": "pin", "offer_id": a.offer})
	host.next("pin")
	shows := &show.Service{Store: a.db, Holds: a.shop, Notifier: a.hub}
	if _, err := shows.GoLive(context.Background(), a.show); err != nil {
		t.Fatal(err)
	}
	if _, err := shows.End(context.Background(), a.show); err != nil {
		t.Fatal(err)
	}
	ended := func(f map[string]any) bool { return f["type"] == "show_state" && f["state"] == "ended" }
	host.until(ended, "the end")
	onB.until(ended, "the end on B") // B's room has applied it
	for name, w := range map[string]*world{"an open room": b, "a cold room": another(a)} {
		if _, welcome := w.join("viewer"); welcome["pinned"] != nil {
			t.Fatalf("%s welcomes an ended show with pinned %v", name, welcome["pinned"])
		}
	}
	host.sendRefused(map[string]any{"type": "pin", "id": "late", "offer_id": a.offer}, "conflict", "pinning in an ended show")
}

// offerIn returns the welcome's copy of an offer.
func offerIn(t *testing.T, welcome map[string]any, id uuid.UUID) map[string]any {
	t.Helper()
	for _, o := range welcome["offers"].([]any) {
		if o := o.(map[string]any); o["id"] == id.String() {
			return o
		}
	}
	t.Fatalf("welcome has no offer %s: %v", id, welcome["offers"])
	return nil
}

// drawIn returns the welcome's draw on an offer, nil when it has none.
func drawIn(welcome map[string]any, offer uuid.UUID) map[string]any {
	list, _ := welcome["draws"].([]any)
	for _, d := range list {
		if d := d.(map[string]any); d["offer_id"] == offer.String() {
			return d
		}
	}
	return nil
}

// A flash drop and a fair draw opened while a node had no room open are in
// its room's welcome when a viewer comes: the drop's window, the draw's
// commitment and close time, and the draw's result once drawn.
func TestLateJoinerSeesDropsAndDraws(t *testing.T) {
	bus := memory.NewBus()
	a := newWorld(t, bus)
	ctx := context.Background()
	offers, err := a.db.OffersByShow(ctx, a.show)
	if err != nil {
		t.Fatal(err)
	}
	drop := &checkout.Offer{ID: uuid.New(), ShowID: a.show, SKUID: offers[1].SKUID, PriceMinor: 30000, Currency: "EUR",
		Allocated: 5, Drop: true, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := a.db.CreateOffer(ctx, drop); err != nil {
		t.Fatal(err)
	}
	host, _ := a.join("host")
	host.send(map[string]any{"type": "drop", "id": "d1", "offer_id": drop.ID, "action": "open", "seconds": 600})
	set := host.next("drop_set")
	drawOffer := demo.Offers(time.Time{})[2].ID
	rec, err := a.draws.Open(ctx, a.users["host"], a.show, checkout.OpenDrawRequest{OfferID: drawOffer, Seconds: 600, Units: 2})
	if err != nil {
		t.Fatal(err)
	}
	host.until(func(f map[string]any) bool { return f["type"] == "draw" && f["state"] == "open" }, "the draw")

	_, welcome := a.node(bus).join("viewer")
	o := offerIn(t, welcome, drop.ID)
	if o["drop"] != true || o["drop_opens_at"] != set["drop_opens_at"] || o["drop_closes_at"] != set["drop_closes_at"] {
		t.Fatalf("a cold room's welcome shows the drop as %v; it was set to %v", o, set)
	}
	opens, _ := time.Parse(time.RFC3339Nano, o["drop_opens_at"].(string))
	closes, _ := time.Parse(time.RFC3339Nano, o["drop_closes_at"].(string))
	now, _ := time.Parse(time.RFC3339Nano, welcome["server_time"].(string))
	if now.Before(opens) || !now.Before(closes) {
		t.Fatalf("the drop is not open at the welcome's server_time %v: %v – %v", now, opens, closes)
	}
	d := drawIn(welcome, drawOffer)
	if d == nil || d["id"] != rec.ID.String() || d["state"] != "open" || d["commitment"] != rec.Commitment ||
		d["closes_at"] != rec.ClosesAt.Format(time.RFC3339Nano) || d["seed"] != nil || d["entries"] != nil {
		t.Fatalf("a cold room's welcome shows the draw as %v; it opened as %+v", d, rec)
	}

	// Drawn: a room open meanwhile and a cold one both show the result.
	open := a.node(bus)
	open.join("member")
	entry, err := a.draws.Enter(ctx, a.users["viewer"], a.show, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	drawn, err := a.draws.Close(ctx, a.users["host"], a.show, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	host.until(func(f map[string]any) bool { return f["type"] == "draw" && f["state"] == "drawn" }, "the result")
	for name, w := range map[string]*world{"an open room": open, "a cold room": a.node(bus)} {
		var d map[string]any
		// The open room hears the result through the bus: wait for it.
		deadline := time.Now().Add(wait)
		for {
			_, welcome := w.join("viewer")
			if d = drawIn(welcome, drawOffer); d != nil && d["state"] == "drawn" || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		winners, _ := d["winners"].([]any)
		if d["state"] != "drawn" || d["seed"] != drawn.Seed || len(winners) != 1 || winners[0] != entry.ID.String() || d["entries"] != nil {
			t.Fatalf("%s's welcome shows the drawn draw as %v; want seed %s and winner %s", name, d, drawn.Seed, entry.ID)
		}
	}
}

func TestOrderReachesBuyerOnEveryNodeMemoryBus(t *testing.T) {
	onTwoNodes(t, memoryBuses(), testOrderReachesBuyerOnEveryNode)
}

func TestOrderReachesBuyerOnEveryNodeRedisBus(t *testing.T) {
	onTwoNodes(t, redisBuses(t), testOrderReachesBuyerOnEveryNode)
}

// A buyer's order frames reach their sockets on every node, once each,
// whichever node placed the order; nobody else's socket gets them, and
// they are not room events (no seq, not in a welcome or a replay).
func testOrderReachesBuyerOnEveryNode(t *testing.T, a, b *world) {
	ctx := context.Background()
	onA, _ := a.join("viewer")
	onB, _ := b.join("viewer")
	other, _ := b.join("member")
	otherA, _ := a.join("member")
	onA.send(map[string]any{"type": "reserve", "id": "r1", "offer_id": a.offer})
	res := obj(onA.next("reservation"), "reservation")
	order, _, err := a.shop.PlaceOrder(ctx, a.users["viewer"], checkout.OrderRequest{ReservationID: uuid.MustParse(res["id"].(string)),
		Shipping:     checkout.Shipping{Name: "Vic Viewer", Line1: "1 Rue de la Paix", City: "Paris", PostalCode: "75002", Country: "FR"},
		PaymentToken: testpay.TokenSuccess})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client{"the buyer on the ordering node": onA, "the buyer on another node": onB} {
		f := c.next("order")
		if o := obj(f, "order"); o["id"] != order.ID.String() || o["state"] != "paid" || f["seq"] != nil {
			t.Fatalf("%s got %v", name, f)
		}
	}
	// A marker after the order: everyone has had what came before it.
	host, _ := a.join("host")
	host.send(map[string]any{"type": "chat", "text": "marker"})
	for name, c := range map[string]*client{"another viewer on A": otherA, "another viewer on B": other, "the buyer on A": onA, "the buyer on B": onB} {
		for {
			f, _, err := c.read(wait)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if f["type"] == "order" {
				t.Fatalf("%s got an order frame: %v", name, f)
			}
			if f["type"] == "chat" && f["text"] == "marker" {
				break
			}
		}
	}
	// Not a room event: a later welcome has nothing of it.
	for _, w := range []*world{a, b} {
		c, _, err := w.dial("viewer", "")
		if err != nil {
			t.Fatal(err)
		}
		f, raw, err := c.read(wait)
		if err != nil || f["type"] != "welcome" {
			t.Fatalf("welcome: %v %v", f, err)
		}
		if strings.Contains(string(raw), order.ID.String()) {
			t.Fatalf("a welcome carries the order: %s", raw)
		}
	}
}
