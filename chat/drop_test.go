package chat_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// TestFlashDropOverTheSocket: the host opens a drop from the socket, every
// viewer sees it open with the server's deadline, buying works only inside it.
func TestFlashDropOverTheSocket(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	ctx := context.Background()
	offers, err := w.db.OffersByShow(ctx, w.show)
	if err != nil {
		t.Fatal(err)
	}
	drop := &checkout.Offer{ID: uuid.New(), ShowID: w.show, SKUID: offers[1].SKUID, PriceMinor: 30000, Currency: "EUR",
		Allocated: 5, Drop: true, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := w.db.CreateOffer(ctx, drop); err != nil {
		t.Fatal(err)
	}
	host, _ := w.join("host")
	viewer, welcome := w.join("viewer")
	found := false
	for _, o := range welcome["offers"].([]any) {
		o := o.(map[string]any)
		if o["id"] == drop.ID.String() {
			found = o["drop"] == true && o["drop_closes_at"] == nil
		}
	}
	if !found {
		t.Fatalf("welcome does not show the closed drop: %v", welcome["offers"])
	}
	viewer.send(map[string]any{"type": "reserve", "id": "early", "offer_id": drop.ID})
	if e := viewer.next("error"); e["code"] != "drop_closed" {
		t.Fatalf("reserve before the drop: %v", e)
	}
	viewer.send(map[string]any{"type": "drop", "id": "d1", "offer_id": drop.ID, "action": "open", "seconds": 30})
	if e := viewer.next("error"); e["code"] != "forbidden" {
		t.Fatalf("a viewer opening a drop: %v", e)
	}
	host.send(map[string]any{"type": "drop", "id": "d1", "offer_id": drop.ID, "action": "open", "seconds": 30})
	host.next("drop_set")
	ev := viewer.next("drop")
	if ev["state"] != "open" || ev["closes_at"] == nil || ev["server_time"] == nil || ev["seq"] == nil {
		t.Fatalf("drop event = %v", ev)
	}
	viewer.send(map[string]any{"type": "reserve", "id": "in-time", "offer_id": drop.ID})
	if r := viewer.next("reservation"); r["id"] != "in-time" {
		t.Fatalf("reserve in the drop: %v", r)
	}
	host.send(map[string]any{"type": "drop", "id": "d2", "offer_id": drop.ID, "action": "close"})
	if ev := viewer.next("drop"); ev["state"] != "closed" {
		t.Fatalf("closing event = %v", ev)
	}
	member, _ := w.join("member")
	member.send(map[string]any{"type": "reserve", "id": "late", "offer_id": drop.ID})
	if e := member.next("error"); e["code"] != "drop_closed" {
		t.Fatalf("reserve after the drop: %v", e)
	}
}
