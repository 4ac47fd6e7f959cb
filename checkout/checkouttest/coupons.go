package checkouttest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
	"github.com/pavilion-live/pavilion/internal/show"
)

// RunCoupons runs the coupon suite: open must return a fresh storage mode
// and the same database's coupon store.
func RunCoupons(t *testing.T, open func(t *testing.T) (Env, checkout.CouponStore)) {
	world := func(t *testing.T, units, limit int) *World {
		env, cs := open(t)
		w := setup(t, env, units, limit)
		w.Svc.Coupons = cs
		return w
	}
	t.Run("CountStampede", func(t *testing.T) { testCouponCountStampede(t, world(t, 40, 0)) })
	t.Run("BudgetStampede", func(t *testing.T) { testCouponBudgetStampede(t, world(t, 30, 0)) })
	t.Run("PerCustomer", func(t *testing.T) { testCouponPerCustomer(t, world(t, 10, 0)) })
	t.Run("MinimumBasket", func(t *testing.T) { testCouponMinBasket(t, world(t, 10, 0)) })
	t.Run("Refusals", func(t *testing.T) { testCouponRefusals(t, world(t, 10, 0)) })
	t.Run("ReturnedOnce", func(t *testing.T) { testCouponReturnedOnce(t, world(t, 10, 0)) })
	t.Run("Idempotent", func(t *testing.T) { testCouponIdempotent(t, world(t, 5, 0)) })
	t.Run("FreeOrder", func(t *testing.T) { testCouponFreeOrder(t, world(t, 5, 0)) })
	t.Run("Admin", func(t *testing.T) { testCouponAdmin(t, world(t, 5, 0)) })
}

func (w *World) admin() *account.User {
	return &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{w.Brand.ID}}
}

// coupon makes a coupon of the world's brand for its show.
func (w *World) coupon(req checkout.NewCoupon) *checkout.Coupon {
	w.t.Helper()
	if req.Currency == "" {
		req.Currency = "EUR"
	}
	if req.Kind == "" {
		req.Kind = checkout.AmountOff
		req.AmountOffMinor = 50_000
	}
	switch {
	case req.ShowID == nil:
		req.ShowID = &w.Show.ID
	case *req.ShowID == uuid.Nil: // brand-wide
		req.ShowID = nil
	}
	c, err := w.Svc.CreateCoupon(context.Background(), w.admin(), w.Brand.ID, req)
	must(w.t, err)
	return c
}

func (w *World) couponNow(id uuid.UUID) *checkout.Coupon {
	w.t.Helper()
	c, err := w.Svc.Coupons.CouponByID(context.Background(), id)
	must(w.t, err)
	return c
}

func (w *World) reserve(u *account.User, qty int) *checkout.Reservation {
	w.t.Helper()
	r, _, err := w.Svc.Reserve(context.Background(), u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: qty})
	must(w.t, err)
	return r
}

func (w *World) orderWith(u *account.User, r *checkout.Reservation, code string) (*checkout.Order, error) {
	o, _, err := w.Svc.PlaceOrder(context.Background(), u, checkout.OrderRequest{ReservationID: r.ID, Shipping: ship,
		PaymentToken: testpay.TokenSuccess, CouponCode: code})
	return o, err
}

// stampedeOrders has every user order their reservation with code at once
// and returns the orders made and the refusals by error.
func (w *World) stampedeOrders(users []*account.User, rs []*checkout.Reservation, code string) ([]*checkout.Order, map[error]int) {
	var mu sync.Mutex
	var orders []*checkout.Order
	refused := map[error]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			o, err := w.orderWith(users[i%len(users)], rs[i], code)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				orders = append(orders, o)
			case errors.Is(err, checkout.ErrCouponUsedUp):
				refused[checkout.ErrCouponUsedUp]++
			case errors.Is(err, checkout.ErrCouponCustomerLimit):
				refused[checkout.ErrCouponCustomerLimit]++
			default:
				w.t.Errorf("order with coupon: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return orders, refused
}

// testCouponCountStampede: 40 buyers order at once with a coupon good for
// 10 orders: exactly 10 get it, the others are told it is used up, and
// nothing else changes for them (their holds stay held).
func testCouponCountStampede(t *testing.T, w *World) {
	c := w.coupon(checkout.NewCoupon{Code: "LUMIERE50", MaxUses: 10})
	users := w.Users(40)
	rs := make([]*checkout.Reservation, len(users))
	for i, u := range users {
		rs[i] = w.reserve(u, 1)
	}
	orders, refused := w.stampedeOrders(users, rs, "lumiere50")
	if len(orders) != 10 || refused[checkout.ErrCouponUsedUp] != 30 {
		t.Fatalf("%d orders, %d used-up refusals; want 10 and 30", len(orders), refused[checkout.ErrCouponUsedUp])
	}
	for _, o := range orders {
		if o.State != checkout.Paid || o.DiscountMinor != 50_000 || o.TotalMinor != 199_000-50_000 || o.CouponCode != "LUMIERE50" {
			t.Fatalf("order %+v", o)
		}
	}
	if got := w.couponNow(c.ID); got.Uses != 10 || got.SpentMinor != 500_000 {
		t.Fatalf("coupon uses %d spent %d; want 10 and 500000", got.Uses, got.SpentMinor)
	}
	if charges, charged, _ := w.Pay.Totals(); charges != 10 || charged != 10*149_000 {
		t.Fatalf("charged %d, want %d", charged, 10*149_000)
	}
	w.Check(30, 10)
}

// testCouponBudgetStampede: a budget of €1,750 at €500 an order covers 3
// orders, never a 4th, whatever the crowd.
func testCouponBudgetStampede(t *testing.T, w *World) {
	c := w.coupon(checkout.NewCoupon{Code: "BUDGET", BudgetMinor: 175_000})
	users := w.Users(30)
	rs := make([]*checkout.Reservation, len(users))
	for i, u := range users {
		rs[i] = w.reserve(u, 1)
	}
	orders, refused := w.stampedeOrders(users, rs, "BUDGET")
	if len(orders) != 3 || refused[checkout.ErrCouponUsedUp] != 27 {
		t.Fatalf("%d orders, %d refusals; want 3 and 27", len(orders), refused[checkout.ErrCouponUsedUp])
	}
	if got := w.couponNow(c.ID); got.Uses != 3 || got.SpentMinor != 150_000 {
		t.Fatalf("coupon uses %d spent %d", got.Uses, got.SpentMinor)
	}
	// What is left of the budget (€250) is less than one discount: used up.
	if _, err := w.orderWith(users[len(users)-1], rs[len(rs)-1], "BUDGET"); !errors.Is(err, checkout.ErrCouponUsedUp) && !errors.Is(err, apperr.E(apperr.Gone)) {
		t.Fatalf("after the budget: %v", err)
	}
}

// testCouponPerCustomer: one account ordering five holds at once with a
// coupon it may use twice gets it exactly twice.
func testCouponPerCustomer(t *testing.T, w *World) {
	c := w.coupon(checkout.NewCoupon{Code: "TWICE", PerCustomer: 2})
	u := w.Users(1)[0]
	rs := make([]*checkout.Reservation, 5)
	for i := range rs {
		rs[i] = w.reserve(u, 1)
	}
	orders, refused := w.stampedeOrders([]*account.User{u}, rs, "TWICE")
	if len(orders) != 2 || refused[checkout.ErrCouponCustomerLimit] != 3 {
		t.Fatalf("%d orders, %d per-customer refusals; want 2 and 3", len(orders), refused[checkout.ErrCouponCustomerLimit])
	}
	if got := w.couponNow(c.ID); got.Uses != 2 {
		t.Fatalf("uses %d", got.Uses)
	}
	if _, err := w.Svc.QuoteCoupon(context.Background(), u, w.reserve(u, 1).ID, "TWICE"); !errors.Is(err, checkout.ErrCouponCustomerLimit) {
		t.Fatalf("quote after the limit: %v", err)
	}
	// Another account still may.
	v := w.Users(1)[0]
	if _, err := w.orderWith(v, w.reserve(v, 1), "TWICE"); err != nil {
		t.Fatal(err)
	}
}

// testCouponMinBasket: a coupon for baskets of €4,000 refuses one bag and
// takes 10 % off three.
func testCouponMinBasket(t *testing.T, w *World) {
	w.coupon(checkout.NewCoupon{Code: "BIG10", Kind: checkout.PercentOff, PercentOff: 10, MinBasketMinor: 400_000})
	u := w.Users(1)[0]
	one := w.reserve(u, 1)
	if _, err := w.orderWith(u, one, "BIG10"); apperr.CodeOf(err) != apperr.Unprocessable {
		t.Fatalf("one bag: %v", err)
	}
	if r, _ := w.Svc.Reservation(context.Background(), u, one.ID); r.State != checkout.Held {
		t.Fatalf("a refused coupon changed the hold: %s", r.State)
	}
	three := w.reserve(u, 3)
	q, err := w.Svc.QuoteCoupon(context.Background(), u, three.ID, "big10")
	must(t, err)
	if q.SubtotalMinor != 597_000 || q.DiscountMinor != 59_700 || q.TotalMinor != 537_300 {
		t.Fatalf("quote %+v", q)
	}
	o, err := w.orderWith(u, three, "BIG10")
	must(t, err)
	if o.TotalMinor != 537_300 || o.DiscountMinor != 59_700 {
		t.Fatalf("order total %d discount %d", o.TotalMinor, o.DiscountMinor)
	}
}

// testCouponRefusals: expired, withdrawn, another show's, another
// currency's, unknown, not yet valid — each refused with its own error,
// and nothing spent or ordered.
func testCouponRefusals(t *testing.T, w *World) {
	ctx := context.Background()
	st := w.env.Stores
	soon := w.now().Add(time.Minute)
	expiring := w.coupon(checkout.NewCoupon{Code: "SOON", EndsAt: &soon})
	withdrawn := w.coupon(checkout.NewCoupon{Code: "GONE"})
	_, err := w.Svc.SetCouponDisabled(ctx, w.admin(), withdrawn.ID, true)
	must(t, err)
	other := &show.Show{ID: uuid.New(), BrandID: w.Brand.ID, Title: "Another", Kind: show.KindShow, Visibility: show.Public,
		State: show.Scheduled, StartsAt: w.now().Add(time.Hour), EndsAt: w.now().Add(2 * time.Hour), TimeZone: "UTC",
		HostIDs: []uuid.UUID{}, CreatedAt: w.now(), UpdatedAt: w.now()}
	must(t, st.Shows.CreateShow(ctx, other))
	w.coupon(checkout.NewCoupon{Code: "ELSEWHERE", ShowID: &other.ID})
	w.coupon(checkout.NewCoupon{Code: "DOLLARS", Currency: "USD"})
	later := w.now().Add(time.Hour)
	w.coupon(checkout.NewCoupon{Code: "LATER", StartsAt: &later})
	// A stranger's admin cannot make coupons for this brand.
	if _, err := w.Svc.CreateCoupon(ctx, w.Users(1)[0], w.Brand.ID, checkout.NewCoupon{Code: "MINE", Kind: checkout.PercentOff, PercentOff: 5, Currency: "EUR"}); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a viewer making a coupon: %v", err)
	}

	u := w.Users(1)[0]
	r := w.reserve(u, 1)
	w.Advance(2 * time.Minute)
	for code, want := range map[string]error{
		"SOON":      checkout.ErrCouponExpired,
		"GONE":      checkout.ErrCouponDisabled,
		"LATER":     checkout.ErrCouponNotStarted,
		"ELSEWHERE": apperr.E(apperr.Unprocessable),
		"DOLLARS":   apperr.E(apperr.Unprocessable),
		"NOSUCH":    apperr.E(apperr.Unprocessable),
		"!!":        apperr.E(apperr.Invalid),
	} {
		_, qerr := w.Svc.QuoteCoupon(ctx, u, r.ID, code)
		_, oerr := w.orderWith(u, r, code)
		for _, err := range []error{qerr, oerr} {
			if !errors.Is(err, want) || apperr.MessageOf(err) == "" {
				t.Errorf("%s: %v, want %v", code, err, want)
			}
		}
	}
	if _, err := w.Svc.CreateCoupon(ctx, w.admin(), w.Brand.ID, checkout.NewCoupon{Code: "ELSEWHERE", Kind: checkout.PercentOff, PercentOff: 5, Currency: "EUR"}); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("a second coupon with one code: %v", err)
	}
	orders, err := w.Svc.MyOrders(ctx, u, 0, 10)
	must(t, err)
	if len(orders) != 0 {
		t.Fatalf("refused coupons made %d orders", len(orders))
	}
	if got := w.couponNow(expiring.ID); got.Uses != 0 || got.SpentMinor != 0 {
		t.Fatalf("expired coupon spent: %+v", got)
	}
	// A declined card gives the use back with the order.
	once := w.coupon(checkout.NewCoupon{Code: "ONCE", MaxUses: 1})
	if _, _, err := w.Svc.PlaceOrder(ctx, u, checkout.OrderRequest{ReservationID: r.ID, Shipping: ship,
		PaymentToken: testpay.TokenDeclined, CouponCode: "ONCE"}); apperr.CodeOf(err) != apperr.PaymentFailed {
		t.Fatalf("declined: %v", err)
	}
	if got := w.couponNow(once.ID); got.Uses != 0 || got.SpentMinor != 0 {
		t.Fatalf("a declined order kept the coupon: uses %d spent %d", got.Uses, got.SpentMinor)
	}
	if _, err := w.orderWith(u, r, "ONCE"); err != nil {
		t.Fatalf("after the decline: %v", err)
	}
}

// testCouponReturnedOnce: a cancel gives the use and the money back once,
// however often it is retried, and so does a refund.
func testCouponReturnedOnce(t *testing.T, w *World) {
	ctx := context.Background()
	c := w.coupon(checkout.NewCoupon{Code: "ONLYONE", MaxUses: 1, BudgetMinor: 50_000})
	users := w.Users(3)
	o, err := w.orderWith(users[0], w.reserve(users[0], 1), "ONLYONE")
	must(t, err)
	if _, err := w.orderWith(users[1], w.reserve(users[1], 1), "ONLYONE"); !errors.Is(err, checkout.ErrCouponUsedUp) {
		t.Fatalf("second use: %v", err)
	}
	// Three cancels at once, then one more: one returns the coupon.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = w.Svc.CancelOrder(ctx, users[0], o.ID) }()
	}
	wg.Wait()
	if _, err := w.Svc.CancelOrder(ctx, users[0], o.ID); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("cancel retried: %v", err)
	}
	if got := w.couponNow(c.ID); got.Uses != 0 || got.SpentMinor != 0 {
		t.Fatalf("after cancels: uses %d spent %d", got.Uses, got.SpentMinor)
	}
	if _, _, refunded := w.Pay.Totals(); refunded != 149_000 {
		t.Fatalf("refunded %d, want the discounted 149000", refunded)
	}
	o2, err := w.orderWith(users[2], w.reserve(users[2], 1), "ONLYONE")
	must(t, err)
	if got := w.couponNow(c.ID); got.Uses != 1 || got.SpentMinor != 50_000 {
		t.Fatalf("reused: uses %d spent %d", got.Uses, got.SpentMinor)
	}
	_, err = w.Svc.FulfilOrder(ctx, w.admin(), o2.ID)
	must(t, err)
	_, err = w.Svc.RefundOrder(ctx, w.admin(), o2.ID, false)
	must(t, err)
	if _, err := w.Svc.RefundOrder(ctx, w.admin(), o2.ID, false); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("refund twice: %v", err)
	}
	if got := w.couponNow(c.ID); got.Uses != 0 || got.SpentMinor != 0 {
		t.Fatalf("after the refund: uses %d spent %d", got.Uses, got.SpentMinor)
	}
}

// testCouponIdempotent: a retried order with a coupon answers the first
// order and spends the coupon once.
func testCouponIdempotent(t *testing.T, w *World) {
	c := w.coupon(checkout.NewCoupon{Code: "RETRY", MaxUses: 5})
	u := w.Users(1)[0]
	r := w.reserve(u, 1)
	req := checkout.OrderRequest{ReservationID: r.ID, Shipping: ship, PaymentToken: testpay.TokenSuccess, CouponCode: "RETRY", IdempotencyKey: "k1"}
	first, _, err := w.Svc.PlaceOrder(context.Background(), u, req)
	must(t, err)
	again, replayed, err := w.Svc.PlaceOrder(context.Background(), u, req)
	must(t, err)
	if !replayed || again.ID != first.ID || again.DiscountMinor != 50_000 {
		t.Fatalf("retry: replayed %v, %+v", replayed, again)
	}
	req.CouponCode = ""
	if _, _, err := w.Svc.PlaceOrder(context.Background(), u, req); apperr.CodeOf(err) != apperr.Unprocessable {
		t.Fatalf("the key without the coupon: %v", err)
	}
	if got := w.couponNow(c.ID); got.Uses != 1 {
		t.Fatalf("uses %d after a retry", got.Uses)
	}
}

// testCouponFreeOrder: a coupon that takes the whole basket makes an order
// paid with no charge at all.
func testCouponFreeOrder(t *testing.T, w *World) {
	w.coupon(checkout.NewCoupon{Code: "ALLOFF", Kind: checkout.PercentOff, PercentOff: 100})
	u := w.Users(1)[0]
	o, _, err := w.Svc.PlaceOrder(context.Background(), u, checkout.OrderRequest{ReservationID: w.reserve(u, 1).ID,
		Shipping: ship, CouponCode: "ALLOFF"})
	must(t, err)
	if o.State != checkout.Paid || o.TotalMinor != 0 || o.PaymentRef != "" {
		t.Fatalf("free order %+v", o)
	}
	if charges, _, _ := w.Pay.Totals(); charges != 0 {
		t.Fatalf("charged %d", charges)
	}
	w.Check(0, 1)
}

// testCouponAdmin: listing, withdrawing and what viewers see of a show's
// coupons.
func testCouponAdmin(t *testing.T, w *World) {
	ctx := context.Background()
	show := w.coupon(checkout.NewCoupon{Code: "SHOWONLY"})
	w.coupon(checkout.NewCoupon{Code: "HOUSE", ShowID: &uuid.Nil})
	list, err := w.Svc.BrandCoupons(ctx, w.admin(), w.Brand.ID)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("listed %d", len(list))
	}
	if _, err := w.Svc.BrandCoupons(ctx, w.Users(1)[0], w.Brand.ID); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a viewer listing: %v", err)
	}
	seen, err := w.Svc.ShowCoupons(ctx, nil, w.Show.ID)
	must(t, err)
	if len(seen) != 2 {
		t.Fatalf("viewers see %d coupons", len(seen))
	}
	if _, err := w.Svc.SetCouponDisabled(ctx, w.Users(1)[0], show.ID, true); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("a viewer disabling: %v", err)
	}
	_, err = w.Svc.SetCouponDisabled(ctx, w.admin(), show.ID, true)
	must(t, err)
	seen, err = w.Svc.ShowCoupons(ctx, nil, w.Show.ID)
	must(t, err)
	if len(seen) != 1 || seen[0].Code != "HOUSE" {
		t.Fatalf("after withdrawing: %+v", seen)
	}
}
