package sqlstore

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// CouponStore keeps coupons (checkout.CouponStore). Spending and returning
// them happens in each driver's order transactions, under its own locking.
type CouponStore struct{ db *Conn }

// NullRef is an optional reference as stored: NULL for nil.
func NullRef(id *uuid.UUID) uuid.NullUUID {
	if id == nil {
		return uuid.NullUUID{}
	}
	return uuid.NullUUID{UUID: *id, Valid: true}
}

// CreateCoupon inserts c; Conflict when the brand already has its code.
func (s CouponStore) CreateCoupon(ctx context.Context, c *checkout.Coupon) error {
	d := s.db.Dialect
	_, err := s.db.Exec(ctx, `INSERT INTO coupons (`+CouponCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		c.ID, c.BrandID, NullRef(c.ShowID), c.Code, string(c.Kind), c.PercentOff, c.AmountOffMinor, c.Currency, c.MinBasketMinor,
		c.PerCustomer, c.MaxUses, c.BudgetMinor, c.Uses, c.SpentMinor, d.Time(c.StartsAt), d.NullTime(c.EndsAt),
		c.Disabled, NullRef(c.IssuedTo), c.CreatedBy, d.Time(c.CreatedAt))
	return s.db.Errs.Wrap("create coupon", s.db.Errs.Ref(err, "brand, show or account"))
}

// CouponByID returns the coupon with the given ID.
func (s CouponStore) CouponByID(ctx context.Context, id uuid.UUID) (*checkout.Coupon, error) {
	return readOne(ctx, s.db, "coupon by id", "coupon", s.db.Scan.Coupon,
		`SELECT `+CouponCols+` FROM coupons WHERE id = $1`, id)
}

// CouponByCode finds the brand's coupon with the code.
func (s CouponStore) CouponByCode(ctx context.Context, brandID uuid.UUID, code string) (*checkout.Coupon, error) {
	return readOne(ctx, s.db, "coupon by code", "coupon", s.db.Scan.Coupon,
		`SELECT `+CouponCols+` FROM coupons WHERE brand_id = $1 AND code = $2`, brandID, code)
}

func (s CouponStore) coupons(ctx context.Context, op, where string, args ...any) ([]checkout.Coupon, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.Coupon, `SELECT `+CouponCols+` FROM coupons WHERE `+where, args...)
	return list, s.db.Errs.Wrap(op, err)
}

// BrandCoupons lists the brand's coupons, newest first.
func (s CouponStore) BrandCoupons(ctx context.Context, brandID uuid.UUID) ([]checkout.Coupon, error) {
	return s.coupons(ctx, "brand coupons", `brand_id = $1 ORDER BY created_at DESC, id LIMIT 500`, brandID)
}

// ShowCoupons lists the enabled coupons that may apply in the show, public
// or issued to userID.
func (s CouponStore) ShowCoupons(ctx context.Context, brandID, showID, userID uuid.UUID) ([]checkout.Coupon, error) {
	return s.coupons(ctx, "show coupons", `brand_id = $1 AND (show_id IS NULL OR show_id = $2) AND NOT disabled
		AND (issued_to IS NULL OR issued_to = $3) ORDER BY created_at DESC, id LIMIT 100`, brandID, showID, userID)
}

// SetCouponDisabled disables or re-enables a coupon.
func (s CouponStore) SetCouponDisabled(ctx context.Context, id uuid.UUID, disabled bool) (*checkout.Coupon, error) {
	var c *checkout.Coupon
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		c, err = s.db.Scan.Coupon(tx.QueryRow(ctx,
			`UPDATE coupons SET disabled = $1 WHERE id = $2 RETURNING `+CouponCols, disabled, id))
		return NotFound(err, "coupon")
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("disable coupon", err)
	}
	return c, nil
}

// CustomerCouponUses is how many of the account's orders use the coupon now.
func (s CouponStore) CustomerCouponUses(ctx context.Context, couponID, userID uuid.UUID) (int, error) {
	var n int
	err := s.db.Read.QueryRow(ctx,
		`SELECT count(*) FROM coupon_uses WHERE coupon_id = $1 AND user_id = $2 AND state = 'active'`, couponID, userID).Scan(&n)
	return n, s.db.Errs.Wrap("customer coupon uses", err)
}
