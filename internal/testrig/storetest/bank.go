package storetest

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
	"github.com/pavilion-live/pavilion/internal/show"
)

// ackLost is an analytics store whose next apply commits and then reports
// a failure, as when a connection drops between COMMIT and its answer.
type ackLost struct {
	analytics.Store
	armed bool
}

func (s *ackLost) ApplyAnalytics(ctx context.Context, b *analytics.Batch) error {
	if err := s.Store.ApplyAnalytics(ctx, b); err != nil {
		return err
	}
	if s.armed {
		s.armed = false
		return errors.New("connection reset after commit")
	}
	return nil
}

// testBank plays two shows of one brand through the real buy path
// (checkout.Service over this store, the in-process gate, the test card
// processor) and the live room's recorder, then reads the data bank and
// checks every figure: the funnel, the lost intents by cause, the repeat
// buyers and the audiences. The last flush's answer is lost after it
// committed; the recorder retries it on a reopened store, and nothing is
// counted twice.
func testBank(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("databank")
	must(t, st.Brands.CreateBrand(ctx, b))
	follows, ok := st.Brands.(brand.Follows)
	if !ok {
		t.Fatal("the brand store keeps no follows")
	}
	p := newProduct(b.ID, "Bag",
		checkout.SKU{Code: "BAG", Currency: "EUR", PriceMinor: 200_000, OnHand: 10},
		checkout.SKU{Code: "PIN", Currency: "EUR", PriceMinor: 9_000, OnHand: 10},
		checkout.SKU{Code: "SCARF", Currency: "EUR", PriceMinor: 30_000, OnHand: 20})
	must(t, st.Catalog.CreateProduct(ctx, p))
	t1 := time.Date(2030, 6, 1, 18, 0, 0, 0, time.UTC)
	t2 := t1.Add(7 * 24 * time.Hour)
	s1, s2 := newShow(b.ID, "First", t1), newShow(b.ID, "Second", t2)
	must(t, st.Shows.CreateShow(ctx, s1))
	must(t, st.Shows.CreateShow(ctx, s2))
	// Another brand's show in the period stays out of this brand's bank.
	ob := newBrand("otherbank")
	must(t, st.Brands.CreateBrand(ctx, ob))
	must(t, st.Shows.CreateShow(ctx, newShow(ob.ID, "Elsewhere", t1)))
	offer := func(show uuid.UUID, sku checkout.SKU, allocated, limit int, drop bool) *checkout.Offer {
		o := &checkout.Offer{ID: uuid.New(), ShowID: show, SKUID: sku.ID, PriceMinor: sku.PriceMinor, Currency: "EUR",
			Allocated: allocated, PerCustomerLimit: limit, Drop: drop, CreatedAt: now()}
		must(t, st.Catalog.CreateOffer(ctx, o))
		return o
	}
	bag := offer(s1.ID, p.SKUs[0], 2, 1, false)
	pin := offer(s1.ID, p.SKUs[1], 5, 0, true) // a drop never opened
	scarf := offer(s2.ID, p.SKUs[2], 10, 0, false)

	users := map[string]*account.User{}
	for _, name := range []string{"u1", "u2", "u3", "u4", "u5", "u6"} {
		roles := []account.Role{account.RoleViewer}
		if name == "u5" {
			roles = append(roles, account.RoleMember)
		}
		u := newUser(name+"@bank.example", roles...)
		must(t, st.Accounts.CreateUser(ctx, u, "h"))
		users[name] = u
	}
	key := func(name string) string { return "u:" + users[name].ID.String() }

	rec := &analytics.Recorder{Store: st.Analytics, Node: "bank-a"}
	clock := t1
	shop := &checkout.Service{Catalog: st.Catalog, Ledger: st.Ledger, Gate: memory.NewGate(), Shows: st.Shows,
		Payments: &testpay.Provider{}, Intents: rec, Now: func() time.Time { return clock }, Logger: slog.New(slog.DiscardHandler)}
	reserve := func(name string, o *checkout.Offer) (*checkout.Reservation, error) {
		r, _, err := shop.Reserve(ctx, users[name], checkout.ReserveRequest{OfferID: o.ID, Quantity: 1})
		return r, err
	}
	pay := func(name string, r *checkout.Reservation, token string) error {
		_, _, err := shop.PlaceOrder(ctx, users[name], checkout.OrderRequest{ReservationID: r.ID, PaymentToken: token,
			Shipping: checkout.Shipping{Name: name, Line1: "1 Rue", City: "Paris", PostalCode: "75001", Country: "FR"}})
		return err
	}
	refused := func(err error, code apperr.Code) {
		t.Helper()
		wantCode(t, err, code)
	}
	at := func(base time.Time, s int) time.Time { return base.Add(time.Duration(s) * time.Second) }

	// A follower from before the period, and two during it.
	must(t, follows.Follow(ctx, b.ID, users["u6"].ID, time.Date(2030, 5, 20, 9, 0, 0, 0, time.UTC)))
	must(t, follows.Follow(ctx, b.ID, users["u2"].ID, at(t1, 1800)))
	must(t, follows.Follow(ctx, b.ID, users["u5"].ID, t2.Add(-24*time.Hour)))
	must(t, st.Shows.Subscribe(ctx, s2.ID, users["u5"].ID, t2.Add(-24*time.Hour)))

	// Show one, in the live room.
	for _, v := range []string{key("u1"), key("u2"), key("u3"), key("u4"), "a:visitor-1"} {
		rec.Join(s1.ID, v, t1)
	}
	rec.Chat(s1.ID, key("u1"))
	rec.Reaction(s1.ID, "a:visitor-1", 2)
	rec.CardTap(s1.ID, bag.ID, key("u3"))
	rec.CardTap(s1.ID, pin.ID, key("u4"))
	rec.Leave(s1.ID, key("u4"), at(t1, 10)) // tapped a card, nothing more
	rec.Leave(s1.ID, key("u2"), at(t1, 90)) // watched a minute and a half

	// …and at the buy path.
	clock = at(t1, 60)
	r1, err := reserve("u1", bag)
	must(t, err)
	must(t, pay("u1", r1, testpay.TokenSuccess))
	_, err = reserve("u1", bag)
	refused(err, apperr.LimitReached) // limit_reached
	clock = at(t1, 100)
	r2, err := reserve("u2", bag)
	must(t, err)
	refused(pay("u2", r2, testpay.TokenDeclined), apperr.PaymentFailed) // payment_declined
	clock = at(t1, 120)
	_, err = reserve("u3", bag)
	refused(err, apperr.SoldOut) // sold_out
	_, err = reserve("u4", pin)
	refused(err, apperr.DropClosed) // drop_closed
	clock = at(t1, 100+s1.HoldSeconds+1)
	must(t, shop.Sweep(ctx)) // u2's hold ends after checkout: checkout_abandoned
	r3, err := reserve("u3", bag)
	must(t, err)
	_, err = shop.Release(ctx, users["u3"], r3.ID) // released
	must(t, err)
	r6, err := reserve("u6", bag)
	must(t, err)
	clock = r6.ExpiresAt.Add(time.Second)
	must(t, shop.Sweep(ctx)) // u6's hold ends untouched: hold_expired
	for _, v := range []string{key("u1"), key("u3"), "a:visitor-1"} {
		rec.Leave(s1.ID, v, at(t1, 30))
	}
	must(t, rec.Flush(ctx, at(t1, 600)))

	// Show two: u1 buys again, u3 buys for the first time.
	rec.Join(s2.ID, key("u1"), t2)
	rec.Join(s2.ID, key("u3"), t2)
	clock = at(t2, 60)
	for _, name := range []string{"u1", "u3"} {
		r, err := reserve(name, scarf)
		must(t, err)
		must(t, pay(name, r, testpay.TokenSuccess))
	}
	rec.Leave(s2.ID, key("u1"), at(t2, 20))
	rec.Leave(s2.ID, key("u3"), at(t2, 20))

	// The last flush commits, but its answer is lost: the recorder keeps
	// the batch to retry.
	flaky := &ackLost{Store: st.Analytics, armed: true}
	rec.Store = flaky
	if err := rec.Flush(ctx, at(t2, 600)); err == nil {
		t.Fatal("the lost answer was not reported")
	}

	q := analytics.BankQuery{BrandID: b.ID, From: time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2030, 6, 15, 0, 0, 0, 0, time.UTC)}
	check := func(st Stores) {
		t.Helper()
		bank, err := analytics.ReadBank(ctx, st.Analytics.(analytics.BankStore), q)
		must(t, err)
		wantFunnel := analytics.FunnelCounts{Reached: 7, Engaged: 7, Tapped: 5, Held: 4, Bought: 2, BoughtAgain: 1, TappedNotBought: 3}
		if bank.Funnel != wantFunnel {
			t.Fatalf("funnel = %+v\nwant %+v", bank.Funnel, wantFunnel)
		}
		if len(bank.Shows) != 2 || bank.Shows[0].Show.ID != s1.ID || bank.Shows[1].Show.ID != s2.ID {
			t.Fatalf("shows = %+v", bank.Shows)
		}
		if want := (analytics.FunnelCounts{Reached: 6, Engaged: 6, Tapped: 5, Held: 4, Bought: 1, BoughtAgain: 1, TappedNotBought: 3}); bank.Shows[0].Funnel != want {
			t.Fatalf("first show's funnel = %+v\nwant %+v", bank.Shows[0].Funnel, want)
		}
		if want := (analytics.FunnelCounts{Reached: 3, Engaged: 3, Tapped: 2, Held: 2, Bought: 2, BoughtAgain: 1}); bank.Shows[1].Funnel != want {
			t.Fatalf("second show's funnel = %+v\nwant %+v", bank.Shows[1].Funnel, want)
		}
		lost := map[[2]string]int64{}
		for _, l := range bank.Lost {
			lost[[2]string{l.OfferID.String(), l.Cause}] += l.N
			if l.OfferID == bag.ID && l.Offer != "Bag · BAG" {
				t.Fatalf("the bag is named %q", l.Offer)
			}
		}
		wantLost := map[[2]string]int64{
			{bag.ID.String(), analytics.CauseLimitReached}: 1, {bag.ID.String(), analytics.CausePaymentDeclined}: 1,
			{bag.ID.String(), analytics.CauseSoldOut}: 1, {bag.ID.String(), analytics.CauseCheckoutAbandoned}: 1,
			{bag.ID.String(), analytics.CauseReleased}: 1, {bag.ID.String(), analytics.CauseHoldExpired}: 1,
			{pin.ID.String(), analytics.CauseDropClosed}: 1,
		}
		if !maps.Equal(lost, wantLost) {
			t.Fatalf("lost intents = %v\nwant %v", lost, wantLost)
		}
		if bank.Shows[0].Lost[analytics.CauseSoldOut] != 1 || len(bank.Shows[1].Lost) != 0 {
			t.Fatalf("lost by show: %v / %v", bank.Shows[0].Lost, bank.Shows[1].Lost)
		}
		if want := (analytics.AudienceCounts{Followers: 3, Members: 1, RepeatBuyers: 1}); bank.Audience != want {
			t.Fatalf("audience = %+v, want %+v", bank.Audience, want)
		}
		if len(bank.Trend) != 14 {
			t.Fatalf("%d trend points, want a day each", len(bank.Trend))
		}
		// June 1: two followers, and the four who tapped or held in show
		// one had not bought by that day's end (u3 bought on June 8).
		if p := bank.Trend[0]; p.Followers != 2 || p.Members != 0 || p.RepeatBuyers != 0 || p.TappedNotBought != 4 {
			t.Fatalf("June 1 = %+v", p)
		}
		if p := bank.Trend[6]; p.Followers != 3 || p.Members != 1 || p.RepeatBuyers != 0 || p.TappedNotBought != 0 {
			t.Fatalf("June 7 = %+v", p)
		}
		if p := bank.Trend[7]; p.RepeatBuyers != 1 || p.TappedNotBought != 0 {
			t.Fatalf("June 8 = %+v", p)
		}
		one, err := analytics.ReadBank(ctx, st.Analytics.(analytics.BankStore), analytics.BankQuery{BrandID: b.ID, From: q.From, To: q.To, Show: s2.ID})
		must(t, err)
		if one.Funnel != bank.Shows[1].Funnel || len(one.Shows) != 1 {
			t.Fatalf("one show's bank = %+v", one.Funnel)
		}
		// Small groups are masked in what brands see.
		pub := bank.Public()
		if pub.Funnel[0].People.Count != nil || !pub.Funnel[0].People.FewerThan10 || pub.Funnel[1].Conversion != nil {
			t.Fatalf("public funnel shows a small group: %+v", pub.Funnel[0])
		}
	}
	check(st)

	// A restart: the store is opened again, and the recorder's retry of the
	// batch that did commit changes nothing.
	if st.Reopen != nil {
		st = st.Reopen(t)
	}
	rec.Store = st.Analytics
	must(t, rec.Flush(ctx, at(t2, 700)))
	check(st)
	// A new node (a restarted process) starts its own sequence: what it
	// records adds, once.
	again := &analytics.Recorder{Store: st.Analytics, Node: "bank-b"}
	again.Join(s2.ID, "a:visitor-2", at(t2, 100))
	again.Leave(s2.ID, "a:visitor-2", at(t2, 101))
	must(t, again.Flush(ctx, at(t2, 800)))
	bank, err := analytics.ReadBank(ctx, st.Analytics.(analytics.BankStore), q)
	must(t, err)
	if bank.Funnel.Reached != 8 || bank.Shows[1].Funnel.Reached != 4 {
		t.Fatalf("after a new node's visitor: %+v", bank.Funnel)
	}
	if _, err := analytics.ReadBank(ctx, st.Analytics.(analytics.BankStore), analytics.BankQuery{BrandID: b.ID, From: q.From, To: q.To, Show: uuid.New()}); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("a show not of the brand: %v", err)
	}

	// The brand tells its three followers about show two, once.
	fn, ok := st.Shows.(show.FollowerNotices)
	if !ok {
		t.Fatal("the show store sends no notices to followers")
	}
	told, err := fn.NoticeFollowers(ctx, s2.ID, show.NoticeUpcoming, "Coming up: Second", t2.Add(-time.Hour))
	if err != nil || told != 3 {
		t.Fatalf("told %d followers (%v), want 3", told, err)
	}
	if _, err := fn.NoticeFollowers(ctx, s2.ID, show.NoticeUpcoming, "again", t2); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("a second notice: %v", err)
	}
	if _, err := fn.NoticeFollowers(ctx, uuid.New(), show.NoticeUpcoming, "x", t2); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("a missing show: %v", err)
	}
	got, err := st.Shows.Notices(ctx, users["u5"].ID, 0)
	must(t, err)
	if len(got) != 1 || got[0].Kind != show.NoticeUpcoming || got[0].ShowID != s2.ID || got[0].Text != "Coming up: Second" {
		t.Fatalf("u5's notices = %+v", got)
	}
	if got, _ := st.Shows.Notices(ctx, users["u1"].ID, 0); len(got) != 0 {
		t.Fatalf("a non-follower was told: %+v", got)
	}
}
