package chat_test

import (
	"context"
	"testing"

	"github.com/pavilion-live/pavilion/internal/cohost"
)

// TestStageReachesEveryNode: a guest joining, the host's layout switch and
// the guest leaving reach the viewers of every node, under one numbering,
// as the stage after each change; the schema accepts the frames.
func TestStageReachesEveryNode(t *testing.T) {
	t.Run("memory", func(t *testing.T) { onTwoNodes(t, memoryBuses(), testStageOnTwoNodes) })
	t.Run("redis", func(t *testing.T) { onTwoNodes(t, redisBuses(t), testStageOnTwoNodes) })
}

func testStageOnTwoNodes(t *testing.T, a, b *world) {
	ctx := context.Background()
	v := newValidator(t, loadSchema(t))
	onA, _ := a.join("viewer")
	onB, _ := b.join("member")
	// The service on node A, its live room the notifier; the host runs it.
	svc := &cohost.Service{Store: a.db.Cohosts(), Shows: a.db, Notifier: a.hub}
	host := a.users["host"]
	g, invite, err := svc.Invite(ctx, host, a.show, "Ana (atelier)")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Redeem(ctx, a.show, invite); err != nil {
		t.Fatal(err)
	}

	check := func(change, layout string, guest bool) {
		t.Helper()
		fa, fb := onA.next("stage"), onB.next("stage")
		if seqOf(fa) != seqOf(fb) || fa["change"] != change || fb["change"] != change {
			t.Fatalf("%s: A saw %v, B saw %v", change, fa, fb)
		}
		for _, f := range []map[string]any{fa, fb} {
			st := obj(f, "stage")
			if st["layout"] != layout || st["show_id"] != a.show.String() || (st["guest_id"] != nil) != guest {
				t.Fatalf("%s: stage %v", change, st)
			}
			if guest && (st["guest_id"] != g.ID.String() || st["guest_name"] != "Ana (atelier)") {
				t.Fatalf("%s: guest on stage %v", change, st)
			}
			if errs := v.validate("#/$defs/ServerFrame", f); len(errs) > 0 {
				t.Fatalf("the schema refuses %v: %v", f, errs)
			}
		}
	}
	svc.GuestLive(ctx, a.show) // what the media server says as the guest publishes
	check(cohost.ChangeJoined, cohost.SideBySide, true)
	if _, err := svc.SetLayout(ctx, host, a.show, cohost.PiP); err != nil {
		t.Fatal(err)
	}
	check(cohost.ChangeLayout, cohost.PiP, true)
	if _, err := svc.Remove(ctx, host, a.show, g.ID); err != nil {
		t.Fatal(err)
	}
	check(cohost.ChangeLeft, cohost.PiP, false)
	// The media server's word that the feed ended after the removal
	// changes nothing more: no second "left".
	svc.GuestGone(ctx, a.show)
	onB.send(map[string]any{"type": "chat", "text": "after the stage"})
	if f := onB.until(func(f map[string]any) bool { return f["type"] == "stage" || f["type"] == "chat" }, "the chat line"); f["type"] != "chat" {
		t.Fatalf("a second stage event: %v", f)
	}
}
