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
)

// follower is what a driver offers to make an account follow a brand.
type follower interface {
	Follow(ctx context.Context, brandID, userID uuid.UUID, at time.Time) error
}

// runGiveaways runs the giveaway part of the draw suite: a draw of a prize
// offered at price 0, open to everyone, followers or members.
func runGiveaways(t *testing.T, world drawWorld) {
	t.Run("GiveawayPrizeOnly", func(t *testing.T) { testGiveawayPrizeOnly(t, world) })
	t.Run("GiveawayEligibility", func(t *testing.T) { testGiveawayEligibility(t, world) })
	t.Run("GiveawayExactWinners", func(t *testing.T) { testGiveawayExactWinners(t, world) })
	t.Run("GiveawayClaimOnce", func(t *testing.T) { testGiveawayClaimOnce(t, world) })
	t.Run("GiveawayCoupon", func(t *testing.T) { testGiveawayCoupon(t, world) })
}

// prize makes the world's offer a prize: a new offer of its SKU at price 0.
func (w *World) prize(units int) {
	w.t.Helper()
	o := &checkout.Offer{ID: uuid.New(), ShowID: w.Show.ID, SKUID: w.SKU.ID, PriceMinor: 0, Currency: "EUR",
		Allocated: units, PerCustomerLimit: 1, CreatedAt: w.now()}
	must(w.t, checkout.ValidateOffer(o))
	must(w.t, w.env.Stores.Catalog.CreateOffer(context.Background(), o))
	w.Offer = o
}

func (w *World) giveaway(d *checkout.Draws, units int, who checkout.Eligibility) *checkout.DrawRecord {
	w.t.Helper()
	rec, err := d.Open(context.Background(), w.host(), w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60,
		Units: units, Giveaway: true, Eligibility: who})
	must(w.t, err)
	if !rec.Giveaway || rec.Eligibility != who {
		w.t.Fatalf("opened %+v", rec)
	}
	return rec
}

// testGiveawayPrizeOnly: only a prize (price 0) is given away, and a prize
// is never sold first-come.
func testGiveawayPrizeOnly(t *testing.T, world drawWorld) {
	w, d := world(t, 5, 0)
	ctx := context.Background()
	if _, err := d.Open(ctx, w.host(), w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60, Giveaway: true}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("a giveaway of a priced offer: %v", err)
	}
	if _, err := d.Open(ctx, w.host(), w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60, Eligibility: "friends"}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("an unknown eligibility: %v", err)
	}
	w.prize(3)
	if _, _, err := w.Svc.Reserve(ctx, w.Users(1)[0], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); !errors.Is(err, checkout.ErrPrize) {
		t.Fatalf("buying a prize: %v", err)
	}
	w.Check(0, 0)
}

// testGiveawayEligibility: a followers' giveaway takes followers only, a
// members' giveaway members only; the show's staff may always enter.
func testGiveawayEligibility(t *testing.T, world drawWorld) {
	w, d := world(t, 5, 0)
	ctx := context.Background()
	w.prize(4)
	fol, ok := d.Store.(follower)
	if !ok || w.Svc.Follows == nil {
		t.Fatal("the driver keeps no follows")
	}
	rec := w.giveaway(d, 2, checkout.Followers)
	users := w.Users(2)
	if _, err := d.Enter(ctx, users[0], w.Show.ID, rec.ID); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a stranger entering a followers' giveaway: %v", err)
	}
	must(t, fol.Follow(ctx, w.Brand.ID, users[0].ID, w.now()))
	if _, err := d.Enter(ctx, users[0], w.Show.ID, rec.ID); err != nil {
		t.Fatalf("a follower entering: %v", err)
	}
	staff := w.Users(1)[0]
	staff.Roles, staff.BrandIDs = []account.Role{account.RoleBrandAdmin}, []uuid.UUID{w.Brand.ID}
	if _, err := d.Enter(ctx, staff, w.Show.ID, rec.ID); err != nil {
		t.Fatalf("the brand's staff entering: %v", err)
	}
	_, err := d.Close(ctx, w.host(), w.Show.ID, rec.ID)
	must(t, err)

	members := w.giveaway(d, 1, checkout.MembersOnly)
	if _, err := d.Enter(ctx, users[1], w.Show.ID, members.ID); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a viewer entering a members' giveaway: %v", err)
	}
	member := w.Users(1)[0]
	must(t, w.env.Stores.Accounts.SetRoles(ctx, member.ID, []account.Role{account.RoleViewer, account.RoleMember}, nil))
	member.Roles = append(member.Roles, account.RoleMember)
	if _, err := d.Enter(ctx, member, w.Show.ID, members.ID); err != nil {
		t.Fatalf("a member entering: %v", err)
	}
	if e, err := d.Entry(ctx, users[1], w.Show.ID, members.ID); err == nil {
		t.Fatalf("a refused entrant has an entry %+v", e)
	}
}

// testGiveawayExactWinners: 120 accounts enter at once (each several
// times) for 5 prizes: exactly 5 winners, each holding one prize at price
// 0, and the record verifies.
func testGiveawayExactWinners(t *testing.T, world drawWorld) {
	w, d := world(t, 5, 0)
	w.prize(5)
	rec := w.giveaway(d, 5, checkout.EveryoneSignedIn)
	entryOf := enterAll(t, d, w.Show.ID, rec.ID, w.Users(120), 2)
	if len(entryOf) != 120 {
		t.Fatalf("%d entries", len(entryOf))
	}
	w.Advance(61 * time.Second)
	must(t, d.Sweep(context.Background()))
	got := checkDrawn(t, w, d, rec.ID, entryOf, 5)
	if !got.Giveaway {
		t.Fatal("the drawn record lost its giveaway flag")
	}
}

// testGiveawayClaimOnce: a winner claims the prize through checkout (an
// address, no card, no charge); claims sent at once make one order, and the
// prize's stock is taken exactly once.
func testGiveawayClaimOnce(t *testing.T, world drawWorld) {
	w, d := world(t, 5, 0)
	ctx := context.Background()
	w.prize(2)
	rec := w.giveaway(d, 2, checkout.EveryoneSignedIn)
	users := w.Users(2)
	enterAll(t, d, w.Show.ID, rec.ID, users, 1)
	_, err := d.Close(ctx, w.host(), w.Show.ID, rec.ID)
	must(t, err)
	w.Check(2, 0)
	winner := users[0]
	e, err := d.Entry(ctx, winner, w.Show.ID, rec.ID)
	must(t, err)
	if e.ReservationID == nil {
		t.Fatalf("the winner has no hold: %+v", e)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var orders []*checkout.Order
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, _, err := w.Svc.PlaceOrder(ctx, winner, checkout.OrderRequest{ReservationID: *e.ReservationID, Shipping: ship})
			if err != nil {
				if apperr.CodeOf(err) != apperr.Gone && apperr.CodeOf(err) != apperr.Conflict {
					t.Errorf("a claim: %v", err)
				}
				return
			}
			mu.Lock()
			orders = append(orders, o)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(orders) != 1 || orders[0].State != checkout.Paid || orders[0].TotalMinor != 0 {
		t.Fatalf("claims made %d orders: %+v", len(orders), orders)
	}
	if charges, _, _ := w.Pay.Totals(); charges != 0 {
		t.Fatalf("a prize was charged %d times", charges)
	}
	w.Check(1, 1)
	// Someone else cannot claim the winner's prize.
	if _, _, err := w.Svc.PlaceOrder(ctx, users[1], checkout.OrderRequest{ReservationID: *e.ReservationID, Shipping: ship}); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("claiming another's prize: %v", err)
	}
}

// testGiveawayCoupon: a coupon giveaway issues each of its winners a copy
// of the coupon that only they may use, once; a second sweep issues none
// again; the offer keeps selling first-come meanwhile.
func testGiveawayCoupon(t *testing.T, world drawWorld) {
	w, d := world(t, 5, 0)
	ctx := context.Background()
	cs, ok := d.Store.(checkout.CouponStore)
	if !ok {
		t.Fatal("the driver keeps no coupons")
	}
	w.Svc.Coupons = cs
	prize := w.coupon(checkout.NewCoupon{Code: "WIN100", Kind: checkout.AmountOff, AmountOffMinor: 10_000})
	if _, err := d.Open(ctx, w.host(), w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60, Units: 3, CouponID: &prize.ID}); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("a coupon prize outside a giveaway: %v", err)
	}
	rec, err := d.Open(ctx, w.host(), w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60, Units: 3, Giveaway: true, CouponID: &prize.ID})
	must(t, err)
	users := w.Users(10)
	entryOf := enterAll(t, d, w.Show.ID, rec.ID, users, 2)
	// First-come sales go on during a coupon giveaway.
	w.reserve(users[9], 1)
	w.Advance(61 * time.Second)
	must(t, d.Sweep(ctx))
	must(t, d.Sweep(ctx))
	got, err := d.Record(ctx, nil, w.Show.ID, rec.ID)
	must(t, err)
	if got.State != checkout.DrawDrawn || len(got.Winners) != 3 || len(got.Unheld) != 0 {
		t.Fatalf("drawn %+v", got)
	}
	must(t, got.Verify())
	won := map[uuid.UUID]bool{}
	for _, e := range got.Winners {
		won[e] = true
	}
	list, err := cs.BrandCoupons(ctx, w.Brand.ID)
	must(t, err)
	issued := map[uuid.UUID]*checkout.Coupon{}
	for i := range list {
		if list[i].IssuedTo != nil {
			issued[*list[i].IssuedTo] = &list[i]
		}
	}
	if len(issued) != 3 {
		t.Fatalf("%d copies issued, want 3", len(issued))
	}
	var winner, loser *account.User
	for _, u := range users {
		if won[entryOf[u.ID]] != (issued[u.ID] != nil) {
			t.Fatalf("account %s: won %v, copy %v", u.ID, won[entryOf[u.ID]], issued[u.ID] != nil)
		}
		if won[entryOf[u.ID]] && winner == nil {
			winner = u
		} else if !won[entryOf[u.ID]] && loser == nil && u != users[9] {
			loser = u
		}
	}
	c := issued[winner.ID]
	if c.MaxUses != 1 || c.AmountOffMinor != 10_000 {
		t.Fatalf("copy %+v", c)
	}
	// Only the winner may use it, and once.
	if _, err := w.orderWith(loser, w.reserve(loser, 1), c.Code); apperr.CodeOf(err) != apperr.Unprocessable {
		t.Fatalf("another account using a winner's copy: %v", err)
	}
	o, err := w.orderWith(winner, w.reserve(winner, 1), c.Code)
	must(t, err)
	if o.DiscountMinor != 10_000 {
		t.Fatalf("order %+v", o)
	}
	if _, err := w.orderWith(winner, w.reserve(winner, 1), c.Code); !errors.Is(err, checkout.ErrCouponUsedUp) {
		t.Fatalf("a second use of the copy: %v", err)
	}
	seen, err := w.Svc.ShowCoupons(ctx, loser, w.Show.ID)
	must(t, err)
	for _, p := range seen {
		if p.Personal {
			t.Fatalf("another account sees a winner's copy: %+v", p)
		}
	}
}
