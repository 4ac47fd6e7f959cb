package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// RunLedger runs the ledger contract: the stock invariants under
// concurrency, the reservation and order state machines, and idempotency.
func RunLedger(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("ReserveAndRelease", func(t *testing.T) { testReserve(t, newFixture(t, open(t))) })
	t.Run("SKUSharedByOffers", func(t *testing.T) { testSharedSKU(t, newFixture(t, open(t))) })
	t.Run("CustomerLimit", func(t *testing.T) { testLimit(t, newFixture(t, open(t))) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, newFixture(t, open(t))) })
	t.Run("Orders", func(t *testing.T) { testOrders(t, newFixture(t, open(t))) })
	t.Run("OrderStates", func(t *testing.T) { testOrderStates(t, newFixture(t, open(t))) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, newFixture(t, open(t))) })
	t.Run("ConcurrentReserve", func(t *testing.T) { testConcurrentReserve(t, newFixture(t, open(t))) })
	t.Run("ReserveBatch", func(t *testing.T) { testReserveBatch(t, newFixture(t, open(t))) })
	t.Run("ReserveLargeBatch", func(t *testing.T) { testReserveLargeBatch(t, newFixture(t, open(t))) })
	t.Run("ActiveReservations", func(t *testing.T) { testActiveReservations(t, newFixture(t, open(t))) })
}

// testActiveReservations: a customer's holds that still take units are
// listed (held and being paid for), soonest to expire first, in one show or
// all; released, expired and ordered ones and other customers' are not.
func testActiveReservations(t *testing.T, f *fixture) {
	ctx := context.Background()
	ids := func(list []checkout.Reservation, err error) []uuid.UUID {
		t.Helper()
		must(t, err)
		if list == nil {
			t.Fatal("ActiveReservations answered nil, want an empty list")
		}
		out := []uuid.UUID{}
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	buyer := f.users[0]
	if got := ids(f.Ledger.ActiveReservations(ctx, buyer, uuid.Nil)); len(got) != 0 {
		t.Fatalf("no holds yet: %v", got)
	}
	late := f.res(f.offer, buyer, 1, time.Hour)
	soon := f.res(f.offer, buyer, 1, 10*time.Minute)
	paying := f.res(f.offer, buyer, 1, 30*time.Minute)
	gone := f.res(f.offer, buyer, 1, 20*time.Minute)
	for _, r := range []*checkout.Reservation{late, soon, paying, gone} {
		must(t, f.Ledger.Reserve(ctx, r, 0, nil))
	}
	must(t, f.Ledger.Reserve(ctx, f.res(f.offer, f.users[1], 1, 5*time.Minute), 0, nil)) // someone else's
	must(t, f.Ledger.BeginOrder(ctx, f.order(paying), now()))
	_, err := f.Ledger.Release(ctx, gone.ID, checkout.Released, now())
	must(t, err)

	// A second show of the brand with a hold of its own.
	other := newShow(f.brand, "Encore", now().Add(2*time.Hour))
	must(t, f.Shows.CreateShow(ctx, other))
	o2 := &checkout.Offer{ID: uuid.New(), ShowID: other.ID, SKUID: f.sku.ID, PriceMinor: 150_000, Currency: "EUR", Allocated: 2, CreatedAt: now()}
	must(t, f.Catalog.CreateOffer(ctx, o2))
	elsewhere := f.res(o2, buyer, 1, 15*time.Minute)
	must(t, f.Ledger.Reserve(ctx, elsewhere, 0, nil))

	want := []uuid.UUID{soon.ID, paying.ID, late.ID}
	if got := ids(f.Ledger.ActiveReservations(ctx, buyer, f.show)); !slices.Equal(got, want) {
		t.Fatalf("in the show = %v, want %v (soon, paying, late)", got, want)
	}
	want = []uuid.UUID{soon.ID, elsewhere.ID, paying.ID, late.ID}
	if got := ids(f.Ledger.ActiveReservations(ctx, buyer, uuid.Nil)); !slices.Equal(got, want) {
		t.Fatalf("in all shows = %v, want %v", got, want)
	}
	list, err := f.Ledger.ActiveReservations(ctx, buyer, f.show)
	must(t, err)
	if list[1].State != checkout.Ordering || list[0] != *soon {
		t.Fatalf("listed rows = %+v", list)
	}
	if got := ids(f.Ledger.ActiveReservations(ctx, buyer, uuid.New())); len(got) != 0 {
		t.Fatalf("another show: %v", got)
	}
	// Expired holds drop out.
	_, err = f.Ledger.ExpireDue(ctx, now().Add(11*time.Minute), 10)
	must(t, err)
	want = []uuid.UUID{paying.ID, late.ID}
	if got := ids(f.Ledger.ActiveReservations(ctx, buyer, f.show)); !slices.Equal(got, want) {
		t.Fatalf("after expiry = %v, want %v", got, want)
	}
}

// fixture is a brand with a SKU (10 on hand) and a show offering 5 of them.
type fixture struct {
	Stores
	t     *testing.T
	brand uuid.UUID
	show  uuid.UUID
	sku   *checkout.SKU
	offer *checkout.Offer
	users []uuid.UUID
}

func newFixture(t *testing.T, st Stores) *fixture {
	ctx := context.Background()
	f := &fixture{Stores: st, t: t}
	b := newBrand("ledger")
	must(t, st.Brands.CreateBrand(ctx, b))
	f.brand = b.ID
	p := newProduct(b.ID, "Bag", checkout.SKU{Code: "BAG", Currency: "EUR", PriceMinor: 200_000, OnHand: 10})
	must(t, st.Catalog.CreateProduct(ctx, p))
	f.sku = &p.SKUs[0]
	sh := newShow(b.ID, "Drop", now().Add(time.Hour))
	must(t, st.Shows.CreateShow(ctx, sh))
	f.show = sh.ID
	f.offer = f.newOffer(5, 0)
	for range 4 {
		u := newUser(uuid.NewString()[:8] + "@buyers.example")
		must(t, st.Accounts.CreateUser(ctx, u, "h"))
		f.users = append(f.users, u.ID)
	}
	return f
}

func (f *fixture) newOffer(allocated, limit int) *checkout.Offer {
	o := &checkout.Offer{ID: uuid.New(), ShowID: f.show, SKUID: f.sku.ID, PriceMinor: 150_000, Currency: "EUR",
		Allocated: allocated, PerCustomerLimit: limit, CreatedAt: now()}
	must(f.t, f.Catalog.CreateOffer(context.Background(), o))
	return o
}

func (f *fixture) res(o *checkout.Offer, user uuid.UUID, qty int, ttl time.Duration) *checkout.Reservation {
	t := now()
	return &checkout.Reservation{ID: uuid.New(), OfferID: o.ID, ShowID: o.ShowID, SKUID: o.SKUID, UserID: user,
		Quantity: qty, PriceMinor: o.PriceMinor, Currency: o.Currency, State: checkout.Held,
		CreatedAt: t, ExpiresAt: t.Add(ttl), UpdatedAt: t}
}

// counts checks the held and sold units on the offer and the SKU.
func (f *fixture) counts(o *checkout.Offer, held, sold, skuHeld, skuSold int) {
	f.t.Helper()
	ctx := context.Background()
	got, err := f.Catalog.OfferByID(ctx, o.ID)
	must(f.t, err)
	s, err := f.Catalog.SKUByID(ctx, f.sku.ID)
	must(f.t, err)
	if got.Held != held || got.Sold != sold || s.Held != skuHeld || s.Sold != skuSold {
		f.t.Fatalf("offer held/sold = %d/%d, SKU held/sold = %d/%d; want %d/%d and %d/%d",
			got.Held, got.Sold, s.Held, s.Sold, held, sold, skuHeld, skuSold)
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got %v, want %v", err, target)
	}
}

func testReserve(t *testing.T, f *fixture) {
	ctx := context.Background()
	r := f.res(f.offer, f.users[0], 2, 10*time.Minute)
	must(t, f.Ledger.Reserve(ctx, r, 0, nil))
	f.counts(f.offer, 2, 0, 2, 0)

	got, err := f.Ledger.ReservationByID(ctx, r.ID)
	must(t, err)
	if *got != *r {
		t.Fatalf("ReservationByID = %+v, want %+v", got, r)
	}
	_, err = f.Ledger.ReservationByID(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	// 3 left on the offer: 4 is refused and changes nothing.
	wantIs(t, f.Ledger.Reserve(ctx, f.res(f.offer, f.users[1], 4, time.Minute), 0, nil), checkout.ErrSoldOut)
	f.counts(f.offer, 2, 0, 2, 0)
	must(t, f.Ledger.Reserve(ctx, f.res(f.offer, f.users[1], 3, time.Minute), 0, nil))
	f.counts(f.offer, 5, 0, 5, 0)
	wantIs(t, f.Ledger.Reserve(ctx, f.res(f.offer, f.users[2], 1, time.Minute), 0, nil), checkout.ErrSoldOut)

	rel, err := f.Ledger.Release(ctx, r.ID, checkout.Released, now())
	must(t, err)
	if rel.State != checkout.Released {
		t.Fatalf("released state = %s", rel.State)
	}
	f.counts(f.offer, 3, 0, 3, 0)
	_, err = f.Ledger.Release(ctx, r.ID, checkout.Released, now())
	wantCode(t, err, apperr.Gone)
	f.counts(f.offer, 3, 0, 3, 0)
	_, err = f.Ledger.Release(ctx, uuid.New(), checkout.Released, now())
	wantCode(t, err, apperr.NotFound)

	// A reservation for an offer that does not exist.
	ghost := f.res(&checkout.Offer{ID: uuid.New(), ShowID: f.show, SKUID: f.sku.ID, Currency: "EUR"}, f.users[0], 1, time.Minute)
	wantCode(t, f.Ledger.Reserve(ctx, ghost, 0, nil), apperr.NotFound)
}

// testSharedSKU: two shows' offers on one SKU never sell more than on hand.
func testSharedSKU(t *testing.T, f *fixture) {
	ctx := context.Background()
	second := f.newOffer(8, 0) // 5 + 8 allocated against 10 on hand
	must(t, f.Ledger.Reserve(ctx, f.res(f.offer, f.users[0], 5, time.Minute), 0, nil))
	must(t, f.Ledger.Reserve(ctx, f.res(second, f.users[1], 5, time.Minute), 0, nil))
	wantIs(t, f.Ledger.Reserve(ctx, f.res(second, f.users[2], 1, time.Minute), 0, nil), checkout.ErrSoldOut)
	f.counts(second, 5, 0, 10, 0)

	// Stock on hand cannot drop below what is held.
	n := 9
	_, err := f.Catalog.UpdateSKU(ctx, f.sku.ID, checkout.SKUPatch{OnHand: &n})
	wantCode(t, err, apperr.Conflict)
}

func testLimit(t *testing.T, f *fixture) {
	ctx := context.Background()
	o := f.newOffer(6, 2)
	must(t, f.Ledger.Reserve(ctx, f.res(o, f.users[0], 1, time.Minute), 2, nil))
	wantIs(t, f.Ledger.Reserve(ctx, f.res(o, f.users[0], 2, time.Minute), 2, nil), checkout.ErrLimitReached)
	must(t, f.Ledger.Reserve(ctx, f.res(o, f.users[0], 1, time.Minute), 2, nil))
	wantIs(t, f.Ledger.Reserve(ctx, f.res(o, f.users[0], 1, time.Minute), 2, nil), checkout.ErrLimitReached)
	must(t, f.Ledger.Reserve(ctx, f.res(o, f.users[1], 2, time.Minute), 2, nil))
	f.counts(o, 4, 0, 4, 0)

	n, err := f.Ledger.CustomerUnits(ctx, o.ID, f.users[0])
	must(t, err)
	if n != 2 {
		t.Fatalf("CustomerUnits = %d", n)
	}
	m, err := f.Ledger.OfferCustomers(ctx, o.ID)
	must(t, err)
	if len(m) != 2 || m[f.users[0]] != 2 || m[f.users[1]] != 2 {
		t.Fatalf("OfferCustomers = %v", m)
	}
	// Released units no longer count against the limit.
	r := f.res(o, f.users[2], 2, time.Minute)
	must(t, f.Ledger.Reserve(ctx, r, 2, nil))
	_, err = f.Ledger.Release(ctx, r.ID, checkout.Released, now())
	must(t, err)
	must(t, f.Ledger.Reserve(ctx, f.res(o, f.users[2], 1, time.Minute), 2, nil))
	// Limit 0 is no limit.
	must(t, f.Ledger.Reserve(ctx, f.res(f.offer, f.users[3], 5, time.Minute), 0, nil))
}

func testExpiry(t *testing.T, f *fixture) {
	ctx := context.Background()
	short := f.res(f.offer, f.users[0], 1, time.Second)
	long := f.res(f.offer, f.users[1], 2, time.Hour)
	must(t, f.Ledger.Reserve(ctx, short, 0, nil))
	must(t, f.Ledger.Reserve(ctx, long, 0, nil))

	got, err := f.Ledger.ExpireDue(ctx, now(), 100)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("expired %d before their time", len(got))
	}
	got, err = f.Ledger.ExpireDue(ctx, now().Add(time.Minute), 100)
	must(t, err)
	if len(got) != 1 || got[0].ID != short.ID || got[0].State != checkout.Expired || got[0].Quantity != 1 {
		t.Fatalf("ExpireDue = %+v", got)
	}
	f.counts(f.offer, 2, 0, 2, 0)
	got, err = f.Ledger.ExpireDue(ctx, now().Add(time.Minute), 100)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("expired twice: %+v", got)
	}

	// Many reservations, several sweepers at once: each expires exactly once.
	o := f.offerWith(10, 0)
	for i := range 10 {
		must(t, f.Ledger.Reserve(ctx, f.res(o, f.users[i%4], 1, time.Second), 0, nil))
	}
	var total atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				got, err := f.Ledger.ExpireDue(ctx, now().Add(time.Hour), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				total.Add(int64(len(got)))
			}
		})
	}
	wg.Wait()
	if total.Load() != 11 { // 10 here and the long one from above
		t.Fatalf("concurrent sweepers expired %d, want 11", total.Load())
	}
	f.counts(o, 0, 0, 0, 0)
}

func (f *fixture) order(r *checkout.Reservation) *checkout.Order {
	t := now()
	return &checkout.Order{ID: uuid.New(), UserID: r.UserID, ReservationID: r.ID, OfferID: r.OfferID, ShowID: r.ShowID,
		SKUID: r.SKUID, BrandID: f.brand, Quantity: r.Quantity, UnitPriceMinor: r.PriceMinor,
		TotalMinor: r.PriceMinor * int64(r.Quantity), Currency: r.Currency, State: checkout.Pending,
		Shipping:  checkout.Shipping{Name: "Ada Lovelace", Line1: "12 St James's Sq", City: "London", PostalCode: "SW1Y 4JH", Country: "GB", Phone: "+44 20 0000 0000"},
		CreatedAt: t, UpdatedAt: t}
}

func testOrders(t *testing.T, f *fixture) {
	ctx := context.Background()
	r := f.res(f.offer, f.users[0], 2, time.Hour)
	must(t, f.Ledger.Reserve(ctx, r, 0, nil))

	// Someone else's reservation cannot be ordered.
	foreign := f.order(r)
	foreign.UserID = f.users[1]
	wantCode(t, f.Ledger.BeginOrder(ctx, foreign, now()), apperr.NotFound)

	o := f.order(r)
	must(t, f.Ledger.BeginOrder(ctx, o, now()))
	got, err := f.Ledger.ReservationByID(ctx, r.ID)
	must(t, err)
	if got.State != checkout.Ordering {
		t.Fatalf("reservation after BeginOrder: %s", got.State)
	}
	// The sweeper leaves a reservation being paid for alone, even past its expiry.
	exp, err := f.Ledger.ExpireDue(ctx, now().Add(2*time.Hour), 10)
	must(t, err)
	if len(exp) != 0 {
		t.Fatalf("sweeper expired a reservation being paid for")
	}
	// A second order on the same reservation is refused.
	wantCode(t, f.Ledger.BeginOrder(ctx, f.order(r), now()), apperr.Gone)

	pend, err := f.Ledger.PendingOrders(ctx, now().Add(time.Second), 10)
	must(t, err)
	if len(pend) != 1 || pend[0].ID != o.ID {
		t.Fatalf("PendingOrders = %+v", pend)
	}
	pend, err = f.Ledger.PendingOrders(ctx, o.CreatedAt.Add(-time.Second), 10)
	must(t, err)
	if len(pend) != 0 {
		t.Fatalf("PendingOrders before cutoff = %+v", pend)
	}

	paid, err := f.Ledger.CompletePayment(ctx, o.ID, "ch_1", now())
	must(t, err)
	if paid.State != checkout.Paid || paid.PaymentRef != "ch_1" {
		t.Fatalf("after CompletePayment: %+v", paid)
	}
	f.counts(f.offer, 0, 2, 0, 2)
	_, err = f.Ledger.CompletePayment(ctx, o.ID, "ch_2", now())
	wantCode(t, err, apperr.Conflict)
	f.counts(f.offer, 0, 2, 0, 2)
	got, err = f.Ledger.ReservationByID(ctx, r.ID)
	must(t, err)
	if got.State != checkout.Ordered {
		t.Fatalf("reservation after payment: %s", got.State)
	}
	// Bought units still count against the customer's limit.
	n, err := f.Ledger.CustomerUnits(ctx, f.offer.ID, f.users[0])
	must(t, err)
	if n != 2 {
		t.Fatalf("CustomerUnits after purchase = %d", n)
	}

	full, err := f.Ledger.OrderByID(ctx, o.ID)
	must(t, err)
	if full.Shipping != o.Shipping || full.TotalMinor != 300_000 || full.BrandID != f.brand || full.Currency != "EUR" {
		t.Fatalf("OrderByID = %+v", full)
	}
	_, err = f.Ledger.OrderByID(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	// An abandoned payment returns the reservation to held, with its units.
	r2 := f.res(f.offer, f.users[1], 1, time.Hour)
	must(t, f.Ledger.Reserve(ctx, r2, 0, nil))
	o2 := f.order(r2)
	must(t, f.Ledger.BeginOrder(ctx, o2, now()))
	must(t, f.Ledger.AbandonOrder(ctx, o2.ID, now()))
	_, err = f.Ledger.OrderByID(ctx, o2.ID)
	wantCode(t, err, apperr.NotFound)
	got, err = f.Ledger.ReservationByID(ctx, r2.ID)
	must(t, err)
	if got.State != checkout.Held {
		t.Fatalf("reservation after AbandonOrder: %s", got.State)
	}
	f.counts(f.offer, 1, 2, 1, 2)

	// An expired hold cannot be ordered.
	r3 := f.res(f.offer, f.users[2], 1, time.Second)
	must(t, f.Ledger.Reserve(ctx, r3, 0, nil))
	wantCode(t, f.Ledger.BeginOrder(ctx, f.order(r3), now().Add(time.Minute)), apperr.Gone)

	// Listings.
	o4 := f.order(r2)
	must(t, f.Ledger.BeginOrder(ctx, o4, now()))
	_, err = f.Ledger.CompletePayment(ctx, o4.ID, "ch_4", now())
	must(t, err)
	list, err := f.Ledger.ListOrders(ctx, checkout.OrderFilter{UserID: f.users[0]})
	must(t, err)
	if len(list) != 1 || list[0].ID != o.ID {
		t.Fatalf("ListOrders by user = %+v", list)
	}
	list, err = f.Ledger.ListOrders(ctx, checkout.OrderFilter{BrandID: f.brand})
	must(t, err)
	if len(list) != 2 || list[0].ID != o4.ID {
		t.Fatalf("ListOrders by brand (newest first) = %d orders", len(list))
	}
	list, err = f.Ledger.ListOrders(ctx, checkout.OrderFilter{ShowID: f.show, States: []checkout.OrderState{checkout.Paid}, Limit: 1, Offset: 1})
	must(t, err)
	if len(list) != 1 || list[0].ID != o.ID {
		t.Fatalf("ListOrders by show, page 2 = %+v", list)
	}
	list, err = f.Ledger.ListOrders(ctx, checkout.OrderFilter{BrandID: uuid.New()})
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("ListOrders for another brand = %+v", list)
	}
}

func (f *fixture) paidOrder(o *checkout.Offer, user uuid.UUID, qty int) *checkout.Order {
	ctx := context.Background()
	r := f.res(o, user, qty, time.Hour)
	must(f.t, f.Ledger.Reserve(ctx, r, 0, nil))
	ord := f.order(r)
	must(f.t, f.Ledger.BeginOrder(ctx, ord, now()))
	_, err := f.Ledger.CompletePayment(ctx, ord.ID, "ch_"+ord.ID.String(), now())
	must(f.t, err)
	return ord
}

func testOrderStates(t *testing.T, f *fixture) {
	ctx := context.Background()
	a := f.paidOrder(f.offer, f.users[0], 1)
	b := f.paidOrder(f.offer, f.users[1], 2)
	c := f.paidOrder(f.offer, f.users[2], 1)
	f.counts(f.offer, 0, 4, 0, 4)

	got, err := f.Ledger.SetOrderState(ctx, a.ID, checkout.Fulfilled, false, now())
	must(t, err)
	if got.State != checkout.Fulfilled {
		t.Fatalf("state = %s", got.State)
	}
	// Fulfilled, then refunded without the goods coming back: stock stays sold.
	_, err = f.Ledger.SetOrderState(ctx, a.ID, checkout.Refunded, false, now())
	must(t, err)
	f.counts(f.offer, 0, 4, 0, 4)
	// Cancelled before fulfilment: the units go back.
	_, err = f.Ledger.SetOrderState(ctx, b.ID, checkout.Cancelled, true, now())
	must(t, err)
	f.counts(f.offer, 0, 2, 0, 2)
	r, err := f.Ledger.ReservationByID(ctx, b.ReservationID)
	must(t, err)
	if r.State != checkout.Returned {
		t.Fatalf("reservation of a cancelled order: %s", r.State)
	}
	n, err := f.Ledger.CustomerUnits(ctx, f.offer.ID, f.users[1])
	must(t, err)
	if n != 0 {
		t.Fatalf("a cancelled order still counts %d units against the customer", n)
	}
	// Refunded with restock.
	_, err = f.Ledger.SetOrderState(ctx, c.ID, checkout.Refunded, true, now())
	must(t, err)
	f.counts(f.offer, 0, 1, 0, 1)

	// What the state machine refuses, it refuses without change.
	for _, tc := range []struct {
		id uuid.UUID
		to checkout.OrderState
	}{
		{a.ID, checkout.Fulfilled}, {a.ID, checkout.Cancelled}, {b.ID, checkout.Refunded}, {b.ID, checkout.Paid},
		{c.ID, checkout.Cancelled}, {b.ID, checkout.Pending},
	} {
		_, err := f.Ledger.SetOrderState(ctx, tc.id, tc.to, true, now())
		wantCode(t, err, apperr.Conflict)
	}
	f.counts(f.offer, 0, 1, 0, 1)
	_, err = f.Ledger.SetOrderState(ctx, uuid.New(), checkout.Fulfilled, false, now())
	wantCode(t, err, apperr.NotFound)

	// A pending order cannot be fulfilled.
	r2 := f.res(f.offer, f.users[3], 1, time.Hour)
	must(t, f.Ledger.Reserve(ctx, r2, 0, nil))
	p := f.order(r2)
	must(t, f.Ledger.BeginOrder(ctx, p, now()))
	_, err = f.Ledger.SetOrderState(ctx, p.ID, checkout.Fulfilled, false, now())
	wantCode(t, err, apperr.Conflict)
}

func testIdempotency(t *testing.T, f *fixture) {
	ctx := context.Background()
	rec := &checkout.Idempotency{UserID: f.users[0], Key: "k-1", Op: "reserve", RequestHash: "h1", CreatedAt: now()}
	got, fresh, err := f.Ledger.ClaimIdempotency(ctx, rec)
	must(t, err)
	if !fresh || got == nil {
		t.Fatalf("first claim: fresh=%v", fresh)
	}
	got, fresh, err = f.Ledger.ClaimIdempotency(ctx, &checkout.Idempotency{UserID: f.users[0], Key: "k-1", Op: "reserve", RequestHash: "h2", CreatedAt: now()})
	must(t, err)
	if fresh || got.RequestHash != "h1" || len(got.Result) != 0 {
		t.Fatalf("second claim: fresh=%v rec=%+v", fresh, got)
	}
	must(t, f.Ledger.FinishIdempotency(ctx, f.users[0], "reserve", "k-1", []byte(`{"ok":true}`)))
	got, fresh, err = f.Ledger.ClaimIdempotency(ctx, rec)
	must(t, err)
	if fresh || string(got.Result) != `{"ok":true}` {
		t.Fatalf("after finish: fresh=%v result=%s", fresh, got.Result)
	}
	// Keys are scoped per user and per operation.
	for _, other := range []*checkout.Idempotency{
		{UserID: f.users[1], Key: "k-1", Op: "reserve", RequestHash: "h", CreatedAt: now()},
		{UserID: f.users[0], Key: "k-1", Op: "order", RequestHash: "h", CreatedAt: now()},
	} {
		_, fresh, err := f.Ledger.ClaimIdempotency(ctx, other)
		must(t, err)
		if !fresh {
			t.Fatalf("claim %+v was not fresh", other)
		}
	}
	must(t, f.Ledger.DropIdempotency(ctx, f.users[1], "reserve", "k-1"))
	_, fresh, err = f.Ledger.ClaimIdempotency(ctx, &checkout.Idempotency{UserID: f.users[1], Key: "k-1", Op: "reserve", RequestHash: "h3", CreatedAt: now()})
	must(t, err)
	if !fresh {
		t.Fatal("a dropped key could not be claimed again")
	}

	// Reserve records its key in the same transaction; a taken key reserves nothing.
	r := f.res(f.offer, f.users[3], 1, time.Minute)
	key := &checkout.Idempotency{UserID: f.users[3], Key: "tap", Op: "reserve", RequestHash: "hr", Result: []byte(`{"r":1}`), CreatedAt: now()}
	must(t, f.Ledger.Reserve(ctx, r, 0, key))
	again := f.res(f.offer, f.users[3], 1, time.Minute)
	if err := f.Ledger.Reserve(ctx, again, 0, key); !errors.Is(err, checkout.ErrKeyTaken) {
		t.Fatalf("Reserve with a taken key: %v", err)
	}
	f.counts(f.offer, 1, 0, 1, 0)
	_, err = f.Ledger.ReservationByID(ctx, again.ID)
	wantCode(t, err, apperr.NotFound)
	stored, err := f.Ledger.LookupIdempotency(ctx, f.users[3], "reserve", "tap")
	must(t, err)
	if stored.RequestHash != "hr" || string(stored.Result) != `{"r":1}` {
		t.Fatalf("stored key = %+v", stored)
	}
	// A refused reservation does not keep its key.
	soldOut := &checkout.Idempotency{UserID: f.users[3], Key: "big", Op: "reserve", RequestHash: "h", Result: []byte(`{}`), CreatedAt: now()}
	wantIs(t, f.Ledger.Reserve(ctx, f.res(f.offer, f.users[3], 5, time.Minute), 0, soldOut), checkout.ErrSoldOut)
	_, err = f.Ledger.LookupIdempotency(ctx, f.users[3], "reserve", "big")
	wantCode(t, err, apperr.NotFound)

	// Concurrent claims of one key: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			_, fresh, err := f.Ledger.ClaimIdempotency(ctx, &checkout.Idempotency{UserID: f.users[2], Key: "race", Op: "order", RequestHash: "h", CreatedAt: now()})
			if err != nil {
				t.Error(err)
			}
			if fresh {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent claims of one key won", wins.Load())
	}
}

// testConcurrentReserve hammers the ledger directly (no gate in front): the
// conditional updates alone must keep every invariant.
func testConcurrentReserve(t *testing.T, f *fixture) {
	ctx := context.Background()
	crowd := make([]uuid.UUID, 40)
	for i := range crowd {
		u := newUser(uuid.NewString()[:8] + "@crowd.example")
		must(t, f.Accounts.CreateUser(ctx, u, "h"))
		crowd[i] = u.ID
	}
	o := f.newOffer(10, 2) // 10 units, two per customer
	var ok, soldOut, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 120 {
		wg.Go(func() {
			err := f.Ledger.Reserve(ctx, f.res(o, crowd[i%len(crowd)], 1, time.Minute), o.PerCustomerLimit, nil)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, checkout.ErrSoldOut):
				soldOut.Add(1)
			case errors.Is(err, checkout.ErrLimitReached):
				limited.Add(1)
			default:
				t.Errorf("Reserve: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 {
		t.Fatalf("%d reservations of 10 units (sold out %d, limited %d)", ok.Load(), soldOut.Load(), limited.Load())
	}
	f.counts(o, 10, 0, 10, 0)
	m, err := f.Ledger.OfferCustomers(ctx, o.ID)
	must(t, err)
	for u, n := range m {
		if n > 2 {
			t.Fatalf("customer %s holds %d units, over the limit of 2", u, n)
		}
	}

	// One customer tapping from many devices at once gets exactly the limit.
	var mine atomic.Int32
	solo := crowd[0]
	oLimit := f.offerWith(8, 2)
	for range 30 {
		wg.Go(func() {
			if f.Ledger.Reserve(ctx, f.res(oLimit, solo, 1, time.Minute), 2, nil) == nil {
				mine.Add(1)
			}
		})
	}
	wg.Wait()
	if mine.Load() != 2 {
		t.Fatalf("one customer on 30 devices got %d units, limit 2", mine.Load())
	}
}

// offerWith is newOffer on a fresh SKU, so earlier holds do not use up its stock.
func (f *fixture) offerWith(allocated, limit int) *checkout.Offer {
	ctx := context.Background()
	p := newProduct(f.brand, "Scarf "+uuid.NewString()[:4], checkout.SKU{Code: "S-" + uuid.NewString()[:8], Currency: "EUR", PriceMinor: 100, OnHand: allocated})
	must(f.t, f.Catalog.CreateProduct(ctx, p))
	o := &checkout.Offer{ID: uuid.New(), ShowID: f.show, SKUID: p.SKUs[0].ID, PriceMinor: 90, Currency: "EUR",
		Allocated: allocated, PerCustomerLimit: limit, CreatedAt: now()}
	must(f.t, f.Catalog.CreateOffer(ctx, o))
	return o
}
