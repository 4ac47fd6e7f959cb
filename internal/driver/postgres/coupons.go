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

// Coupons (sqlstore.CouponStore) are spent and returned in
// the ledger's order transactions (spendCoupon, returnCoupon below). The
// coupon's row is the last lock each of those transactions takes (after the
// order, the reservation, the offer and the SKU), and its conditional
// update is re-checked by PostgreSQL on the newest row version after a
// wait, so a stampede of orders never passes its count or its budget. Two
// orders of one customer queue on the same row lock, so the per-customer
// count read after it (a new snapshot at READ COMMITTED) sees the other.

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
