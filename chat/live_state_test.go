package chat_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/show"
)

// A host taken off a show (an edit through the show service on node A)
// loses every host power at once, on open sockets and new ones, on both
// nodes; a show switched to members-only lets its other viewers go.
func TestShowEditsReachEveryNodeMemoryBus(t *testing.T) { onTwoNodes(t, memoryBuses(), testShowEdits) }

func TestShowEditsReachEveryNodeRedisBus(t *testing.T) { onTwoNodes(t, redisBuses(t), testShowEdits) }

func testShowEdits(t *testing.T, a, b *world) {
	ctx := context.Background()
	svc := &show.Service{Store: a.db, Notifier: a.hub} // the edit is made on node A
	drop := a.createDrop()
	hostA, welcome := a.join("host")
	hostB, _ := b.join("host")
	viewerA, _ := a.join("viewer")
	viewerB, _ := b.join("viewer")
	if obj(welcome, "you")["can_moderate"] != true {
		t.Fatalf("the host's welcome: %v", welcome["you"])
	}

	sh, err := a.db.ShowByID(ctx, a.show)
	if err != nil {
		t.Fatal(err)
	}
	sh.HostIDs = []uuid.UUID{}
	if err := svc.Update(ctx, sh); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client{"A": hostA, "B": hostB} {
		// Every privileged frame, at once (no waiting for the show event).
		for i, f := range []map[string]any{ // nine frames
			{"type": "pin", "offer_id": a.offer},
			{"type": "pin"},
			{"type": "moderate", "action": "slow", "seconds": 30},
			{"type": "moderate", "action": "words", "words": []string{"x"}},
			{"type": "moderate", "action": "ban", "user_id": a.userID("viewer")},
			{"type": "moderate", "action": "mute", "user_id": a.userID("viewer"), "seconds": 60},
			{"type": "moderate", "action": "delete", "seq": 1},
			{"type": "drop", "offer_id": drop, "action": "open", "seconds": 60},
			{"type": "end"},
		} {
			f["id"] = name + string(rune('a'+i))
			c.send(f)
		}
		// Each is refused, and the room hears of the edit (in any order).
		refused, heard := 0, false
		c.until(func(f map[string]any) bool {
			switch f["type"] {
			case "error":
				refused++
				if f["code"] != "forbidden" {
					t.Errorf("removed host on %s: %v", name, f)
				}
			case "show":
				heard = true
				if len(obj(f, "show")["host_ids"].([]any)) != 0 {
					t.Errorf("show event on %s = %v", name, f)
				}
			case "pin", "moderation", "drop", "show_state":
				t.Errorf("the removed host's frame went through on %s: %v", name, f)
			}
			return refused == 9 && heard
		}, "nine refusals and the show event")
	}
	// New sockets on either node: no moderation tools, no powers.
	for name, w := range map[string]*world{"A": a, "B": b} {
		c, welcome := w.join("host")
		if obj(welcome, "you")["can_moderate"] != false || len(obj(welcome, "show")["host_ids"].([]any)) != 0 {
			t.Errorf("a new socket of the removed host on %s: %v %v", name, welcome["you"], welcome["show"])
		}
		c.send(map[string]any{"type": "pin", "id": "p", "offer_id": a.offer})
		if e := c.errorFor("p"); e["code"] != "forbidden" {
			t.Errorf("removed host's new socket on %s: %v", name, e)
		}
	}
	// Nothing the removed host sent happened; the brand admin still runs the show.
	brand, _ := b.join("brand")
	brand.send(map[string]any{"type": "moderate", "action": "slow", "seconds": 5})
	if ev := viewerA.next("moderation"); ev["action"] != "slow" {
		t.Fatalf("the first moderation after the edit = %v", ev)
	}
	if st, _ := a.db.ShowByID(ctx, a.show); st.State == show.Ended {
		t.Fatal("the removed host ended the show")
	}

	// Members-only: the viewer's open sockets close on both nodes, new ones are refused.
	sh, _ = a.db.ShowByID(ctx, a.show)
	sh.Visibility = show.Members
	if err := svc.Update(ctx, sh); err != nil {
		t.Fatal(err)
	}
	viewerA.expectClose(chat.CloseHidden)
	viewerB.expectClose(chat.CloseHidden)
	a.refused("viewer", "", 404)
	b.refused("viewer", "", 404)
	b.join("member")
}

// A viewer who opens the player after the pin sees the offer as it is now:
// its stock and drop window, in the pinned card and in the list alike; an
// older copy (a pin read before a sale, numbered after it) changes nothing.
func TestLateJoinerSeesTheLiveOffer(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	ctx := context.Background()
	drop := w.createDropOf(5)
	host, _ := w.join("host")
	early, _ := w.join("member")
	host.send(map[string]any{"type": "pin", "offer_id": drop})
	pin := early.next("pin")
	pinned := obj(pin, "offer")
	if num(pinned, "available") != 5 || pinned["drop_opens_at"] != nil || pinned["as_of"] == nil {
		t.Fatalf("pin = %v", pin)
	}
	host.send(map[string]any{"type": "drop", "id": "d", "offer_id": drop, "action": "open", "seconds": 60})
	host.next("drop_set")
	early.until(offerEvent("drop", drop), "the drop opening")
	buyer, _ := w.join("viewer")
	buyer.send(map[string]any{"type": "reserve", "id": "r", "offer_id": drop})
	buyer.next("reservation")
	stock := early.until(offerEvent("stock", drop), "the stock event")
	if num(stock, "available") != 4 || num(obj(stock, "offer"), "available") != 4 {
		t.Fatalf("stock = %v", stock)
	}

	// A stale copy of the offer (read before the sale) arrives last.
	stale := map[string]any{}
	for k, v := range pinned {
		stale[k] = v
	}
	stale["as_of"] = time.Now().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(map[string]any{"type": "pin", "offer_id": drop, "offer": stale})
	if _, _, err := w.hub.Bus.Append(ctx, "room:"+w.show.String(), b); err != nil {
		t.Fatal(err)
	}
	early.next("pin")

	_, late := w.join("")
	p := obj(late, "pinned")
	if p["id"] != drop.String() || num(p, "available") != 4 || p["drop_opens_at"] == nil || p["drop_closes_at"] == nil {
		t.Fatalf("a late joiner's pinned offer = %v", p)
	}
	for _, o := range late["offers"].([]any) {
		if o := o.(map[string]any); o["id"] == drop.String() && (num(o, "available") != 4 || o["drop_closes_at"] != p["drop_closes_at"]) {
			t.Fatalf("offers and pinned disagree: %v and %v", o, p)
		}
	}

	// The drop closes: a later joiner sees it closed, not open.
	host.send(map[string]any{"type": "drop", "id": "c", "offer_id": drop, "action": "close"})
	host.next("drop_set")
	early.until(func(f map[string]any) bool { return f["type"] == "drop" && f["state"] == "closed" }, "the drop closing")
	_, later := w.join("")
	closes, err := time.Parse(time.RFC3339Nano, obj(later, "pinned")["drop_closes_at"].(string))
	if err != nil || closes.After(time.Now()) {
		t.Fatalf("after the close, the pinned offer = %v", later["pinned"])
	}
}

// An offer added to the show while its room is open reaches the room at
// once (through checkout.Service.AddOffer, as the HTTP route does).
func TestAddedOfferReachesTheRoom(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	viewer, _ := w.join("viewer")
	bag, _ := w.db.OfferByID(context.Background(), w.offer)
	o, err := w.shop.AddOffer(context.Background(), w.users["brand"], checkout.NewOffer{ShowID: w.show, SKUID: bag.SKUID, PriceMinor: 123400, Allocated: 2})
	if err != nil {
		t.Fatal(err)
	}
	ev := viewer.until(offerEvent("stock", o.ID), "the new offer")
	if num(obj(ev, "offer"), "price_minor") != 123400 {
		t.Fatalf("new offer event = %v", ev)
	}
	_, late := w.join("")
	found := false
	for _, x := range late["offers"].([]any) {
		found = found || x.(map[string]any)["id"] == o.ID.String()
	}
	if !found {
		t.Fatalf("a later welcome lacks the new offer: %v", late["offers"])
	}
}

// A host moderates members and viewers only; brand admins hosts too;
// platform admins anyone.
func TestModerationHierarchy(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	w.addUser("admin", account.RoleViewer, account.RoleAdmin)
	w.addUser("cohost", account.RoleViewer, account.RoleHost)
	ctx := context.Background()
	sh, _ := w.db.ShowByID(ctx, w.show)
	sh.HostIDs = append(sh.HostIDs, w.userID("cohost"))
	if err := (&show.Service{Store: w.db, Notifier: w.hub}).Update(ctx, sh); err != nil {
		t.Fatal(err)
	}
	host, _ := w.join("host")
	for _, target := range []string{"brand", "admin", "cohost"} {
		for _, action := range []string{"ban", "mute", "unban", "unmute"} {
			id := action + "-" + target
			f := map[string]any{"type": "moderate", "id": id, "action": action, "user_id": w.userID(target)}
			if action == "mute" {
				f["seconds"] = 60
			}
			host.send(f)
			if e := host.errorFor(id); e["code"] != "forbidden" {
				t.Errorf("host %s %s: %v", action, target, e)
			}
		}
	}
	// Nobody was banned: the brand admin and the admin still get in.
	w.join("brand")
	w.join("admin")
	host.send(map[string]any{"type": "moderate", "id": "ghost", "action": "ban", "user_id": uuid.New()})
	if e := host.errorFor("ghost"); e["code"] != "not_found" {
		t.Errorf("banning nobody: %v", e)
	}

	// A host still bans a viewer.
	viewer, _ := w.join("viewer")
	host.send(map[string]any{"type": "moderate", "action": "ban", "user_id": w.userID("viewer")})
	viewer.expectClose(4003)
	// A brand admin bans a host of its show; an admin bans a brand admin.
	brand, _ := w.join("brand")
	brand.send(map[string]any{"type": "moderate", "action": "ban", "user_id": w.userID("host")})
	host.expectClose(4003)
	brand.send(map[string]any{"type": "moderate", "id": "peer", "action": "ban", "user_id": w.userID("admin")})
	if e := brand.errorFor("peer"); e["code"] != "forbidden" {
		t.Errorf("brand admin bans admin: %v", e)
	}
	admin, _ := w.join("admin")
	admin.send(map[string]any{"type": "moderate", "action": "ban", "user_id": w.userID("brand")})
	brand.expectClose(4003)
}

// A reserve frame in show A's room for an offer of show B is refused as
// not found, as tap and pin are, and holds nothing.
func TestReserveOfAnotherShowsOffer(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	ctx := context.Background()
	a, _ := w.db.ShowByID(ctx, w.show)
	other := *a
	other.ID, other.Title, other.HostIDs = uuid.New(), "Another show", []uuid.UUID{}
	other.StartsAt, other.EndsAt = a.StartsAt.Add(48*time.Hour), a.EndsAt.Add(48*time.Hour)
	other.Days = nil
	if err := w.db.CreateShow(ctx, &other); err != nil {
		t.Fatal(err)
	}
	bag, _ := w.db.OfferByID(ctx, w.offer)
	o := &checkout.Offer{ID: uuid.New(), ShowID: other.ID, SKUID: bag.SKUID, PriceMinor: 1000, Currency: "EUR",
		Allocated: 3, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := w.db.CreateOffer(ctx, o); err != nil {
		t.Fatal(err)
	}
	viewer, _ := w.join("viewer")
	viewer.sendRefused(map[string]any{"type": "reserve", "id": "x", "offer_id": o.ID}, "not_found", "reserving another show's offer")
	if got, _ := w.db.OfferByID(ctx, o.ID); got.Held != 0 {
		t.Fatalf("the other show's offer holds %d", got.Held)
	}
}

// createDropOf adds a closed flash-drop offer of n units of the noir bag's SKU.
func (w *world) createDropOf(n int) uuid.UUID {
	w.t.Helper()
	ctx := context.Background()
	bag, err := w.db.OfferByID(ctx, w.offer)
	if err != nil {
		w.t.Fatal(err)
	}
	o := &checkout.Offer{ID: uuid.New(), ShowID: w.show, SKUID: bag.SKUID, PriceMinor: 199000, Currency: "EUR",
		Allocated: n, PerCustomerLimit: 1, Drop: true, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := w.db.CreateOffer(ctx, o); err != nil {
		w.t.Fatal(err)
	}
	return o.ID
}
