package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// CouponStore keeps coupons and their uses.
type CouponStore struct{ *conn }

// Coupons (checkout.CouponStore). Spending and returning them happens in
// the ledger's order transactions (spendCoupon, returnCoupon below). The
// coupon's row is the last lock each of those transactions takes (after the
// order, the reservation, the offer and the SKU), and its conditional
// update is re-checked by PostgreSQL on the newest row version after a
// wait, so a stampede of orders never passes its count or its budget. Two
// orders of one customer queue on the same row lock, so the per-customer
// count read after it (a new snapshot at READ COMMITTED) sees the other.

func pgTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := pgTime(*t)
	return &v
}

// CreateCoupon inserts c; Conflict when the brand already has its code.
func (db CouponStore) CreateCoupon(ctx context.Context, c *checkout.Coupon) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO coupons (`+sqlstore.CouponCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		c.ID, c.BrandID, c.ShowID, c.Code, string(c.Kind), c.PercentOff, c.AmountOffMinor, c.Currency, c.MinBasketMinor,
		c.PerCustomer, c.MaxUses, c.BudgetMinor, c.Uses, c.SpentMinor, pgTime(c.StartsAt), pgTimePtr(c.EndsAt),
		c.Disabled, c.IssuedTo, c.CreatedBy, pgTime(c.CreatedAt))
	return storeErr("create coupon", err)
}

// CouponByID returns the coupon with the given ID.
func (db CouponStore) CouponByID(ctx context.Context, id uuid.UUID) (*checkout.Coupon, error) {
	c, err := scan.Coupon(db.pool.QueryRow(ctx, `SELECT `+sqlstore.CouponCols+` FROM coupons WHERE id = $1`, id))
	if err != nil {
		return nil, notFound("coupon by id", "coupon", err)
	}
	return c, nil
}

// CouponByCode finds the brand's coupon with the code.
func (db CouponStore) CouponByCode(ctx context.Context, brandID uuid.UUID, code string) (*checkout.Coupon, error) {
	c, err := scan.Coupon(db.pool.QueryRow(ctx,
		`SELECT `+sqlstore.CouponCols+` FROM coupons WHERE brand_id = $1 AND code = $2`, brandID, code))
	if err != nil {
		return nil, notFound("coupon by code", "coupon", err)
	}
	return c, nil
}

func (db CouponStore) coupons(ctx context.Context, op, where string, args ...any) ([]checkout.Coupon, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.CouponCols+` FROM coupons WHERE `+where, args...)
	list, err := collect(rows, err, scan.Coupon)
	return list, storeErr(op, err)
}

// BrandCoupons lists the brand's coupons, newest first.
func (db CouponStore) BrandCoupons(ctx context.Context, brandID uuid.UUID) ([]checkout.Coupon, error) {
	return db.coupons(ctx, "brand coupons", `brand_id = $1 ORDER BY created_at DESC, id LIMIT 500`, brandID)
}

// ShowCoupons lists the enabled coupons that may apply in the show, public
// or issued to userID.
func (db CouponStore) ShowCoupons(ctx context.Context, brandID, showID, userID uuid.UUID) ([]checkout.Coupon, error) {
	return db.coupons(ctx, "show coupons", `brand_id = $1 AND (show_id IS NULL OR show_id = $2) AND NOT disabled
		AND (issued_to IS NULL OR issued_to = $3) ORDER BY created_at DESC, id LIMIT 100`, brandID, showID, userID)
}

// SetCouponDisabled disables or re-enables a coupon.
func (db CouponStore) SetCouponDisabled(ctx context.Context, id uuid.UUID, disabled bool) (*checkout.Coupon, error) {
	c, err := scan.Coupon(db.pool.QueryRow(ctx,
		`UPDATE coupons SET disabled = $2 WHERE id = $1 RETURNING `+sqlstore.CouponCols, id, disabled))
	if err != nil {
		return nil, notFound("disable coupon", "coupon", err)
	}
	return c, nil
}

// CustomerCouponUses is how many of the account's orders use the coupon now.
func (db CouponStore) CustomerCouponUses(ctx context.Context, couponID, userID uuid.UUID) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx,
		`SELECT count(*) FROM coupon_uses WHERE coupon_id = $1 AND user_id = $2 AND state = 'active'`, couponID, userID).Scan(&n)
	return n, storeErr("customer coupon uses", err)
}

// spendCoupon takes one use and the order's discount from its coupon, in
// the order's transaction, or says why it cannot.
func spendCoupon(ctx context.Context, tx pgx.Tx, o *checkout.Order, now time.Time) error {
	var perCustomer int
	err := tx.QueryRow(ctx, `UPDATE coupons SET uses = uses + 1, spent_minor = spent_minor + $2
		WHERE id = $1 AND NOT disabled AND starts_at <= $3 AND (ends_at IS NULL OR ends_at > $3)
		  AND (issued_to IS NULL OR issued_to = $4)
		  AND (max_uses = 0 OR uses < max_uses) AND (budget_minor = 0 OR spent_minor + $2 <= budget_minor)
		RETURNING per_customer`,
		*o.CouponID, o.DiscountMinor, now, o.UserID).Scan(&perCustomer)
	if errors.Is(err, pgx.ErrNoRows) {
		c, err := scan.Coupon(tx.QueryRow(ctx, `SELECT `+sqlstore.CouponCols+` FROM coupons WHERE id = $1`, *o.CouponID))
		if err != nil {
			return notFound("spend coupon", "coupon", err)
		}
		if err := checkout.CouponRefusal(c, o.UserID, o.DiscountMinor, now); err != nil {
			return err
		}
		return fmt.Errorf("coupon %s refused for no known reason", c.ID)
	}
	if err != nil {
		return err
	}
	if perCustomer > 0 {
		// A statement of its own: its snapshot is taken after the row lock
		// above was granted, so it sees every use committed before.
		var used int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM coupon_uses WHERE coupon_id = $1 AND user_id = $2 AND state = 'active'`,
			*o.CouponID, o.UserID).Scan(&used); err != nil {
			return err
		}
		if used >= perCustomer {
			return checkout.ErrCouponCustomerLimit
		}
	}
	_, err = tx.Exec(ctx, `INSERT INTO coupon_uses (order_id, coupon_id, user_id, discount_minor, state, created_at)
		VALUES ($1, $2, $3, $4, 'active', $5)`, o.ID, *o.CouponID, o.UserID, o.DiscountMinor, now)
	return err
}

// returnCoupon gives back the order's coupon use, if it has one still
// active: with drop the use is deleted (its order is deleted too),
// otherwise marked returned. At most once per order.
func returnCoupon(ctx context.Context, tx pgx.Tx, orderID uuid.UUID, drop bool, now time.Time) error {
	var couponID uuid.UUID
	var d int64
	var err error
	if drop {
		err = tx.QueryRow(ctx, `DELETE FROM coupon_uses WHERE order_id = $1 AND state = 'active'
			RETURNING coupon_id, discount_minor`, orderID).Scan(&couponID, &d)
	} else {
		err = tx.QueryRow(ctx, `UPDATE coupon_uses SET state = 'returned', returned_at = $2 WHERE order_id = $1 AND state = 'active'
			RETURNING coupon_id, discount_minor`, orderID, now).Scan(&couponID, &d)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	ct, err := tx.Exec(ctx, `UPDATE coupons SET uses = uses - 1, spent_minor = spent_minor - $2 WHERE id = $1`, couponID, d)
	if err != nil {
		return err
	}
	if ct.RowsAffected() != 1 {
		return fmt.Errorf("coupon %s of a returned use is missing", couponID)
	}
	return nil
}

var _ checkout.CouponStore = (*DB)(nil)
