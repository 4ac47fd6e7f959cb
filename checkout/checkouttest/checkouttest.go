// Package checkouttest is the buy path's behaviour suite: the stampede, holds
// that expire, orders paid exactly once, every refusal, and the gate and the
// ledger disagreeing. Each storage mode runs it with its own ledger and gate
// (SQLite with the in-process gate; PostgreSQL with the Redis gate).
package checkouttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// Env is one storage mode: its stores over a fresh database and a fresh gate.
type Env struct {
	Stores storetest.Stores
	Gate   checkout.Gate
	// NewGate makes another gate over the same backing state as Gate would
	// after losing its memory (nil: the suite skips the lost-state test).
	NewGate func() checkout.Gate
}

// Run runs the suite; open is called once per test.
func Run(t *testing.T, open func(t *testing.T) Env) {
	t.Run("Stampede", func(t *testing.T) { testStampede(t, setup(t, open(t), 100, 1)) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, setup(t, open(t), 5, 2)) })
	t.Run("Idempotency", func(t *testing.T) { testIdempotency(t, setup(t, open(t), 5, 0)) })
	t.Run("PaymentOutcomes", func(t *testing.T) { testPayments(t, setup(t, open(t), 5, 0)) })
	t.Run("CancelRefund", func(t *testing.T) { testCancelRefund(t, setup(t, open(t), 3, 0)) })
	t.Run("LedgerWins", func(t *testing.T) { testLedgerWins(t, setup(t, open(t), 5, 0)) })
	t.Run("Visibility", func(t *testing.T) { testVisibility(t, setup(t, open(t), 5, 0)) })
	t.Run("GateDrift", func(t *testing.T) { testGateDrift(t, setup(t, open(t), 3, 0)) })
	t.Run("FlashDrop", func(t *testing.T) { testFlashDrop(t, setup(t, open(t), 5, 0)) })
	runGroupCommit(t, open)
}

// World is a brand with a live show offering one SKU, a service over it, and
// a clock the test moves.
type World struct {
	t       testing.TB
	env     Env
	Svc     *checkout.Service
	Pay     *testpay.Provider
	Brand   *brand.Brand
	Show    *show.Show
	SKU     *checkout.SKU
	Offer   *checkout.Offer
	clockMu sync.Mutex
	clock   time.Time
}

func (w *World) now() time.Time {
	w.clockMu.Lock()
	defer w.clockMu.Unlock()
	return w.clock
}

// Advance moves the service's clock.
func (w *World) Advance(d time.Duration) {
	w.clockMu.Lock()
	w.clock = w.clock.Add(d)
	w.clockMu.Unlock()
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func setup(t testing.TB, env Env, allocated, limit int) *World {
	ctx := context.Background()
	st := env.Stores
	now := time.Now().UTC().Truncate(time.Microsecond)
	w := &World{t: t, env: env, clock: now, Pay: &testpay.Provider{Slow: 50 * time.Millisecond, Hang: 2 * time.Second}}
	w.Brand = &brand.Brand{ID: uuid.New(), Slug: "b" + uuid.NewString()[:8], Name: "Maison", CreatedAt: now, UpdatedAt: now}
	must(t, st.Brands.CreateBrand(ctx, w.Brand))
	p := &checkout.Product{ID: uuid.New(), BrandID: w.Brand.ID, Name: "Limited bag", Images: []string{}, CreatedAt: now,
		SKUs: []checkout.SKU{{ID: uuid.New(), Code: "LB-1", Attributes: map[string]string{}, PriceMinor: 250_000, Currency: "EUR", OnHand: allocated + 20, UpdatedAt: now}}}
	must(t, st.Catalog.CreateProduct(ctx, p))
	w.SKU = &p.SKUs[0]
	w.Show = &show.Show{ID: uuid.New(), BrandID: w.Brand.ID, Title: "Live drop", Kind: show.KindShow, Visibility: show.Public,
		State: show.Live, StartsAt: now, EndsAt: now.Add(time.Hour), TimeZone: "UTC", HostIDs: []uuid.UUID{}, HoldSeconds: 300,
		CreatedAt: now, UpdatedAt: now}
	must(t, st.Shows.CreateShow(ctx, w.Show))
	w.Offer = &checkout.Offer{ID: uuid.New(), ShowID: w.Show.ID, SKUID: w.SKU.ID, PriceMinor: 199_000, Currency: "EUR",
		Allocated: allocated, PerCustomerLimit: limit, CreatedAt: now}
	must(t, st.Catalog.CreateOffer(ctx, w.Offer))
	w.Svc = &checkout.Service{Catalog: st.Catalog, Ledger: st.Ledger, Gate: env.Gate, Shows: st.Shows, Payments: w.Pay,
		Now: w.now, PaymentTimeout: 500 * time.Millisecond}
	return w
}

// Users makes n viewer accounts.
func (w *World) Users(n int) []*account.User {
	ctx := context.Background()
	out := make([]*account.User, n)
	for i := range out {
		u := &account.User{ID: uuid.New(), Email: fmt.Sprintf("%s@crowd.example", uuid.NewString()), DisplayName: "Buyer",
			Roles: []account.Role{account.RoleViewer}, BrandIDs: []uuid.UUID{}, CreatedAt: w.now()}
		must(w.t, w.env.Stores.Accounts.CreateUser(ctx, u, "x"))
		out[i] = u
	}
	return out
}

// Check asserts the ledger's counts on the offer and SKU, and that the SKU's
// invariant holds.
func (w *World) Check(held, sold int) {
	w.t.Helper()
	ctx := context.Background()
	o, err := w.env.Stores.Catalog.OfferByID(ctx, w.Offer.ID)
	must(w.t, err)
	s, err := w.env.Stores.Catalog.SKUByID(ctx, w.SKU.ID)
	must(w.t, err)
	if o.Held != held || o.Sold != sold || s.Held != held || s.Sold != sold {
		w.t.Fatalf("offer held/sold %d/%d, SKU %d/%d; want %d/%d", o.Held, o.Sold, s.Held, s.Sold, held, sold)
	}
	if o.Sold+o.Held > o.Allocated || s.Sold+s.Held > s.OnHand {
		w.t.Fatalf("oversold: offer %d+%d of %d, SKU %d+%d of %d", o.Sold, o.Held, o.Allocated, s.Sold, s.Held, s.OnHand)
	}
}

var ship = checkout.Shipping{Name: "Mei Lin", Line1: "88 Century Ave", City: "Shanghai", PostalCode: "200120", Country: "cn", Phone: "+86 21 0000 0000"}

func (w *World) order(u *account.User, r *checkout.Reservation, token, key string) (*checkout.Order, error) {
	o, _, err := w.Svc.PlaceOrder(context.Background(), u, checkout.OrderRequest{ReservationID: r.ID, Shipping: ship, PaymentToken: token, IdempotencyKey: key})
	return o, err
}

// wave sends taps concurrently: tap i comes from users[i % len(users)].
func (w *World) wave(users []*account.User, taps int) (won map[uuid.UUID][]*checkout.Reservation, soldOut, limited int) {
	var mu sync.Mutex
	won = map[uuid.UUID][]*checkout.Reservation{}
	var so, lim atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for i := range taps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u := users[i%len(users)]
			r, _, err := w.Svc.Reserve(context.Background(), u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1, IdempotencyKey: uuid.NewString()})
			switch {
			case err == nil:
				mu.Lock()
				won[u.ID] = append(won[u.ID], r)
				mu.Unlock()
			case errors.Is(err, checkout.ErrSoldOut):
				so.Add(1)
			case errors.Is(err, checkout.ErrLimitReached):
				lim.Add(1)
			default:
				w.t.Errorf("Reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	return won, int(so.Load()), int(lim.Load())
}

func count(won map[uuid.UUID][]*checkout.Reservation) int {
	n := 0
	for _, rs := range won {
		n += len(rs)
	}
	return n
}

// testStampede: 5,000 taps from 2,000 customers (limit one each) on 100
// units: exactly 100 holds, no customer over the limit; 30 holds expire and
// come back to a second wave; every winner pays, each exactly once.
func testStampede(t *testing.T, w *World) {
	ctx := context.Background()
	crowd := w.Users(2000)
	won, soldOut, limited := w.wave(crowd, 5000)
	if n := count(won); n != 100 {
		t.Fatalf("stampede: %d holds of 100 units (sold out %d, limited %d)", n, soldOut, limited)
	}
	for u, rs := range won {
		if len(rs) > 1 {
			t.Fatalf("customer %s holds %d units; the limit is 1", u, len(rs))
		}
	}
	if soldOut+limited != 4900 {
		t.Fatalf("refusals = %d sold out + %d limited, want 4900", soldOut, limited)
	}
	w.Check(100, 0)
	if avail, ok, err := w.env.Gate.Available(ctx, w.Offer.ID); err != nil || !ok || avail != 0 {
		t.Fatalf("gate after the stampede: %d %v %v", avail, ok, err)
	}

	// 70 winners pay now; 30 let their hold run out.
	var payers, idlers []*account.User
	byID := map[uuid.UUID]*account.User{}
	for _, u := range crowd {
		byID[u.ID] = u
	}
	for id := range won {
		if len(payers) < 70 {
			payers = append(payers, byID[id])
		} else {
			idlers = append(idlers, byID[id])
		}
	}
	w.payAll(payers, won)
	w.Check(30, 70)

	w.Advance(301 * time.Second)
	must(t, w.Svc.Sweep(ctx))
	w.Check(0, 70)
	for _, u := range idlers {
		r, err := w.env.Stores.Ledger.ReservationByID(ctx, won[u.ID][0].ID)
		must(t, err)
		if r.State != checkout.Expired {
			t.Fatalf("an idle hold is %s after its time", r.State)
		}
		if _, err := w.order(u, r, testpay.TokenSuccess, ""); apperr.CodeOf(err) != apperr.Gone {
			t.Fatalf("ordering an expired hold: %v", err)
		}
	}
	if avail, _, _ := w.env.Gate.Available(ctx, w.Offer.ID); avail != 30 {
		t.Fatalf("gate after expiry = %d, want 30", avail)
	}

	// A second wave from new customers gets exactly the 30 returned units.
	second := w.Users(300)
	won2, _, _ := w.wave(second, 900)
	if n := count(won2); n != 30 {
		t.Fatalf("second wave: %d holds of 30 returned units", n)
	}
	var buyers2 []*account.User
	for _, u := range second {
		if len(won2[u.ID]) > 0 {
			buyers2 = append(buyers2, u)
		}
	}
	w.payAll(buyers2, won2)
	w.Check(0, 100)

	charges, charged, _ := w.Pay.Totals()
	if charges != 100 || charged != 100*199_000 {
		t.Fatalf("provider took %d charges, %d minor units; want 100 and %d", charges, charged, 100*199_000)
	}
	paid, err := w.env.Stores.Ledger.ListOrders(ctx, checkout.OrderFilter{ShowID: w.Show.ID, Limit: 1000})
	must(t, err)
	if len(paid) != 100 {
		t.Fatalf("%d orders, want 100", len(paid))
	}
	seen := map[uuid.UUID]bool{}
	for _, o := range paid {
		if o.State != checkout.Paid || seen[o.ReservationID] {
			t.Fatalf("order %s: state %s, reservation seen before %v", o.ID, o.State, seen[o.ReservationID])
		}
		seen[o.ReservationID] = true
	}
}

// payAll places every winner's order at once, each with a retry of the same
// key racing it, so that "paid exactly once" is tested under concurrency.
func (w *World) payAll(users []*account.User, won map[uuid.UUID][]*checkout.Reservation) {
	var wg sync.WaitGroup
	for _, u := range users {
		r := won[u.ID][0]
		key := uuid.NewString()
		for range 2 {
			wg.Go(func() {
				o, err := w.order(u, r, testpay.TokenSuccess, key)
				if err != nil {
					// The twin may still be running: that is the only refusal allowed.
					if apperr.CodeOf(err) != apperr.Conflict {
						w.t.Errorf("order: %v", err)
					}
					return
				}
				if o.State != checkout.Paid {
					w.t.Errorf("order state %s", o.State)
				}
			})
		}
	}
	wg.Wait()
}

func testBadInput(t *testing.T, w *World) {
	ctx := context.Background()
	users := w.Users(3)
	a, b := users[0], users[1]
	reserve := func(u *account.User, offer uuid.UUID, qty int) error {
		_, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: offer, Quantity: qty})
		return err
	}
	for _, tc := range []struct {
		name string
		err  error
		code apperr.Code
	}{
		{"unknown offer", reserve(a, uuid.New(), 1), apperr.NotFound},
		{"quantity 0", reserve(a, w.Offer.ID, 0), apperr.Invalid},
		{"negative quantity", reserve(a, w.Offer.ID, -2), apperr.Invalid},
		{"huge quantity", reserve(a, w.Offer.ID, 1000), apperr.Invalid},
		{"over the limit", reserve(a, w.Offer.ID, 3), apperr.LimitReached},
		{"anonymous", reserve(nil, w.Offer.ID, 1), apperr.Unauthorized},
		{"NUL in the key", func() error {
			_, _, err := w.Svc.Reserve(ctx, a, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1, IdempotencyKey: "ws:\x00"})
			return err
		}(), apperr.Invalid},
	} {
		if got := apperr.CodeOf(tc.err); got != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, tc.err, tc.code)
		}
	}
	w.Check(0, 0)

	r, _, err := w.Svc.Reserve(ctx, a, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 2})
	must(t, err)
	if err := reserve(a, w.Offer.ID, 1); !errors.Is(err, checkout.ErrLimitReached) {
		t.Fatalf("third unit for a customer limited to two: %v", err)
	}
	// Another customer's reservation can be neither released nor ordered.
	if _, err := w.Svc.Release(ctx, b, r.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("releasing a foreign reservation: %v", err)
	}
	if _, err := w.order(b, r, testpay.TokenSuccess, ""); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("ordering a foreign reservation: %v", err)
	}
	// Bad shipping and payment details change nothing.
	for _, tc := range []struct {
		name string
		req  checkout.OrderRequest
	}{
		{"no name", checkout.OrderRequest{ReservationID: r.ID, Shipping: checkout.Shipping{Line1: "x", City: "y", Country: "FR"}, PaymentToken: testpay.TokenSuccess}},
		{"bad country", checkout.OrderRequest{ReservationID: r.ID, Shipping: checkout.Shipping{Name: "n", Line1: "x", City: "y", Country: "France"}, PaymentToken: testpay.TokenSuccess}},
		{"no token", checkout.OrderRequest{ReservationID: r.ID, Shipping: ship}},
		// PostgreSQL refuses a NUL in text: the domain must refuse it first.
		{"NUL in the address", checkout.OrderRequest{ReservationID: r.ID, Shipping: checkout.Shipping{Name: "n", Line1: "x\x00", City: "y", Country: "FR"}, PaymentToken: testpay.TokenSuccess}},
		{"bidi override in the name", checkout.OrderRequest{ReservationID: r.ID, Shipping: checkout.Shipping{Name: "n\u202e", Line1: "x", City: "y", Country: "FR"}, PaymentToken: testpay.TokenSuccess}},
		{"NUL in the key", checkout.OrderRequest{ReservationID: r.ID, Shipping: ship, PaymentToken: testpay.TokenSuccess, IdempotencyKey: "k\x00"}},
	} {
		if _, _, err := w.Svc.PlaceOrder(ctx, a, tc.req); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if _, err := w.order(a, &checkout.Reservation{ID: uuid.New()}, testpay.TokenSuccess, ""); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("ordering a missing reservation: %v", err)
	}
	w.Check(2, 0)

	// Declined and short of funds: 402-class errors, nothing changes, the hold stays.
	for _, tok := range []string{testpay.TokenDeclined, "4000 0000 0000 9995", "tok_nonsense"} {
		if _, err := w.order(a, r, tok, ""); apperr.CodeOf(err) != apperr.PaymentFailed {
			t.Fatalf("token %s: %v", tok, err)
		}
		w.Check(2, 0)
		got, err := w.env.Stores.Ledger.ReservationByID(ctx, r.ID)
		must(t, err)
		if got.State != checkout.Held {
			t.Fatalf("after a declined card the hold is %s", got.State)
		}
	}
	if orders, _ := w.Svc.MyOrders(ctx, a, 0, 10); len(orders) != 0 {
		t.Fatalf("declined payments left %d orders", len(orders))
	}
	// The customer tries another card: it works.
	o, err := w.order(a, r, "4242 4242 4242 4242", "")
	must(t, err)
	if o.State != checkout.Paid || o.TotalMinor != 2*199_000 || o.Shipping.Country != "CN" {
		t.Fatalf("order = %+v", o)
	}
	w.Check(0, 2)
	// A reservation is ordered once.
	if _, err := w.order(a, r, testpay.TokenSuccess, ""); apperr.CodeOf(err) != apperr.Gone {
		t.Fatalf("ordering a reservation twice: %v", err)
	}
	// Released holds cannot be released again or ordered.
	r2, _, err := w.Svc.Reserve(ctx, b, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
	must(t, err)
	_, err = w.Svc.Release(ctx, b, r2.ID)
	must(t, err)
	w.Check(0, 2)
	if _, err := w.Svc.Release(ctx, b, r2.ID); apperr.CodeOf(err) != apperr.Gone {
		t.Fatalf("second release: %v", err)
	}
	if _, err := w.order(b, r2, testpay.TokenSuccess, ""); apperr.CodeOf(err) != apperr.Gone {
		t.Fatalf("ordering a released hold: %v", err)
	}
	// An ended show sells nothing.
	w.Show.State = show.Ended
	must(t, w.env.Stores.Shows.UpdateShow(ctx, w.Show))
	w.Svc.ForgetShow(w.Show.ID)
	if err := reserve(users[2], w.Offer.ID, 1); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("reserving in an ended show: %v", err)
	}
}

func testIdempotency(t *testing.T, w *World) {
	ctx := context.Background()
	u := w.Users(1)[0]
	req := checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 2, IdempotencyKey: "tap-1"}
	r1, replayed, err := w.Svc.Reserve(ctx, u, req)
	must(t, err)
	if replayed {
		t.Fatal("the first answer is not a replay")
	}
	r2, replayed, err := w.Svc.Reserve(ctx, u, req)
	must(t, err)
	if !replayed || r2.ID != r1.ID {
		t.Fatalf("retry got %v (replayed %v), want %v", r2.ID, replayed, r1.ID)
	}
	w.Check(2, 0)
	bad := req
	bad.Quantity = 1
	if _, _, err := w.Svc.Reserve(ctx, u, bad); apperr.CodeOf(err) != apperr.Unprocessable {
		t.Fatalf("same key, other quantity: %v", err)
	}
	w.Check(2, 0)

	// Sold out afterwards, a retry of the winning tap still gets its hold back.
	other := w.Users(1)[0]
	_, _, err = w.Svc.Reserve(ctx, other, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 3})
	must(t, err)
	r3, replayed, err := w.Svc.Reserve(ctx, u, req)
	if err != nil || !replayed || r3.ID != r1.ID {
		t.Fatalf("retry after sell-out: %v %v", r3, err)
	}

	// Orders: a retry replays the paid order; the provider charged once.
	oreq := checkout.OrderRequest{ReservationID: r1.ID, Shipping: ship, PaymentToken: testpay.TokenSuccess, IdempotencyKey: "pay-1"}
	o1, _, err := w.Svc.PlaceOrder(ctx, u, oreq)
	must(t, err)
	o2, replayed, err := w.Svc.PlaceOrder(ctx, u, oreq)
	if err != nil || !replayed || o2.ID != o1.ID || o2.State != checkout.Paid {
		t.Fatalf("order retry: %+v %v %v", o2, replayed, err)
	}
	if n, _, _ := w.Pay.Totals(); n != 1 {
		t.Fatalf("%d charges for one order", n)
	}
	oreq.Shipping.City = "Beijing"
	if _, _, err := w.Svc.PlaceOrder(ctx, u, oreq); apperr.CodeOf(err) != apperr.Unprocessable {
		t.Fatalf("order key reused with another address: %v", err)
	}
}

func testPayments(t *testing.T, w *World) {
	ctx := context.Background()
	u := w.Users(1)[0]
	// Slow but within the deadline: paid.
	r, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
	must(t, err)
	o, err := w.order(u, r, testpay.TokenSlow, "")
	must(t, err)
	if o.State != checkout.Paid {
		t.Fatalf("slow payment: %s", o.State)
	}

	// The provider charges but does not answer in time: the order waits,
	// pending, and the reconciler records the payment. One charge, one order.
	r, _, err = w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
	must(t, err)
	o, err = w.order(u, r, testpay.TokenTimeout, "k-timeout")
	must(t, err)
	if o.State != checkout.Pending {
		t.Fatalf("timed-out payment: %s", o.State)
	}
	w.Check(2-1, 1) // the pending order's units stay held
	// Not yet due for reconciliation.
	must(t, w.Svc.Sweep(ctx))
	if got, _ := w.Svc.Order(ctx, u, o.ID); got.State != checkout.Pending {
		t.Fatalf("reconciled too early: %s", got.State)
	}
	// Even past the hold's expiry, a payment in flight keeps its units.
	w.Advance(time.Hour)
	must(t, w.Svc.Sweep(ctx))
	got, err := w.Svc.Order(ctx, u, o.ID)
	must(t, err)
	if got.State != checkout.Paid || got.PaymentRef == "" {
		t.Fatalf("after reconciliation: %+v", got)
	}
	w.Check(0, 2)
	if n, _, _ := w.Pay.Totals(); n != 2 {
		t.Fatalf("%d charges for two orders", n)
	}
	// A retry of the timed-out request replays the pending answer it got;
	// reading the order shows it paid.
	again, replayed, err := w.Svc.PlaceOrder(ctx, u, checkout.OrderRequest{ReservationID: r.ID, Shipping: ship, PaymentToken: testpay.TokenTimeout, IdempotencyKey: "k-timeout"})
	if err != nil || !replayed || again.ID != o.ID {
		t.Fatalf("retry of a timed-out order: %v %v", again, err)
	}

	// A declined card with a key: the retry is declined again, from the
	// record, without another charge attempt; a new key with a good card pays.
	r, _, err = w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
	must(t, err)
	for range 2 {
		if _, err := w.order(u, r, testpay.TokenDeclined, "k-declined"); apperr.CodeOf(err) != apperr.PaymentFailed {
			t.Fatalf("declined card: %v", err)
		}
	}
	o, err = w.order(u, r, testpay.TokenSuccess, "k-second-card")
	must(t, err)
	if o.State != checkout.Paid {
		t.Fatalf("second card: %s", o.State)
	}
	w.Check(0, 3)
}

func testCancelRefund(t *testing.T, w *World) {
	ctx := context.Background()
	users := w.Users(3)
	admin := &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{w.Brand.ID}}
	var orders []*checkout.Order
	for _, u := range users {
		r, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
		must(t, err)
		o, err := w.order(u, r, testpay.TokenSuccess, "")
		must(t, err)
		orders = append(orders, o)
	}
	w.Check(0, 3)
	if _, _, err := w.Svc.Reserve(ctx, users[0], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); !errors.Is(err, checkout.ErrSoldOut) {
		t.Fatalf("fourth unit of three: %v", err)
	}
	// Only the buyer or the brand may cancel; a stranger learns nothing.
	if _, err := w.Svc.CancelOrder(ctx, users[1], orders[0].ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("a stranger cancelling: %v", err)
	}
	if _, err := w.Svc.FulfilOrder(ctx, users[0], orders[0].ID); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a buyer fulfilling: %v", err)
	}
	// The buyer cancels: money back, the unit returns and can be bought again.
	c, err := w.Svc.CancelOrder(ctx, users[0], orders[0].ID)
	must(t, err)
	if c.State != checkout.Cancelled {
		t.Fatalf("state %s", c.State)
	}
	w.Check(0, 2)
	if _, _, refunded := w.Pay.Totals(); refunded != 199_000 {
		t.Fatalf("refunded %d", refunded)
	}
	r, _, err := w.Svc.Reserve(ctx, users[0], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
	must(t, err)
	_, err = w.Svc.Release(ctx, users[0], r.ID)
	must(t, err)
	// Fulfil, then refund without restock (the bag was worn): stock stays sold.
	_, err = w.Svc.FulfilOrder(ctx, admin, orders[1].ID)
	must(t, err)
	if _, err := w.Svc.CancelOrder(ctx, users[1], orders[1].ID); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("cancelling a shipped order: %v", err)
	}
	_, err = w.Svc.RefundOrder(ctx, admin, orders[1].ID, false)
	must(t, err)
	w.Check(0, 2)
	// Refund with restock returns the unit.
	_, err = w.Svc.RefundOrder(ctx, admin, orders[2].ID, true)
	must(t, err)
	w.Check(0, 1)
	if _, err := w.Svc.RefundOrder(ctx, admin, orders[2].ID, true); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("refunding twice: %v", err)
	}
	if _, _, refunded := w.Pay.Totals(); refunded != 3*199_000 {
		t.Fatalf("refunded %d, want %d", refunded, 3*199_000)
	}
	if avail, _, _ := w.env.Gate.Available(ctx, w.Offer.ID); avail != 2 {
		t.Fatalf("gate after cancel and restock = %d, want 2", avail)
	}
}

// testLedgerWins: a gate that believes in more stock than there is (drift,
// a stale load) cannot oversell: the ledger refuses and the gate is corrected.
// A gate that lost its memory is reloaded from the ledger.
func testLedgerWins(t *testing.T, w *World) {
	ctx := context.Background()
	crowd := w.Users(40)
	must(t, w.env.Gate.Load(ctx, w.Offer.ID, 50, nil, true))
	won, _, _ := w.wave(crowd, 40)
	if n := count(won); n != 5 {
		t.Fatalf("an over-counting gate let %d holds through on 5 units", n)
	}
	w.Check(5, 0)
	if avail, _, _ := w.env.Gate.Available(ctx, w.Offer.ID); avail != 0 {
		t.Fatalf("gate not corrected: %d", avail)
	}
	if w.env.NewGate == nil {
		return
	}
	// The gate forgets everything (a restarted or flushed Redis).
	w.Svc.Gate = w.env.NewGate()
	stranger := w.Users(1)[0]
	for _, rs := range won {
		if _, err := w.Svc.Release(ctx, stranger, rs[0].ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("releasing someone else's hold: %v", err)
		}
	}
	var someone *account.User
	var hold *checkout.Reservation
	for _, u := range crowd {
		if rs := won[u.ID]; len(rs) > 0 {
			someone, hold = u, rs[0]
			break
		}
	}
	_, err := w.Svc.Release(ctx, someone, hold.ID)
	must(t, err)
	won2, _, _ := w.wave(w.Users(20), 20)
	if n := count(won2); n != 1 {
		t.Fatalf("after the gate lost its memory: %d holds on the 1 free unit", n)
	}
	w.Check(5, 0)
}

func testVisibility(t *testing.T, w *World) {
	ctx := context.Background()
	w.Show.Visibility = show.Members
	must(t, w.env.Stores.Shows.UpdateShow(ctx, w.Show))
	w.Svc.ForgetShow(w.Show.ID)
	viewer := w.Users(1)[0]
	if _, _, err := w.Svc.Reserve(ctx, viewer, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("a non-member buying in a members-only show: %v", err)
	}
	member := w.Users(1)[0]
	member.Roles = append(member.Roles, account.RoleMember)
	if _, _, err := w.Svc.Reserve(ctx, member, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); err != nil {
		t.Fatalf("a member buying: %v", err)
	}
	w.Check(1, 0)
}

// testGateDrift: units freed in the ledger without the gate hearing of it (a
// lost Give) come back once the sweeper has seen the disagreement last.
func testGateDrift(t *testing.T, w *World) {
	ctx := context.Background()
	users := w.Users(5)
	var holds []*checkout.Reservation
	for _, u := range users[:3] {
		r, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
		must(t, err)
		holds = append(holds, r)
	}
	if _, _, err := w.Svc.Reserve(ctx, users[3], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); !errors.Is(err, checkout.ErrSoldOut) {
		t.Fatalf("fourth of three: %v", err)
	}
	// Freed behind the gate's back.
	_, err := w.env.Stores.Ledger.Release(ctx, holds[0].ID, checkout.Released, w.now())
	must(t, err)
	w.Check(2, 0)
	must(t, w.Svc.Sweep(ctx)) // sees the disagreement
	if _, _, err := w.Svc.Reserve(ctx, users[3], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); !errors.Is(err, checkout.ErrSoldOut) {
		t.Fatalf("healed before the grace period: %v", err)
	}
	w.Advance(4 * time.Second)
	must(t, w.Svc.Sweep(ctx)) // heals it
	if _, _, err := w.Svc.Reserve(ctx, users[3], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); err != nil {
		t.Fatalf("the freed unit did not come back: %v", err)
	}
	if _, _, err := w.Svc.Reserve(ctx, users[4], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); !errors.Is(err, checkout.ErrSoldOut) {
		t.Fatalf("more than the freed unit came back: %v", err)
	}
	w.Check(3, 0)
}

// testFlashDrop: a drop offer sells only inside its window, by the server's clock.
func testFlashDrop(t *testing.T, w *World) {
	ctx := context.Background()
	users := w.Users(3)
	host := &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{w.Brand.ID}}
	drop := &checkout.Offer{ID: uuid.New(), ShowID: w.Show.ID, SKUID: w.SKU.ID, PriceMinor: 99_000, Currency: "EUR", Allocated: 3, Drop: true, CreatedAt: w.now()}
	must(t, w.env.Stores.Catalog.CreateOffer(ctx, drop))
	tap := func(u *account.User) error {
		_, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: drop.ID, Quantity: 1})
		return err
	}
	if err := tap(users[0]); !errors.Is(err, checkout.ErrDropClosed) {
		t.Fatalf("before the drop opens: %v", err)
	}
	if _, err := w.Svc.SetDrop(ctx, users[0], drop.ID, checkout.DropOpen, 60); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a viewer opening a drop: %v", err)
	}
	for _, bad := range []struct {
		action  string
		seconds int
	}{{checkout.DropOpen, 1}, {checkout.DropOpen, 100_000}, {"later", 60}, {checkout.DropClose, 0}} {
		if _, err := w.Svc.SetDrop(ctx, host, drop.ID, bad.action, bad.seconds); err == nil {
			t.Fatalf("SetDrop(%s, %d) was accepted", bad.action, bad.seconds)
		}
	}
	// Closing an offer that is not a flash drop is a conflict (it has no
	// window to close), and the offer keeps selling as before.
	if _, err := w.Svc.SetDrop(ctx, host, w.Offer.ID, checkout.DropClose, 0); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("closing a drop on an offer that is not one: %v", err)
	}
	if plain, err := w.env.Stores.Catalog.OfferByID(ctx, w.Offer.ID); err != nil || plain.Drop || plain.DropOpensAt != nil || plain.DropClosesAt != nil {
		t.Fatalf("the offer after a refused close: %+v, %v", plain, err)
	}
	o, err := w.Svc.SetDrop(ctx, host, drop.ID, checkout.DropOpen, 60)
	must(t, err)
	if o.DropClosesAt == nil || !o.DropClosesAt.Equal(w.now().Add(time.Minute)) {
		t.Fatalf("opened drop = %+v", o)
	}
	must(t, tap(users[0]))
	w.Advance(61 * time.Second) // the window ran out by itself
	if err := tap(users[1]); !errors.Is(err, checkout.ErrDropClosed) {
		t.Fatalf("after the window: %v", err)
	}
	_, err = w.Svc.SetDrop(ctx, host, drop.ID, checkout.DropOpen, 30)
	must(t, err)
	keyed := checkout.ReserveRequest{OfferID: drop.ID, Quantity: 1, IdempotencyKey: "drop-tap"}
	first, _, err := w.Svc.Reserve(ctx, users[1], keyed)
	must(t, err)
	_, err = w.Svc.SetDrop(ctx, host, drop.ID, checkout.DropClose, 0)
	must(t, err)
	if err := tap(users[2]); !errors.Is(err, checkout.ErrDropClosed) {
		t.Fatalf("after closing by hand: %v", err)
	}
	// The winner's retry after the close still gets its hold back.
	again, replayed, err := w.Svc.Reserve(ctx, users[1], keyed)
	if err != nil || !replayed || again.ID != first.ID {
		t.Fatalf("retry after the drop closed: %v %v %v", again, replayed, err)
	}
}
