package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// LedgerStore keeps reservations, orders and idempotency keys: the units
// that move (checkout.Ledger), held one at a time or by group commit.
type LedgerStore struct{ *conn }

// The ledger: every method that moves units runs in one write transaction
// on the single writer connection, so its statements are serialised with
// every other write in this process, and BEGIN IMMEDIATE serialises them
// with other processes. The stock changes are still conditional updates
// (`… WHERE sold + held + q <= on_hand`), backed by the CHECK constraints
// of version 1, so the invariants do not rest on the serialisation alone.

// moveUnits adds held and sold to the counters of an offer and its SKU. The
// CHECK constraints refuse a counter that would go negative or past the
// stock; both rows must exist.
func moveUnits(ctx context.Context, tx *sql.Tx, offerID, skuID uuid.UUID, held, sold int) error {
	for _, table := range []struct {
		name string
		id   uuid.UUID
	}{{"offers", offerID}, {"skus", skuID}} {
		res, err := tx.ExecContext(ctx, `UPDATE `+table.name+` SET held = held + $1, sold = sold + $2 WHERE id = $3`,
			held, sold, table.id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("%s row %s is missing", table.name, table.id)
		}
	}
	return nil
}

// settle moves the reservation of order o from state from to state to, and
// its units on the offer and the SKU: held and sold change by held and sold
// times its quantity.
func settle(ctx context.Context, tx *sql.Tx, o *checkout.Order, from, to checkout.ReservationState, held, sold int, at time.Time) error {
	var offerID, skuID uuid.UUID
	var q int
	err := tx.QueryRowContext(ctx,
		`UPDATE reservations SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4
		 RETURNING offer_id, sku_id, quantity`,
		string(to), micros(at), o.ReservationID, string(from)).Scan(&offerID, &skuID, &q)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("reservation %s of order %s is not %s", o.ReservationID, o.ID, from)
	}
	if err != nil {
		return err
	}
	return moveUnits(ctx, tx, offerID, skuID, held*q, sold*q)
}

// Release ends a held reservation (to Released or Expired) and returns its
// units to the offer and the SKU. Gone when it is no longer held.
func (db LedgerStore) Release(ctx context.Context, id uuid.UUID, to checkout.ReservationState, at time.Time) (*checkout.Reservation, error) {
	if err := sqlstore.CheckRelease(to); err != nil {
		return nil, err
	}
	var r *checkout.Reservation
	err := db.write(ctx, "release reservation", func(tx *sql.Tx) error {
		var err error
		r, err = scan.Reservation(tx.QueryRowContext(ctx,
			`UPDATE reservations SET state = $1, updated_at = $2 WHERE id = $3 AND state = 'held'
			 RETURNING `+sqlstore.ReservationCols,
			to, micros(at), id))
		if errors.Is(err, sql.ErrNoRows) {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM reservations WHERE id = $1`, id).Scan(&one); err != nil {
				return noRows(err, "reservation")
			}
			return sqlstore.ErrNotHeld
		}
		if err != nil {
			return err
		}
		return moveUnits(ctx, tx, r.OfferID, r.SKUID, -r.Quantity, 0)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ReleaseBatch ends the held reservations of ids in one write transaction
// (group commit of customers' releases; see checkout.Ledger).
func (db LedgerStore) ReleaseBatch(ctx context.Context, ids []uuid.UUID, to checkout.ReservationState, at time.Time) ([]*checkout.Reservation, []error, error) {
	if err := sqlstore.CheckRelease(to); err != nil {
		return nil, nil, err
	}
	var released []checkout.Reservation
	var found []uuid.UUID // of the ids not released, those that exist
	err := db.write(ctx, "release reservations", func(tx *sql.Tx) error {
		var err error
		found = nil
		released, err = queryAll(ctx, tx, scan.Reservation,
			`UPDATE reservations SET state = $1, updated_at = $2
			 WHERE id IN (SELECT value FROM json_each($3)) AND state = 'held'
			 RETURNING `+sqlstore.ReservationCols,
			to, micros(at), jsonList(ids))
		if err != nil {
			return err
		}
		if err := returnUnits(ctx, tx, released); err != nil {
			return err
		}
		if rest := sqlstore.Unreleased(ids, released); len(rest) > 0 {
			found, err = queryAll(ctx, tx, scanID, `SELECT id FROM reservations WHERE id IN (SELECT value FROM json_each($1))`, jsonList(rest))
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	ended, errs := sqlstore.ReleaseAnswers(ids, released, found)
	return ended, errs, nil
}

// scanID reads a row of one id.
func scanID(r row) (*uuid.UUID, error) {
	var id uuid.UUID
	return &id, r.Scan(&id)
}

// ExpireDue expires up to limit held reservations whose ExpiresAt <= now,
// earliest first, returns their units and returns them as they now are.
// Each reservation changes state in a conditional update, so it is expired
// exactly once however many sweepers run. A limit of 0 or less means 50; at
// most 1000 go in one call.
func (db LedgerStore) ExpireDue(ctx context.Context, at time.Time, limit int) ([]checkout.Reservation, error) {
	_, limit = sqlstore.PageOf(0, limit, sqlstore.MaxOrderLimit)
	var expired []checkout.Reservation
	err := db.write(ctx, "expire reservations", func(tx *sql.Tx) error {
		var err error
		expired, err = queryAll(ctx, tx, scan.Expired,
			`UPDATE reservations SET state = 'expired', updated_at = $1
			 WHERE id IN (
				SELECT id FROM reservations WHERE state = 'held' AND expires_at <= $1
				ORDER BY expires_at LIMIT $2)
			   AND +state = 'held' -- '+': find the rows by id, not by scanning every hold
			 RETURNING `+sqlstore.ReservationCols+`, checkout_at IS NOT NULL`,
			micros(at), limit)
		if err != nil {
			return err
		}
		return returnUnits(ctx, tx, expired)
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(expired, func(a, b checkout.Reservation) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), strings.Compare(a.ID.String(), b.ID.String()))
	})
	return expired, nil
}

// Reservations are indexed by (show_id, user_id, offer_id) (migration 18),
// so SQLite's queries of a customer's units name the offer's show: the one
// a batch of holds read (holds.go), or the offer's own in a subquery. That index is SQLite's
// alone, so CustomerUnits and OfferCustomers below take the place of
// sqlstore.LedgerReader's (a DB's own stores come before sqlstore.Stores).
const (
	// offerShow is the show of offer $1, as a value for the queries below.
	offerShow = `(SELECT show_id FROM offers WHERE id = $1)`
	// offerCustomerUnits sums the units of offer $1 customer $2 holds or
	// bought (qCustomersUnits for a batch whose offers' shows are known).
	offerCustomerUnits = `SELECT coalesce(sum(quantity), 0) FROM reservations
		 WHERE show_id = ` + offerShow + ` AND user_id = $2 AND offer_id = $1 AND state IN ` + sqlstore.LiveStates
	// offerCustomers sums each customer's units of offer $1.
	offerCustomers = `SELECT user_id, sum(quantity) FROM reservations
		WHERE show_id = ` + offerShow + ` AND offer_id = $1 AND state IN ` + sqlstore.LiveStates + ` GROUP BY user_id`
)

// CustomerUnits is how many units of the offer the customer holds or bought.
func (db LedgerStore) CustomerUnits(ctx context.Context, offerID, userID uuid.UUID) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, offerCustomerUnits, offerID, userID).Scan(&n)
	if err != nil {
		return 0, storeErr("customer units", err)
	}
	return n, nil
}

// OfferCustomers maps each customer with held or bought units of the offer
// to that count. It reads the holds of the offer's whole show (the index
// leads with the show): a stock gate loads once per offer and node, while
// the index it shares serves every hold's insert.
func (db LedgerStore) OfferCustomers(ctx context.Context, offerID uuid.UUID) (map[uuid.UUID]int, error) {
	type units struct {
		user uuid.UUID
		n    int
	}
	rows, err := queryAll(ctx, db.r, func(r row) (*units, error) {
		var u units
		return &u, r.Scan(&u.user, &u.n)
	}, offerCustomers, offerID)
	if err != nil {
		return nil, storeErr("offer customers", err)
	}
	m := make(map[uuid.UUID]int, len(rows))
	for _, u := range rows {
		m[u.user] = u.n
	}
	return m, nil
}

// BeginOrder moves a held, unexpired reservation (now < ExpiresAt) of
// o.UserID to Ordering and inserts o (State Pending). NotFound when the
// reservation does not exist or is another customer's; Gone when it is not
// held or has expired; Invalid when o does not buy what it holds.
func (db LedgerStore) BeginOrder(ctx context.Context, o *checkout.Order, at time.Time) error {
	shipping, err := jsonText(o.Shipping)
	if err != nil {
		return storeErr("begin order", err)
	}
	return db.write(ctx, "begin order", func(tx *sql.Tx) error {
		r, err := scan.Reservation(tx.QueryRowContext(ctx,
			`SELECT `+sqlstore.ReservationCols+` FROM reservations WHERE id = $1`, o.ReservationID))
		if err != nil {
			return noRows(err, "reservation")
		}
		if err := sqlstore.CheckOrder(r, o, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE reservations SET state = 'ordering', updated_at = $1, checkout_at = coalesce(checkout_at, $1)
			 WHERE id = $2 AND state = 'held'`,
			micros(at), r.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx,
			`INSERT INTO orders (`+sqlstore.OrderCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
			o.ID, o.UserID, o.ReservationID, o.OfferID, o.ShowID, o.SKUID, o.BrandID, o.Quantity,
			o.UnitPriceMinor, o.TotalMinor, o.Currency, checkout.Pending, shipping, o.PaymentRef,
			micros(o.CreatedAt), micros(o.UpdatedAt), sqlstore.NullRef(o.CouponID), o.CouponCode, o.DiscountMinor)
		if err != nil {
			// Everything else it refers to is the reservation's.
			return refErr(err, "brand")
		}
		if o.CouponID != nil {
			if err := db.shared.SpendCoupon(ctx, querier{tx}, o, at); err != nil {
				return err
			}
		}
		o.State = checkout.Pending
		return nil
	})
}

// CompletePayment marks a pending order paid with the provider's reference,
// turns its reservation to Ordered and moves its units from held to sold on
// the offer and the SKU. Conflict when the order is not pending, so a
// payment lands exactly once.
func (db LedgerStore) CompletePayment(ctx context.Context, orderID uuid.UUID, paymentRef string, at time.Time) (*checkout.Order, error) {
	var o *checkout.Order
	err := db.write(ctx, "complete payment", func(tx *sql.Tx) error {
		var err error
		o, err = scan.Order(tx.QueryRowContext(ctx,
			`UPDATE orders SET state = 'paid', payment_ref = $1, updated_at = $2 WHERE id = $3 AND state = 'pending'
			 RETURNING `+sqlstore.OrderCols,
			paymentRef, micros(at), orderID))
		if errors.Is(err, sql.ErrNoRows) {
			return sqlstore.NotPending(ctx, querier{tx}, orderID)
		}
		if err != nil {
			return err
		}
		return settle(ctx, tx, o, checkout.Ordering, checkout.Ordered, -1, 1, at)
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// orderMoves are the transitions SetOrderState allows.
var orderMoves = map[checkout.OrderState][]checkout.OrderState{
	checkout.Paid:      {checkout.Fulfilled, checkout.Cancelled, checkout.Refunded},
	checkout.Fulfilled: {checkout.Refunded},
}

// SetOrderState moves a paid order to Fulfilled, Cancelled or Refunded, or a
// fulfilled one to Refunded. With restock, a cancelled or refunded order's
// units go back: sold decreases on the offer and the SKU and the reservation
// becomes Returned, so they no longer count against the customer's limit.
// Conflict for any other transition; nothing changes then.
func (db LedgerStore) SetOrderState(ctx context.Context, orderID uuid.UUID, to checkout.OrderState, restock bool, at time.Time) (*checkout.Order, error) {
	var o *checkout.Order
	err := db.write(ctx, "set order state", func(tx *sql.Tx) error {
		from, err := sqlstore.OrderState(ctx, querier{tx}, orderID)
		if err != nil {
			return err
		}
		if !slices.Contains(orderMoves[from], to) {
			return apperr.Errorf(apperr.Conflict, "cannot move a %s order to %s", from, to)
		}
		o, err = scan.Order(tx.QueryRowContext(ctx,
			`UPDATE orders SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4 RETURNING `+sqlstore.OrderCols,
			to, micros(at), orderID, from))
		if err != nil {
			return err
		}
		if to == checkout.Cancelled || to == checkout.Refunded {
			if err := db.shared.ReturnCoupon(ctx, querier{tx}, orderID, false, at); err != nil {
				return err
			}
		}
		if !restock || to == checkout.Fulfilled {
			return nil
		}
		return settle(ctx, tx, o, checkout.Ordered, checkout.Returned, 0, -1, at)
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// ClaimIdempotency records rec, with no result yet, if (UserID, Op, Key) is
// new and reports true. Otherwise it returns the stored record and false.
// Concurrent claims of one key: exactly one is fresh.
func (db LedgerStore) ClaimIdempotency(ctx context.Context, rec *checkout.Idempotency) (*checkout.Idempotency, bool, error) {
	var (
		got   *checkout.Idempotency
		fresh bool
	)
	err := db.write(ctx, "claim idempotency key", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO idempotency_keys (user_id, op, key, request_hash, created_at) VALUES ($1, $2, $3, $4, $5)
			 ON CONFLICT DO NOTHING`,
			rec.UserID, rec.Op, rec.Key, rec.RequestHash, micros(rec.CreatedAt))
		if err != nil {
			return refErr(err, "user")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if fresh = n == 1; fresh {
			c := *rec
			c.Result = nil
			c.CreatedAt = time.UnixMicro(micros(rec.CreatedAt)).UTC()
			got = &c
			return nil
		}
		got, err = scan.Idempotency(tx.QueryRowContext(ctx,
			`SELECT `+sqlstore.IdempotencyCols+` FROM idempotency_keys WHERE user_id = $1 AND op = $2 AND key = $3`,
			rec.UserID, rec.Op, rec.Key))
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return got, fresh, nil
}

// returnUnits gives the units of holds that just ended back to their offers
// and SKUs: one update per offer and SKU pair, however many holds it had.
func returnUnits(ctx context.Context, tx *sql.Tx, ended []checkout.Reservation) error {
	type counter struct {
		offer, sku uuid.UUID
	}
	units := map[counter]int{}
	for _, r := range ended {
		units[counter{r.OfferID, r.SKUID}] += r.Quantity
	}
	for c, n := range units {
		if err := moveUnits(ctx, tx, c.offer, c.sku, -n, 0); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseShow releases every held reservation of the show and returns their
// units, in one transaction. Reservations being ordered are left to finish
// or fall back to held.
func (db LedgerStore) ReleaseShow(ctx context.Context, showID uuid.UUID, at time.Time) ([]checkout.Reservation, error) {
	var released []checkout.Reservation
	err := db.write(ctx, "release show", func(tx *sql.Tx) error {
		var err error
		released, err = queryAll(ctx, tx, scan.Reservation,
			`UPDATE reservations SET state = 'released', updated_at = $1
			 WHERE show_id = $2 AND state = 'held'
			 RETURNING `+sqlstore.ReservationCols, micros(at), showID)
		if err != nil {
			return err
		}
		return returnUnits(ctx, tx, released)
	})
	if err != nil {
		return nil, err
	}
	return released, nil
}
