package checkout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Coupons: a brand's discount codes, for one show or for every show of the
// brand. The service decides what a coupon takes off an order; the ledger
// spends it in the transaction that creates the order (BeginOrder), with
// conditional updates on the coupon's count and budget and a per-customer
// count read under the coupon's row lock, so a stampede never over-spends
// it. A declined payment (AbandonOrder), a cancel or a refund
// (SetOrderState) give the use and the money back in the same transaction
// as the order's move, so exactly once.

// CouponKind says how a coupon takes money off.
type CouponKind string

const (
	// PercentOff takes PercentOff % of the basket (rounded down to the minor unit).
	PercentOff CouponKind = "percent"
	// AmountOff takes AmountOffMinor off the basket (at most the whole basket).
	AmountOff CouponKind = "amount"
)

// Coupon is a brand's discount code.
type Coupon struct {
	ID      uuid.UUID  `json:"id"`
	BrandID uuid.UUID  `json:"brand_id"`
	ShowID  *uuid.UUID `json:"show_id"` // nil: every show of the brand
	// Code is what a buyer types or taps: upper case, unique in the brand.
	Code           string     `json:"code"`
	Kind           CouponKind `json:"kind"`
	PercentOff     int        `json:"percent_off,omitempty"`
	AmountOffMinor int64      `json:"amount_off_minor,omitempty"`
	// Currency of the amount, the minimum basket and the budget; the coupon
	// applies to orders in this currency only.
	Currency       string `json:"currency"`
	MinBasketMinor int64  `json:"min_basket_minor"`
	// PerCustomer is how many orders one account may use it on; 0: any.
	PerCustomer int `json:"per_customer"`
	// MaxUses bounds the orders it may be used on; 0: no bound.
	MaxUses int `json:"max_uses"`
	// BudgetMinor bounds the money it may take off in all; 0: no bound.
	BudgetMinor int64      `json:"budget_minor"`
	Uses        int        `json:"uses"`        // orders using it now (returned uses not counted)
	SpentMinor  int64      `json:"spent_minor"` // money it takes off those orders
	StartsAt    time.Time  `json:"starts_at"`
	EndsAt      *time.Time `json:"ends_at"` // nil: no end
	Disabled    bool       `json:"disabled"`
	// IssuedTo, when set, is the only account that may use it (a giveaway prize).
	IssuedTo  *uuid.UUID `json:"issued_to,omitempty"`
	CreatedBy uuid.UUID  `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
}

// Follows says whether an account follows a brand (giveaways open to
// followers). Implemented by the SQLite and PostgreSQL drivers.
type Follows interface {
	Following(ctx context.Context, brandID, userID uuid.UUID) (bool, error)
}

// CouponStore keeps coupons. Spending and returning them is the Ledger's
// (BeginOrder, AbandonOrder, SetOrderState), in the same transactions as the
// orders. Implemented by the SQLite and PostgreSQL drivers.
type CouponStore interface {
	// CreateCoupon inserts c. Conflict when the brand already has its code.
	CreateCoupon(ctx context.Context, c *Coupon) error
	CouponByID(ctx context.Context, id uuid.UUID) (*Coupon, error)
	// CouponByCode finds the brand's coupon with the code; NotFound when none.
	CouponByCode(ctx context.Context, brandID uuid.UUID, code string) (*Coupon, error)
	// BrandCoupons lists the brand's coupons, newest first, at most 500,
	// including those issued to one account.
	BrandCoupons(ctx context.Context, brandID uuid.UUID) ([]Coupon, error)
	// ShowCoupons lists the coupons that may apply in the show and are not
	// disabled: the show's and the brand-wide ones, public or issued to
	// userID (uuid.Nil: public only), newest first, at most 100.
	ShowCoupons(ctx context.Context, brandID, showID, userID uuid.UUID) ([]Coupon, error)
	// SetCouponDisabled disables or re-enables a coupon.
	SetCouponDisabled(ctx context.Context, id uuid.UUID, disabled bool) (*Coupon, error)
	// CustomerCouponUses is how many orders of the account use the coupon now.
	CustomerCouponUses(ctx context.Context, couponID, userID uuid.UUID) (int, error)
}

// Errors a coupon is refused with (the ledger answers with the same ones
// when a coupon ran out between the quote and the order).
var (
	// ErrCouponUsedUp: its count or its budget is spent.
	ErrCouponUsedUp = &apperr.Error{Code: apperr.Gone, Message: "this coupon has been used up"}
	// ErrCouponCustomerLimit: this account used it as often as it may.
	ErrCouponCustomerLimit = &apperr.Error{Code: apperr.LimitReached, Message: "you have already used this coupon as often as it allows"}
	// ErrCouponDisabled: the brand withdrew it.
	ErrCouponDisabled = &apperr.Error{Code: apperr.Gone, Message: "this coupon has been withdrawn"}
	// ErrCouponExpired: its window is over.
	ErrCouponExpired = &apperr.Error{Code: apperr.Gone, Message: "this coupon has expired"}
	// ErrCouponNotStarted: its window has not begun.
	ErrCouponNotStarted = &apperr.Error{Code: apperr.Unprocessable, Message: "this coupon is not valid yet"}
)

// isCouponRefusal reports whether err is one of the coupon's refusals
// (some share the Gone code of an ended hold).
func isCouponRefusal(err error) bool {
	for _, e := range []error{ErrCouponUsedUp, ErrCouponCustomerLimit, ErrCouponDisabled, ErrCouponExpired, ErrCouponNotStarted} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// CouponRefusal says why the ledger would refuse c for an order of userID
// at now, from c's stored counters; nil when it would not. Drivers call it
// to explain a conditional update that matched nothing.
func CouponRefusal(c *Coupon, userID uuid.UUID, discount int64, now time.Time) error {
	switch {
	case c.Disabled:
		return ErrCouponDisabled
	case c.IssuedTo != nil && *c.IssuedTo != userID:
		return apperr.Errorf(apperr.Unprocessable, "coupon %s is not yours", c.Code)
	case now.Before(c.StartsAt):
		return ErrCouponNotStarted
	case c.EndsAt != nil && !now.Before(*c.EndsAt):
		return ErrCouponExpired
	case c.MaxUses > 0 && c.Uses >= c.MaxUses,
		c.BudgetMinor > 0 && c.SpentMinor+discount > c.BudgetMinor:
		return ErrCouponUsedUp
	}
	return nil
}

// maxMinor bounds every amount of money on a coupon.
const maxMinor = MaxPriceMinor

var couponCodeRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{2,31}$`)

// NewCoupon is what a brand admin asks for.
type NewCoupon struct {
	Code           string     `json:"code"`
	ShowID         *uuid.UUID `json:"show_id"`
	Kind           CouponKind `json:"kind"`
	PercentOff     int        `json:"percent_off"`
	AmountOffMinor int64      `json:"amount_off_minor"`
	Currency       string     `json:"currency"`
	MinBasketMinor int64      `json:"min_basket_minor"`
	PerCustomer    int        `json:"per_customer"`
	MaxUses        int        `json:"max_uses"`
	BudgetMinor    int64      `json:"budget_minor"`
	StartsAt       *time.Time `json:"starts_at"` // nil: now
	EndsAt         *time.Time `json:"ends_at"`
}

// normCode is a code as stored: trimmed, upper case.
func normCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// CreateCoupon makes a coupon for the brand (or one of its shows), for the
// brand's admins.
func (s *Service) CreateCoupon(ctx context.Context, u *account.User, brandID uuid.UUID, req NewCoupon) (*Coupon, error) {
	cs, err := s.coupons()
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	if !account.CanAdminBrand(u, brandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this brand")
	}
	now := s.now()
	c := &Coupon{ID: uuid.New(), BrandID: brandID, ShowID: req.ShowID, Code: normCode(req.Code), Kind: req.Kind,
		PercentOff: req.PercentOff, AmountOffMinor: req.AmountOffMinor, Currency: strings.ToUpper(strings.TrimSpace(req.Currency)),
		MinBasketMinor: req.MinBasketMinor, PerCustomer: req.PerCustomer, MaxUses: req.MaxUses, BudgetMinor: req.BudgetMinor,
		StartsAt: now, EndsAt: req.EndsAt, CreatedBy: u.ID, CreatedAt: now}
	if req.StartsAt != nil {
		c.StartsAt = req.StartsAt.UTC().Truncate(time.Microsecond)
	}
	if c.EndsAt != nil {
		e := c.EndsAt.UTC().Truncate(time.Microsecond)
		c.EndsAt = &e
	}
	if err := validateCoupon(c, now); err != nil {
		return nil, err
	}
	if c.ShowID != nil {
		sh, err := s.Shows.ShowByID(ctx, *c.ShowID)
		if errors.Is(err, apperr.E(apperr.NotFound)) || (err == nil && sh.BrandID != brandID) {
			return nil, apperr.Errorf(apperr.Invalid, "show_id is not a show of this brand")
		}
		if err != nil {
			return nil, err
		}
	}
	if err := cs.CreateCoupon(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

func validateCoupon(c *Coupon, now time.Time) error {
	switch {
	case !couponCodeRE.MatchString(c.Code):
		return apperr.Errorf(apperr.Invalid, "code must be 3 to 32 letters, digits, - or _, starting with a letter or digit")
	case !currencyRE.MatchString(c.Currency):
		return apperr.Errorf(apperr.Invalid, "currency must be an ISO 4217 code such as EUR")
	case c.Kind == PercentOff && (c.PercentOff < 1 || c.PercentOff > 100 || c.AmountOffMinor != 0):
		return apperr.Errorf(apperr.Invalid, "a percent coupon takes percent_off from 1 to 100 and no amount_off_minor")
	case c.Kind == AmountOff && (c.AmountOffMinor < 1 || c.AmountOffMinor > maxMinor || c.PercentOff != 0):
		return apperr.Errorf(apperr.Invalid, "an amount coupon takes a positive amount_off_minor and no percent_off")
	case c.Kind != PercentOff && c.Kind != AmountOff:
		return apperr.Errorf(apperr.Invalid, "kind must be percent or amount")
	case c.MinBasketMinor < 0 || c.MinBasketMinor > maxMinor:
		return apperr.Errorf(apperr.Invalid, "min_basket_minor must be from 0 to %d", maxMinor)
	case c.BudgetMinor < 0 || c.BudgetMinor > maxMinor:
		return apperr.Errorf(apperr.Invalid, "budget_minor must be from 0 (no budget) to %d", maxMinor)
	case c.PerCustomer < 0 || c.PerCustomer > 1000:
		return apperr.Errorf(apperr.Invalid, "per_customer must be from 0 (any) to 1000")
	case c.MaxUses < 0 || c.MaxUses > 100_000_000:
		return apperr.Errorf(apperr.Invalid, "max_uses must be from 0 (no bound) to 100000000")
	case c.EndsAt != nil && !c.EndsAt.After(c.StartsAt):
		return apperr.Errorf(apperr.Invalid, "ends_at must be after starts_at")
	case c.EndsAt != nil && !c.EndsAt.After(now):
		return apperr.Errorf(apperr.Invalid, "ends_at must be in the future")
	}
	return nil
}

func (s *Service) coupons() (CouponStore, error) {
	if s.Coupons == nil {
		return nil, apperr.Errorf(apperr.NotImplemented, "coupons are not enabled on this server")
	}
	return s.Coupons, nil
}

// BrandCoupons lists a brand's coupons with what each has spent, for its admins.
func (s *Service) BrandCoupons(ctx context.Context, u *account.User, brandID uuid.UUID) ([]Coupon, error) {
	cs, err := s.coupons()
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	if !account.CanAdminBrand(u, brandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this brand")
	}
	return cs.BrandCoupons(ctx, brandID)
}

// SetCouponDisabled withdraws a coupon (or puts it back), for its brand's
// admins. Orders already using it keep their discount.
func (s *Service) SetCouponDisabled(ctx context.Context, u *account.User, id uuid.UUID, disabled bool) (*Coupon, error) {
	cs, err := s.coupons()
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	c, err := cs.CouponByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, c.BrandID) {
		return nil, apperr.Errorf(apperr.NotFound, "coupon %s not found", id)
	}
	return cs.SetCouponDisabled(ctx, id, disabled)
}

// PublicCoupon is a coupon as a viewer sees it in the player.
type PublicCoupon struct {
	Code           string     `json:"code"`
	ShowID         *uuid.UUID `json:"show_id"`
	Kind           CouponKind `json:"kind"`
	PercentOff     int        `json:"percent_off,omitempty"`
	AmountOffMinor int64      `json:"amount_off_minor,omitempty"`
	Currency       string     `json:"currency"`
	MinBasketMinor int64      `json:"min_basket_minor"`
	EndsAt         *time.Time `json:"ends_at"`
	// Personal says it was issued to the caller alone (a giveaway prize).
	Personal bool `json:"personal,omitempty"`
}

// ShowCoupons lists the coupons a viewer may use in the show now: the
// show's and the brand's, not withdrawn, in their window and not used up,
// and the caller's own prize coupons. Anyone who may see the show may see them.
func (s *Service) ShowCoupons(ctx context.Context, u *account.User, showID uuid.UUID) ([]PublicCoupon, error) {
	cs, err := s.coupons()
	if err != nil {
		return nil, err
	}
	sh, err := s.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, err
	}
	if !canSee(u, sh) {
		return nil, apperr.Errorf(apperr.NotFound, "show %s not found", showID)
	}
	uid := uuid.Nil
	if u != nil {
		uid = u.ID
	}
	list, err := cs.ShowCoupons(ctx, sh.BrandID, sh.ID, uid)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []PublicCoupon{}
	for i := range list {
		c := &list[i]
		if CouponRefusal(c, uid, 0, now) != nil || (c.BudgetMinor > 0 && c.SpentMinor >= c.BudgetMinor) {
			continue
		}
		out = append(out, c.public())
	}
	return out, nil
}

// public is the coupon as viewers may see it.
func (c *Coupon) public() PublicCoupon {
	return PublicCoupon{Code: c.Code, ShowID: c.ShowID, Kind: c.Kind, PercentOff: c.PercentOff,
		AmountOffMinor: c.AmountOffMinor, Currency: c.Currency, MinBasketMinor: c.MinBasketMinor, EndsAt: c.EndsAt,
		Personal: c.IssuedTo != nil}
}

// Quote is what a coupon does to an order of a reservation.
type Quote struct {
	Code          string `json:"code"`
	SubtotalMinor int64  `json:"subtotal_minor"`
	DiscountMinor int64  `json:"discount_minor"`
	TotalMinor    int64  `json:"total_minor"`
	Currency      string `json:"currency"`
}

// QuoteCoupon says what the code takes off an order of the caller's
// reservation, or why it does not apply, without spending it: the player
// shows the discounted total before the buyer pays. The order itself
// decides again, atomically.
func (s *Service) QuoteCoupon(ctx context.Context, u *account.User, reservationID uuid.UUID, code string) (*Quote, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	r, err := s.Reservation(ctx, u, reservationID)
	if err != nil {
		return nil, err
	}
	_, sh, err := s.offer(ctx, r.OfferID)
	if err != nil {
		return nil, err
	}
	c, discount, err := s.priceCoupon(ctx, u, sh, r, code)
	if err != nil {
		return nil, err
	}
	if c.PerCustomer > 0 {
		n, err := s.Coupons.CustomerCouponUses(ctx, c.ID, u.ID)
		if err != nil {
			return nil, err
		}
		if n >= c.PerCustomer {
			return nil, ErrCouponCustomerLimit
		}
	}
	sub := r.PriceMinor * int64(r.Quantity)
	return &Quote{Code: c.Code, SubtotalMinor: sub, DiscountMinor: discount, TotalMinor: sub - discount, Currency: r.Currency}, nil
}

// priceCoupon finds the brand's coupon with the code and decides what it
// takes off an order of r in the show: every rule but the ones the ledger
// settles atomically (count, budget, per-customer), which are checked here
// too from the stored counters so the answer is clear early.
func (s *Service) priceCoupon(ctx context.Context, u *account.User, sh *show.Show, r *Reservation, code string) (*Coupon, int64, error) {
	cs, err := s.coupons()
	if err != nil {
		return nil, 0, err
	}
	code = normCode(code)
	if !couponCodeRE.MatchString(code) {
		return nil, 0, apperr.Errorf(apperr.Invalid, "coupon_code is not a coupon code")
	}
	c, err := cs.CouponByCode(ctx, sh.BrandID, code)
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		return nil, 0, apperr.Errorf(apperr.Unprocessable, "there is no coupon %s for this brand", code)
	}
	if err != nil {
		return nil, 0, err
	}
	if c.ShowID != nil && *c.ShowID != sh.ID {
		return nil, 0, apperr.Errorf(apperr.Unprocessable, "coupon %s is for another show", code)
	}
	if c.Currency != r.Currency {
		return nil, 0, apperr.Errorf(apperr.Unprocessable, "coupon %s is for orders in %s", code, c.Currency)
	}
	sub := r.PriceMinor * int64(r.Quantity)
	if sub < c.MinBasketMinor {
		return nil, 0, apperr.Errorf(apperr.Unprocessable, "coupon %s needs a basket of at least %s %s", code, minorString(c.MinBasketMinor), c.Currency)
	}
	d := Discount(c, sub)
	if d == 0 {
		return nil, 0, apperr.Errorf(apperr.Unprocessable, "coupon %s takes nothing off this order", code)
	}
	if err := CouponRefusal(c, u.ID, d, s.now()); err != nil {
		return nil, 0, err
	}
	return c, d, nil
}

// Discount is what c takes off a basket of sub (minor units): a percent
// rounded down, or the amount, never more than the basket.
func Discount(c *Coupon, sub int64) int64 {
	var d int64
	switch c.Kind {
	case PercentOff:
		d = sub * int64(c.PercentOff) / 100
	case AmountOff:
		d = c.AmountOffMinor
	}
	return min(max(d, 0), sub)
}

// minorString writes an amount of minor units with two decimals, as
// messages show money (currencies without cents are rare in luxury retail).
func minorString(m int64) string { return fmt.Sprintf("%d.%02d", m/100, m%100) }
