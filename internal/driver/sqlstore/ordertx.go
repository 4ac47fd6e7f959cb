package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// The steps of an order transaction that both drivers take alike, run in
// the driver's own transaction tx (each keeps its locking and batches).
//
// A coupon is spent and returned in the order's transaction. On PostgreSQL
// the coupon's row is the last lock the transaction takes (after the order,
// the reservation, the offer and the SKU), and its conditional update is
// re-checked on the newest row version after a wait, so a stampede of
// orders never passes its count or its budget; two orders of one customer
// queue on the same row lock, so the per-customer count read after it (a
// statement of its own, a new snapshot at READ COMMITTED) sees the other.
// On SQLite the single writer runs one transaction at a time. The CHECK
// constraints of version 14 back both up.

// OrderState reads the state of an order in tx: NotFound when it is missing.
func OrderState(ctx context.Context, tx Querier, id uuid.UUID) (checkout.OrderState, error) {
	var s checkout.OrderState
	err := tx.QueryRow(ctx, `SELECT state FROM orders WHERE id = $1`, id).Scan(&s)
	return s, NotFound(err, "order")
}

// NotPending is why a conditional update of a pending order found no row:
// NotFound when the order is missing, otherwise a Conflict naming its state.
func NotPending(ctx context.Context, tx Querier, id uuid.UUID) error {
	s, err := OrderState(ctx, tx, id)
	if err != nil {
		return err
	}
	return apperr.Errorf(apperr.Conflict, "order is %s, not pending", s)
}

// SpendCoupon takes one use and the order's discount from its coupon, in
// tx, and records the use; the refusal the coupon's rules give when it
// cannot.
func (c *Conn) SpendCoupon(ctx context.Context, tx Querier, o *checkout.Order, at time.Time) error {
	var perCustomer int
	err := tx.QueryRow(ctx, `UPDATE coupons SET uses = uses + 1, spent_minor = spent_minor + $2
		WHERE id = $1 AND NOT disabled AND starts_at <= $3 AND (ends_at IS NULL OR ends_at > $3)
		  AND (issued_to IS NULL OR issued_to = $4)
		  AND (max_uses = 0 OR uses < max_uses) AND (budget_minor = 0 OR spent_minor + $2 <= budget_minor)
		RETURNING per_customer`,
		*o.CouponID, o.DiscountMinor, c.Dialect.Time(at), o.UserID).Scan(&perCustomer)
	if errors.Is(err, ErrNoRows) {
		cp, err := c.Scan.Coupon(tx.QueryRow(ctx, `SELECT `+CouponCols+` FROM coupons WHERE id = $1`, *o.CouponID))
		if err != nil {
			return NotFound(err, "coupon")
		}
		if err := checkout.CouponRefusal(cp, o.UserID, o.DiscountMinor, at); err != nil {
			return err
		}
		return fmt.Errorf("coupon %s refused for no known reason", cp.ID)
	}
	if err != nil {
		return err
	}
	if perCustomer > 0 {
		// A statement of its own: on PostgreSQL its snapshot is taken after
		// the row lock above was granted, so it sees every use committed
		// before.
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
		VALUES ($1, $2, $3, $4, 'active', $5)`, o.ID, *o.CouponID, o.UserID, o.DiscountMinor, c.Dialect.Time(at))
	return err
}

// ReturnCoupon gives back the order's coupon use in tx, if it has one still
// active: with drop the use is deleted (its order is deleted too),
// otherwise marked returned. At most once per order.
func (c *Conn) ReturnCoupon(ctx context.Context, tx Querier, orderID uuid.UUID, drop bool, at time.Time) error {
	var couponID uuid.UUID
	var d int64
	q := `UPDATE coupon_uses SET state = 'returned', returned_at = $2 WHERE order_id = $1 AND state = 'active'
		RETURNING coupon_id, discount_minor`
	args := []any{orderID, c.Dialect.Time(at)}
	if drop {
		q = `DELETE FROM coupon_uses WHERE order_id = $1 AND state = 'active' RETURNING coupon_id, discount_minor`
		args = args[:1]
	}
	err := tx.QueryRow(ctx, q, args...).Scan(&couponID, &d)
	if errors.Is(err, ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	n, err := tx.Exec(ctx, `UPDATE coupons SET uses = uses - 1, spent_minor = spent_minor - $2 WHERE id = $1`, couponID, d)
	if err != nil {
		return err
	}
	if n != 1 {
		return apperr.Errorf(apperr.Internal, "coupon %s of a returned use is missing", couponID)
	}
	return nil
}

// OrderWriter holds the order steps that take no lock and no batch of a
// driver's own; the rest of checkout.Ledger is each driver's LedgerStore.
type OrderWriter struct{ db *Conn }

// AbandonOrder deletes a pending order whose payment did not happen and
// returns its reservation to Held, still bound by its ExpiresAt: the units
// stay held. Conflict when the order is not pending. The coupon's row is
// locked last, as in every order transaction.
func (s OrderWriter) AbandonOrder(ctx context.Context, orderID uuid.UUID, at time.Time) error {
	err := s.db.Tx(ctx, func(tx Querier) error {
		var resID uuid.UUID
		err := tx.QueryRow(ctx,
			`DELETE FROM orders WHERE id = $1 AND state = 'pending' RETURNING reservation_id`, orderID).Scan(&resID)
		if IsNoRows(err) {
			return NotPending(ctx, tx, orderID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			`UPDATE reservations SET state = 'held', updated_at = $2 WHERE id = $1 AND state = 'ordering'`,
			resID, s.db.Dialect.Time(at)); err != nil {
			return err
		}
		return s.db.ReturnCoupon(ctx, tx, orderID, true, at)
	})
	return s.db.Errs.Wrap("abandon order", err)
}
