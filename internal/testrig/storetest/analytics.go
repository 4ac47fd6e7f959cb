package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/analytics"
)

// testAnalytics plays a scripted show on two nodes (two recorders, one
// store) and checks every figure exactly; then a restart (new recorders,
// same store) keeps them, and a retried batch is not counted twice.
func testAnalytics(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("analytics")
	must(t, st.Brands.CreateBrand(ctx, b))
	p := newProduct(b.ID, "Bag",
		checkout.SKU{Code: "BAG", Currency: "EUR", PriceMinor: 200_000, OnHand: 10},
		checkout.SKU{Code: "SCARF", Currency: "EUR", PriceMinor: 30_000, OnHand: 20})
	must(t, st.Catalog.CreateProduct(ctx, p))
	sh := newShow(b.ID, "Runway", now().Add(time.Hour))
	must(t, st.Shows.CreateShow(ctx, sh))
	other := newShow(b.ID, "Other", now().Add(48*time.Hour))
	must(t, st.Shows.CreateShow(ctx, other))
	offer := func(sku checkout.SKU, price int64, allocated int) *checkout.Offer {
		o := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: sku.ID, PriceMinor: price, Currency: "EUR", Allocated: allocated, CreatedAt: now()}
		must(t, st.Catalog.CreateOffer(ctx, o))
		return o
	}
	bag, scarf := offer(p.SKUs[0], 150_000, 5), offer(p.SKUs[1], 20_000, 10)
	users := map[string]uuid.UUID{}
	for _, name := range []string{"alice", "bob", "carol", "dave"} {
		u := newUser(name + "@viewers.example")
		must(t, st.Accounts.CreateUser(ctx, u, "h"))
		users[name] = u.ID
	}
	key := func(name string) string { return "u:" + users[name].String() }

	// The show starts on a minute; every event is off the 10 s sample instants.
	t0 := time.Date(2030, 5, 1, 18, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	nodeA := &analytics.Recorder{Store: st.Analytics, Node: "node-a"}
	nodeB := &analytics.Recorder{Store: st.Analytics, Node: "node-b"}

	nodeA.Join(sh.ID, key("alice"), at(1))
	nodeA.Join(sh.ID, key("bob"), at(5))
	nodeB.Join(sh.ID, key("carol"), at(12))
	nodeB.Join(sh.ID, "a:visitor-1", at(21))
	nodeA.Leave(sh.ID, key("alice"), at(31)) // alice's phone drops…
	nodeB.Join(sh.ID, key("alice"), at(36))  // …and she is back, on the other node
	for range 3 {
		nodeA.Chat(sh.ID, key("bob"))
	}
	nodeB.Chat(sh.ID, key("carol"))
	nodeB.Chat(sh.ID, key("carol"))
	nodeA.Reaction(sh.ID, key("bob"), 4)
	nodeB.Reaction(sh.ID, key("carol"), 1)
	nodeB.Reaction(sh.ID, "a:visitor-1", 2)
	nodeA.CardTap(sh.ID, bag.ID, key("bob"))
	nodeA.CardTap(sh.ID, bag.ID, key("bob"))
	nodeA.CardTap(sh.ID, scarf.ID, key("bob"))
	nodeB.CardTap(sh.ID, bag.ID, key("carol"))
	nodeB.CardTap(sh.ID, scarf.ID, key("alice"))
	nodeA.Chat(other.ID, key("bob")) // another show's figures stay apart
	must(t, nodeA.Flush(ctx, at(40)))
	must(t, nodeB.Flush(ctx, at(40)))

	nodeA.Leave(sh.ID, key("bob"), at(52))
	nodeA.Join(sh.ID, "a:visitor-2", at(65))
	nodeB.Leave(sh.ID, "a:visitor-1", at(71))

	// The ledger: five holds, three paid orders, one pending, one release.
	reserve := func(o *checkout.Offer, user string, qty, s int) *checkout.Reservation {
		r := &checkout.Reservation{ID: uuid.New(), OfferID: o.ID, ShowID: sh.ID, SKUID: o.SKUID, UserID: users[user], Quantity: qty,
			PriceMinor: o.PriceMinor, Currency: o.Currency, State: checkout.Held, CreatedAt: at(s), ExpiresAt: at(s).Add(time.Hour), UpdatedAt: at(s)}
		must(t, st.Ledger.Reserve(ctx, r, 0, nil))
		return r
	}
	order := func(r *checkout.Reservation, s int, pay bool) {
		o := &checkout.Order{ID: uuid.New(), UserID: r.UserID, ReservationID: r.ID, OfferID: r.OfferID, ShowID: r.ShowID, SKUID: r.SKUID,
			BrandID: b.ID, Quantity: r.Quantity, UnitPriceMinor: r.PriceMinor, TotalMinor: r.PriceMinor * int64(r.Quantity),
			Currency: r.Currency, State: checkout.Pending, Shipping: checkout.Shipping{Name: "A", Line1: "1 Rue", City: "Paris", PostalCode: "75001", Country: "FR"},
			CreatedAt: at(s), UpdatedAt: at(s)}
		must(t, st.Ledger.BeginOrder(ctx, o, at(s)))
		if pay {
			_, err := st.Ledger.CompletePayment(ctx, o.ID, "ch_"+o.ID.String(), at(s+1))
			must(t, err)
		}
	}
	order(reserve(bag, "alice", 1, 45), 50, true)
	held := reserve(bag, "bob", 1, 47)
	_, err := st.Ledger.Release(ctx, held.ID, checkout.Released, at(48))
	must(t, err)
	order(reserve(scarf, "carol", 2, 70), 75, true)
	order(reserve(scarf, "dave", 1, 72), 80, true) // bought without watching
	order(reserve(bag, "carol", 1, 90), 95, false) // not paid: not a sale

	must(t, nodeA.Flush(ctx, at(120)))
	must(t, nodeB.Flush(ctx, at(120)))

	// Watch: alice 30+84, bob 47, carol 108, visitor-1 50, visitor-2 55.
	// Viewers at each instant, node A + node B: 10s 2+0, 20s 2+1, 30s 2+2,
	// 40s 1+3, 50s 1+3, 60s 0+3, 70s 1+3, 80s…120s 1+2.
	eur := func(minor int64) []analytics.Money { return []analytics.Money{{Currency: "EUR", Minor: minor}} }
	want := &analytics.Stats{ShowID: sh.ID, PeakViewers: 4, UniqueViewers: 5, Joins: 6, WatchSeconds: 374, AvgWatchSeconds: 74,
		ChatMessages: 5, Reactions: 7, CardTaps: 5, Reservations: 5, ReservedUnits: 6, Orders: 3, Units: 4,
		Buyers: 3, ViewerBuyers: 2, Conversion: 0.4, GMV: eur(210_000),
		Offers: []analytics.OfferStats{
			{OfferID: bag.ID, Currency: "EUR", CardTaps: 3, Reservations: 3, ReservedUnits: 3, Orders: 1, Units: 1, GMVMinor: 150_000},
			{OfferID: scarf.ID, Currency: "EUR", CardTaps: 2, Reservations: 2, ReservedUnits: 3, Orders: 2, Units: 3, GMVMinor: 60_000},
		},
		Minutes: []analytics.Minute{
			{At: t0, Viewers: 4, Reservations: 2, Orders: 1, Units: 1, GMV: eur(150_000)},
			{At: at(60), Viewers: 4, Reservations: 3, Orders: 2, Units: 3, GMV: eur(60_000)},
			{At: at(120), Viewers: 3, GMV: []analytics.Money{}},
		},
		Replay: analytics.ReplayStats{GMV: []analytics.Money{}}, // a live show only
	}
	if bag.ID.String() > scarf.ID.String() {
		want.Offers[0], want.Offers[1] = want.Offers[1], want.Offers[0]
	}
	wantStats(t, nodeA, want)

	// A restart: new recorders on the same store see the same figures, and
	// a viewer seen before is not new.
	nodeC := &analytics.Recorder{Store: st.Analytics, Node: "node-c"}
	wantStats(t, nodeC, want)
	nodeC.Join(sh.ID, key("bob"), at(130))
	nodeC.Leave(sh.ID, key("bob"), at(139))
	must(t, nodeC.Flush(ctx, at(140)))
	want.Joins, want.WatchSeconds, want.AvgWatchSeconds = 7, 383, 76
	// Bob's visit fell between two sample instants: the series is unchanged.
	wantStats(t, nodeC, want)

	otherStats, err := nodeC.Stats(ctx, other.ID)
	must(t, err)
	if otherStats.ChatMessages != 1 || otherStats.UniqueViewers != 0 || len(otherStats.Minutes) != 0 {
		t.Fatalf("other show: %+v", otherStats)
	}

	// A retried batch (its first attempt committed) changes nothing; a batch
	// naming a show that does not exist is applied for the others.
	batch := &analytics.Batch{Node: "node-retry", Seq: 1, Shows: []analytics.ShowDelta{{ShowID: uuid.New(), Chats: 9}, {ShowID: other.ID, Chats: 2}}}
	must(t, st.Analytics.ApplyAnalytics(ctx, batch))
	must(t, st.Analytics.ApplyAnalytics(ctx, batch))
	batch.Seq = 2
	must(t, st.Analytics.ApplyAnalytics(ctx, batch))
	got, err := st.Analytics.ShowAnalytics(ctx, other.ID)
	must(t, err)
	if got.Chats != 5 {
		t.Fatalf("chats after a retried batch = %d, want 1 + 2 + 2", got.Chats)
	}

	concurrentNodes(t, st, b.ID)
	crowdedFlush(t, st, b.ID)

	// A show nothing happened in has zero figures, not an error.
	empty, err := nodeC.Stats(ctx, uuid.New())
	must(t, err)
	if empty.UniqueViewers != 0 || empty.Orders != 0 || empty.Offers == nil || empty.Minutes == nil || empty.GMV == nil {
		t.Fatalf("empty show stats = %+v", empty)
	}
}

// concurrentNodes has several nodes flush for the same two shows at once,
// with the same viewers: every increment lands, and each viewer counts once.
func concurrentNodes(t *testing.T, st Stores, brandID uuid.UUID) {
	ctx := context.Background()
	shows := []uuid.UUID{}
	for _, title := range []string{"Crowd one", "Crowd two"} {
		sh := newShow(brandID, title, now().Add(72*time.Hour))
		must(t, st.Shows.CreateShow(ctx, sh))
		shows = append(shows, sh.ID)
	}
	const nodes, rounds = 4, 8
	t0 := time.Date(2030, 5, 2, 18, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for n := range nodes {
		wg.Go(func() {
			r := &analytics.Recorder{Store: st.Analytics, Node: fmt.Sprintf("crowd-%d", n)}
			for i := range rounds {
				start := t0.Add(time.Duration(i*10+2) * time.Second)
				for _, show := range shows {
					v := fmt.Sprintf("a:crowd-visitor-%02d", i)
					r.Join(show, v, start)
					r.Chat(show, v)
					r.Leave(show, v, start.Add(time.Second))
				}
				if err := r.Flush(ctx, start.Add(2*time.Second)); err != nil {
					t.Errorf("node %d: %v", n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, show := range shows {
		c, err := st.Analytics.ShowAnalytics(ctx, show)
		must(t, err)
		if c.Joins != nodes*rounds || c.Chats != nodes*rounds || c.WatchMillis != nodes*rounds*1000 || c.UniqueViewers != rounds {
			t.Fatalf("after %d nodes × %d flushes: %+v", nodes, rounds, c)
		}
	}
}

// crowdedFlush flushes more viewers of one show in one batch than one
// SQLite statement binds, so the drivers' insert of many rows splits it:
// every viewer is counted once, in one transaction.
func crowdedFlush(t *testing.T, st Stores, brandID uuid.UUID) {
	ctx := context.Background()
	sh := newShow(brandID, "Crowded", now().Add(96*time.Hour))
	must(t, st.Shows.CreateShow(ctx, sh))
	const viewers = 1200
	t0 := time.Date(2030, 5, 3, 18, 0, 0, 0, time.UTC)
	r := &analytics.Recorder{Store: st.Analytics, Node: "crowded"}
	for i := range viewers {
		v := fmt.Sprintf("a:crowded-%04d", i)
		r.Join(sh.ID, v, t0.Add(time.Second))
		r.Leave(sh.ID, v, t0.Add(2*time.Second))
	}
	must(t, r.Flush(ctx, t0.Add(3*time.Second)))
	c, err := st.Analytics.ShowAnalytics(ctx, sh.ID)
	must(t, err)
	if c.Joins != viewers || c.UniqueViewers != viewers {
		t.Fatalf("after one flush of %d viewers: joins %d, unique %d", viewers, c.Joins, c.UniqueViewers)
	}
}

// wantStats compares the recorder's Stats with want, field by field as JSON.
func wantStats(t *testing.T, r *analytics.Recorder, want *analytics.Stats) {
	t.Helper()
	got, err := r.Stats(context.Background(), want.ShowID)
	must(t, err)
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Fatalf("stats:\n%s\nwant:\n%s", g, w)
	}
}
