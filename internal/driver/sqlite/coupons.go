package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// Coupons (sqlstore.CouponStore) are spent and returned in
// the ledger's order transactions (spendCoupon, returnCoupon below), on the
// single writer, with conditional updates that the CHECK constraints of
// version 14 back up.

// nullID is an optional reference as stored: NULL for nil.
func nullID(id *uuid.UUID) any {
	if id == nil {
		return nil
	}
	return id.String()
}

// spendCoupon takes one use and the order's discount from its coupon, in
// the order's transaction, or says why it cannot.
func spendCoupon(ctx context.Context, tx *sql.Tx, o *checkout.Order, at time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE coupons SET uses = uses + 1, spent_minor = spent_minor + $1
		WHERE id = $2 AND disabled = 0 AND starts_at <= $3 AND (ends_at IS NULL OR ends_at > $4)
		  AND (issued_to IS NULL OR issued_to = $5)
		  AND (max_uses = 0 OR uses < max_uses) AND (budget_minor = 0 OR spent_minor + $6 <= budget_minor)`,
		o.DiscountMinor, *o.CouponID, micros(at), micros(at), o.UserID, o.DiscountMinor)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		c, err := scan.Coupon(tx.QueryRowContext(ctx, `SELECT `+sqlstore.CouponCols+` FROM coupons WHERE id = $1`, *o.CouponID))
		if err != nil {
			return noRows(err, "coupon")
		}
		if err := checkout.CouponRefusal(c, o.UserID, o.DiscountMinor, at); err != nil {
			return err
		}
		return fmt.Errorf("coupon %s refused for no known reason", c.ID)
	}
	var perCustomer, used int
	if err := tx.QueryRowContext(ctx, `SELECT per_customer,
		(SELECT count(*) FROM coupon_uses WHERE coupon_id = $1 AND user_id = $2 AND state = 'active')
		FROM coupons WHERE id = $3`, *o.CouponID, o.UserID, *o.CouponID).Scan(&perCustomer, &used); err != nil {
		return err
	}
	if perCustomer > 0 && used >= perCustomer {
		return checkout.ErrCouponCustomerLimit
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO coupon_uses (order_id, coupon_id, user_id, discount_minor, state, created_at)
		VALUES ($1, $2, $3, $4, 'active', $5)`, o.ID, *o.CouponID, o.UserID, o.DiscountMinor, micros(at))
	return err
}

// returnCoupon gives back the order's coupon use, if it has one still
// active: with drop the use is deleted (its order is deleted too),
// otherwise marked returned. At most once per order.
func returnCoupon(ctx context.Context, tx *sql.Tx, orderID uuid.UUID, drop bool, at time.Time) error {
	var couponID uuid.UUID
	var d int64
	q := `UPDATE coupon_uses SET state = 'returned', returned_at = $1 WHERE order_id = $2 AND state = 'active'
		RETURNING coupon_id, discount_minor`
	args := []any{micros(at), orderID}
	if drop {
		q = `DELETE FROM coupon_uses WHERE order_id = $1 AND state = 'active' RETURNING coupon_id, discount_minor`
		args = args[1:]
	}
	err := tx.QueryRowContext(ctx, q, args...).Scan(&couponID, &d)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE coupons SET uses = uses - 1, spent_minor = spent_minor - $1 WHERE id = $2`, d, couponID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return apperr.Errorf(apperr.Internal, "coupon %s of a returned use is missing", couponID)
	}
	return nil
}

var _ checkout.CouponStore = (*DB)(nil)
