package storetest

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
	"github.com/pavilion-live/pavilion/internal/show"
)

// salesUntil keeps every ended show on sale from its replay until then.
type salesUntil time.Time

func (u salesUntil) ReplaySalesUntil(context.Context, uuid.UUID) (*time.Time, error) {
	t := time.Time(u)
	return &t, nil
}

// testBankReplay plays a show live, ends it, then plays its replay: plays
// of the replay page, holds won from it through the real buy path (one
// paid, one declined, one of two units paid). The replay's viewers and
// sales are counted apart from the live ones, exactly; the reached step
// counts the replay's viewers; the last flush's answer is lost after it
// committed, the store is reopened, the retry changes nothing, and a new
// node's plays add once.
func testBankReplay(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("replaybank")
	must(t, st.Brands.CreateBrand(ctx, b))
	p := newProduct(b.ID, "Ring", checkout.SKU{Code: "RING", Currency: "EUR", PriceMinor: 50_000, OnHand: 10})
	must(t, st.Catalog.CreateProduct(ctx, p))
	t1 := time.Date(2030, 7, 1, 18, 0, 0, 0, time.UTC)
	s := newShow(b.ID, "Rings", t1)
	must(t, st.Shows.CreateShow(ctx, s))
	ring := &checkout.Offer{ID: uuid.New(), ShowID: s.ID, SKUID: p.SKUs[0].ID, PriceMinor: 50_000, Currency: "EUR",
		Allocated: 10, CreatedAt: now()}
	must(t, st.Catalog.CreateOffer(ctx, ring))
	users := map[string]*account.User{}
	for _, name := range []string{"u1", "u2", "u3", "u4"} {
		u := newUser(name+"@replay.example", account.RoleViewer)
		must(t, st.Accounts.CreateUser(ctx, u, "h"))
		users[name] = u
	}
	key := func(name string) string { return "u:" + users[name].ID.String() }

	rec := &analytics.Recorder{Store: st.Analytics, Node: "replay-a"}
	clock := t1
	shop := &checkout.Service{Catalog: st.Catalog, Ledger: st.Ledger, Gate: memory.NewGate(), Shows: st.Shows,
		Payments: &testpay.Provider{}, Intents: rec, ReplayHolds: rec, Replays: salesUntil(t1.Add(48 * time.Hour)),
		Now: func() time.Time { return clock }, Logger: slog.New(slog.DiscardHandler)}
	buy := func(name string, qty int, token string) error {
		r, _, err := shop.Reserve(ctx, users[name], checkout.ReserveRequest{OfferID: ring.ID, Quantity: qty})
		if err != nil {
			return err
		}
		_, _, err = shop.PlaceOrder(ctx, users[name], checkout.OrderRequest{ReservationID: r.ID, PaymentToken: token,
			Shipping: checkout.Shipping{Name: name, Line1: "1 Rue", City: "Paris", PostalCode: "75001", Country: "FR"}})
		return err
	}

	// Live: u1 watches and buys one ring.
	_, err := st.Shows.Transition(ctx, s.ID, show.Live, t1)
	must(t, err)
	rec.Join(s.ID, key("u1"), t1)
	clock = t1.Add(time.Minute)
	must(t, buy("u1", 1, testpay.TokenSuccess))
	rec.Leave(s.ID, key("u1"), t1.Add(2*time.Minute))
	_, err = st.Shows.Transition(ctx, s.ID, show.Ended, t1.Add(time.Hour))
	must(t, err)
	shop.ForgetShow(s.ID)

	// The replay: u1 plays it too, u2 twice, an anonymous visitor; u2 buys
	// one from it, u3's card is declined, u4 buys two.
	clock = t1.Add(2 * time.Hour)
	rec.ReplayView(s.ID, key("u1"))
	rec.ReplayView(s.ID, key("u2"))
	rec.ReplayView(s.ID, key("u2"))
	rec.ReplayView(s.ID, "a:replay-visitor")
	must(t, buy("u2", 1, testpay.TokenSuccess))
	wantCode(t, buy("u3", 1, testpay.TokenDeclined), apperr.PaymentFailed)
	must(t, rec.Flush(ctx, clock))
	rec.ReplayView(s.ID, "a:replay-visitor")
	rec.ReplayView(s.ID, key("u4"))
	must(t, buy("u4", 2, testpay.TokenSuccess))

	// The last flush commits, but its answer is lost.
	rec.Store = &ackLost{Store: st.Analytics, armed: true}
	if err := rec.Flush(ctx, clock.Add(time.Minute)); err == nil {
		t.Fatal("the lost answer was not reported")
	}

	gmv := []analytics.Money{{Currency: "EUR", Minor: 150_000}}
	check := func(st Stores, views int64) {
		t.Helper()
		stats, err := (&analytics.Recorder{Store: st.Analytics}).Stats(ctx, s.ID)
		must(t, err)
		want := analytics.ReplayStats{Views: views, Viewers: 4, Reservations: 3, Orders: 2, Units: 3, Buyers: 2, GMV: gmv}
		if got := stats.Replay; got.Views != want.Views || got.Viewers != want.Viewers || got.Reservations != want.Reservations ||
			got.Orders != want.Orders || got.Units != want.Units || got.Buyers != want.Buyers || !slices.Equal(got.GMV, want.GMV) {
			t.Fatalf("replay = %+v\nwant %+v", got, want)
		}
		// Live figures stay live; the totals hold both.
		if stats.UniqueViewers != 1 || stats.Orders != 3 || stats.Units != 4 || stats.Buyers != 3 {
			t.Fatalf("live viewers %d, orders %d, units %d, buyers %d", stats.UniqueViewers, stats.Orders, stats.Units, stats.Buyers)
		}
		bank, err := analytics.ReadBank(ctx, st.Analytics.(analytics.BankStore),
			analytics.BankQuery{BrandID: b.ID, From: t1.Truncate(24 * time.Hour), To: t1.Add(24 * time.Hour)})
		must(t, err)
		// u1 (live), u2 and the visitor (replay only), u3 (held), u4 (replay):
		// each once at their furthest step.
		wantFunnel := analytics.FunnelCounts{Reached: 5, Engaged: 4, Tapped: 4, Held: 4, Bought: 3, TappedNotBought: 1}
		if bank.Funnel != wantFunnel || bank.Shows[0].Funnel != wantFunnel {
			t.Fatalf("funnel = %+v / %+v\nwant %+v", bank.Funnel, bank.Shows[0].Funnel, wantFunnel)
		}
		if r := bank.Replay; r.Views != views || r.Viewers != 4 || r.Orders != 2 || r.Units != 3 || !slices.Equal(r.GMV, gmv) ||
			bank.Shows[0].Replay.Viewers != 4 || bank.Shows[0].Replay.Orders != 2 {
			t.Fatalf("bank replay = %+v / %+v", r, bank.Shows[0].Replay)
		}
		if pub := bank.Public(); !pub.Replay.Viewers.FewerThan10 || pub.Replay.Orders != 2 {
			t.Fatalf("public replay = %+v", pub.Replay)
		}
	}
	check(st, 6)

	// A restart: the retried batch that did commit changes nothing.
	if st.Reopen != nil {
		st = st.Reopen(t)
	}
	rec.Store = st.Analytics
	must(t, rec.Flush(ctx, clock.Add(2*time.Minute)))
	check(st, 6)
	// A new node (a restarted process): u2 plays the replay again — one more
	// play, no new viewer.
	again := &analytics.Recorder{Store: st.Analytics, Node: "replay-b"}
	again.ReplayView(s.ID, key("u2"))
	must(t, again.Flush(ctx, clock.Add(3*time.Minute)))
	check(st, 7)
}
