package chat_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/replay"
)

// Pins, unpins and drop openings land on the show's replay timeline at the
// time they were announced; a refused pin leaves no mark.
func TestTimelineMarks(t *testing.T) {
	w := newWorld(t, memory.NewBus(), func(c *nodeConfig) { c.setup = func(w *world) { w.hub.Timeline = w.db } })
	host, _ := w.join("host")
	before := time.Now().UTC()
	host.send(map[string]any{"type": "pin", "offer_id": w.offer})
	host.next("pin")
	host.send(map[string]any{"type": "pin", "id": "bad", "offer_id": uuid.New()})
	host.errorFor("bad")
	if _, err := w.shop.SetDrop(context.Background(), w.users["host"], w.offer, "open", 60); err != nil {
		t.Fatal(err)
	}
	host.until(func(f map[string]any) bool { return f["type"] == "drop" && f["state"] == "open" }, "drop")
	host.send(map[string]any{"type": "pin"})
	host.next("pin")
	after := time.Now().UTC().Add(time.Second)

	// A mark is written once its event is out: the last one may still be on its way.
	var marks []replay.Mark
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if marks, err = w.db.Marks(context.Background(), w.show); err != nil {
			t.Fatal(err)
		}
		if len(marks) >= 3 || time.Now().After(deadline) {
			break
		}
	}
	want := []struct {
		typ   string
		offer uuid.UUID
	}{{replay.MarkPin, w.offer}, {replay.MarkDrop, w.offer}, {replay.MarkUnpin, uuid.Nil}}
	if len(marks) != len(want) {
		t.Fatalf("marks %+v", marks)
	}
	for i, m := range marks {
		if m.Type != want[i].typ || m.OfferID != want[i].offer || m.At.Before(before.Truncate(time.Microsecond)) || m.At.After(after) {
			t.Errorf("mark %d = %+v, want %+v between %v and %v", i, m, want[i], before, after)
		}
	}
}

// The stage's changes (the guest joining, a layout switch, the guest
// leaving) land on the replay timeline too, each with the layout from then
// on, once each (a second word of the guest's leaving adds nothing).
func TestTimelineStageMarks(t *testing.T) {
	w := newWorld(t, memory.NewBus(), func(c *nodeConfig) { c.setup = func(w *world) { w.hub.Timeline = w.db } })
	ctx := context.Background()
	svc := &cohost.Service{Store: w.db.Cohosts(), Shows: w.db, Notifier: w.hub}
	host := w.users["host"]
	g, invite, err := svc.Invite(ctx, host, w.show, "Ana")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Redeem(ctx, w.show, invite); err != nil {
		t.Fatal(err)
	}
	svc.GuestLive(ctx, w.show)
	if _, err := svc.SetLayout(ctx, host, w.show, cohost.GuestFull); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Remove(ctx, host, w.show, g.ID); err != nil {
		t.Fatal(err)
	}
	svc.GuestGone(ctx, w.show)
	marks, err := w.db.Marks(ctx, w.show)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range marks {
		got = append(got, m.Type+" "+m.Layout)
	}
	want := []string{"guest_joined side-by-side", "layout guest-full", "guest_left guest-full"}
	if !slices.Equal(got, want) {
		t.Fatalf("marks %v, want %v", got, want)
	}
}
