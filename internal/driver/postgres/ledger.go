package postgres

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// LedgerStore keeps reservations, orders and idempotency keys: the units
// that move (checkout.Ledger), held one at a time or by group commit.
type LedgerStore struct{ *conn }

// The ledger (checkout.Ledger). Every method that moves units does it in one
// transaction, at PostgreSQL's default READ COMMITTED isolation, with
// conditional updates that the CHECK constraints of version 1 back up.
//
// Lock order. Every method takes its row locks in this order, so that no two
// of them can wait on each other in a cycle:
//
//	order → reservation(s) → offer rows, by id → SKU rows, by id → coupon
//
// ReserveBatch (and Reserve, a batch of one) first inserts its idempotency
// keys (in key order), then locks its offers by id, then their SKUs by id;
// ExpireDue locks any number of
// reservations (SKIP LOCKED, so it never waits on them), then their offers
// in id order, then their SKUs in id order; the others lock one row of each
// kind. Inserting a reservation or an order only takes FOR KEY SHARE locks
// on the rows it refers to, which no ledger update (FOR NO KEY UPDATE)
// conflicts with.

// pgTime is t as PostgreSQL stores it (and pgx encodes it): in UTC, to the
// microsecond below.
func pgTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// collect scans every row of rows with scan and closes rows.
func collect[T any](rows pgx.Rows, err error, scan func(sqlstore.Row) (*T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlstore.All(rows, scan)
}

// counters are changes to the held and sold units of offers or SKUs, by ID.
type counters map[uuid.UUID]*struct{ held, sold int }

func (c counters) add(id uuid.UUID, held, sold int) {
	d := c[id]
	if d == nil {
		d = &struct{ held, sold int }{}
		c[id] = d
	}
	d.held += held
	d.sold += sold
}

// queueMoves queues on b the updates that apply the changes to the offers,
// then to the SKUs: one statement per table however many rows change, each
// row locked in id order first when there are several (the lock order of
// the package comment). An update that would break a stock invariant fails
// on its CHECK constraint, and a missing row fails the batch.
func queueMoves(b *pgx.Batch, offers, skus counters) {
	for _, t := range []struct {
		table string
		c     counters
	}{{"offers", offers}, {"skus", skus}} {
		if len(t.c) == 0 {
			continue
		}
		ids := make([]uuid.UUID, 0, len(t.c))
		for id := range t.c {
			ids = append(ids, id)
		}
		slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		// As text: a []uuid.UUID has no encoding when pgx does not know the
		// parameter types (the exec and simple_protocol query modes).
		keys := make([]string, len(ids))
		held, sold := make([]int32, len(ids)), make([]int32, len(ids))
		for i, id := range ids {
			keys[i], held[i], sold[i] = id.String(), int32(t.c[id].held), int32(t.c[id].sold)
		}
		table := t.table
		check := func(ct pgconn.CommandTag) error {
			if n := ct.RowsAffected(); n != int64(len(ids)) {
				return fmt.Errorf("%d of %d %s rows are missing", int64(len(ids))-n, len(ids), table)
			}
			return nil
		}
		if len(ids) == 1 {
			b.Queue(`UPDATE `+table+` SET held = held + $2, sold = sold + $3 WHERE id = $1`,
				ids[0], held[0], sold[0]).Exec(check)
			continue
		}
		// An UPDATE locks its rows in whatever order its plan meets them.
		b.Queue(`SELECT 1 FROM `+table+` WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`, keys)
		b.Queue(`UPDATE `+table+` AS t SET held = t.held + d.held, sold = t.sold + d.sold
			 FROM unnest($1::uuid[], $2::integer[], $3::integer[]) AS d(id, held, sold)
			 WHERE t.id = d.id`,
			keys, held, sold).Exec(check)
	}
}

// queueMove queues on b the updates that add held and sold to the units of
// one offer and of its SKU.
func queueMove(b *pgx.Batch, offerID, skuID uuid.UUID, held, sold int) {
	offers, skus := counters{}, counters{}
	offers.add(offerID, held, sold)
	skus.add(skuID, held, sold)
	queueMoves(b, offers, skus)
}

// queueSettle queues the move of order o's reservation from state from to
// state to, and of its units on the offer and the SKU: held and sold change
// by held and sold times its quantity.
func queueSettle(b *pgx.Batch, o *checkout.Order, from, to checkout.ReservationState, held, sold int, now time.Time) {
	b.Queue(`UPDATE reservations SET state = $3, updated_at = $2 WHERE id = $1 AND state = $4`,
		o.ReservationID, now, string(to), string(from)).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != 1 {
			return fmt.Errorf("reservation %s of order %s is not %s", o.ReservationID, o.ID, from)
		}
		return nil
	})
	queueMove(b, o.OfferID, o.SKUID, held*o.Quantity, sold*o.Quantity)
}

// Release ends a held reservation (to Released or Expired) and returns its
// units to the offer and the SKU. Gone when it is no longer held.
func (db LedgerStore) Release(ctx context.Context, id uuid.UUID, to checkout.ReservationState, now time.Time) (*checkout.Reservation, error) {
	if err := sqlstore.CheckRelease(to); err != nil {
		return nil, err
	}
	var r *checkout.Reservation
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		r, err = scan.Reservation(tx.QueryRow(ctx,
			`UPDATE reservations SET state = $2, updated_at = $3 WHERE id = $1 AND state = 'held'
			 RETURNING `+sqlstore.ReservationCols,
			id, to, pgTime(now)))
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM reservations WHERE id = $1)`, id).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return apperr.Errorf(apperr.NotFound, "reservation not found")
			}
			return sqlstore.ErrNotHeld
		}
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueMove(b, r.OfferID, r.SKUID, -r.Quantity, 0)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, storeErr("release reservation", err)
	}
	return r, nil
}

// ReleaseBatch ends the held reservations of ids in one transaction (group
// commit of customers' releases; see checkout.Ledger). The reservations are
// locked in id order, then their offers' and SKUs' counters in id order
// (returnUnits), the lock order of every other path that takes several.
func (db LedgerStore) ReleaseBatch(ctx context.Context, ids []uuid.UUID, to checkout.ReservationState, now time.Time) ([]*checkout.Reservation, []error, error) {
	if err := sqlstore.CheckRelease(to); err != nil {
		return nil, nil, err
	}
	var released []checkout.Reservation
	var found []uuid.UUID // of the ids not released, those that exist
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`WITH held AS (
			     SELECT id AS held_id FROM reservations
			     WHERE id = ANY($1) AND state = 'held'
			     ORDER BY id
			     FOR UPDATE
			 )
			 UPDATE reservations SET state = $2, updated_at = $3
			 FROM held WHERE id = held.held_id AND state = 'held'
			 RETURNING `+sqlstore.ReservationCols,
			ids, to, pgTime(now))
		if released, err = collect(rows, err, scan.Reservation); err != nil {
			return err
		}
		if len(released) > 0 {
			if err := returnUnits(ctx, tx, released); err != nil {
				return err
			}
		}
		if rest := sqlstore.Unreleased(ids, released); len(rest) > 0 {
			rows, err := tx.Query(ctx, `SELECT id FROM reservations WHERE id = ANY($1)`, rest)
			if err != nil {
				return err
			}
			found, err = pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
			return err
		}
		return nil
	})
	if err != nil {
		return nil, nil, storeErr("release reservations", err)
	}
	ended, errs := sqlstore.ReleaseAnswers(ids, released, found)
	return ended, errs, nil
}

// ExpireDue expires up to limit held reservations whose ExpiresAt <= now,
// earliest first, returns their units and returns them as they now are,
// ordered by ExpiresAt. Several sweepers may run at once: each takes the
// holds no other one has locked (SKIP LOCKED), so each reservation is
// expired exactly once and no sweeper waits on another. A limit of 0 or less
// means 50; at most 1000 go in one call.
func (db LedgerStore) ExpireDue(ctx context.Context, now time.Time, limit int) ([]checkout.Reservation, error) {
	_, limit = sqlstore.PageOf(0, limit, sqlstore.MaxOrderLimit)
	var expired []checkout.Reservation
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`WITH due AS (
			     SELECT id AS due_id FROM reservations
			     WHERE state = 'held' AND expires_at <= $1
			     ORDER BY expires_at
			     LIMIT $2
			     FOR UPDATE SKIP LOCKED
			 )
			 UPDATE reservations SET state = 'expired', updated_at = $1
			 FROM due WHERE id = due.due_id
			 RETURNING `+sqlstore.ReservationCols+`, checkout_at IS NOT NULL`,
			pgTime(now), limit)
		if expired, err = collect(rows, err, scan.Expired); err != nil || len(expired) == 0 {
			return err
		}
		return returnUnits(ctx, tx, expired)
	})
	if err != nil {
		return nil, storeErr("expire reservations", err)
	}
	slices.SortFunc(expired, func(a, b checkout.Reservation) int {
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), bytes.Compare(a.ID[:], b.ID[:]))
	})
	return expired, nil
}

// BeginOrder moves a held, unexpired reservation (now < ExpiresAt) of
// o.UserID to Ordering and inserts o (State Pending). NotFound when the
// reservation does not exist or is another customer's; Gone when it is not
// held or has expired; Invalid when o does not buy what it holds. o's times
// are set to what is stored.
func (db LedgerStore) BeginOrder(ctx context.Context, o *checkout.Order, now time.Time) error {
	shipping, err := json.Marshal(o.Shipping)
	if err != nil {
		return storeErr("begin order", err)
	}
	now = pgTime(now)
	o.CreatedAt, o.UpdatedAt = pgTime(o.CreatedAt), pgTime(o.UpdatedAt)
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		r, err := scan.Reservation(tx.QueryRow(ctx,
			`SELECT `+sqlstore.ReservationCols+` FROM reservations WHERE id = $1 FOR NO KEY UPDATE`, o.ReservationID))
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "reservation not found")
		}
		if err != nil {
			return err
		}
		if err := sqlstore.CheckOrder(r, o, now); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE reservations SET state = 'ordering', updated_at = $2, checkout_at = coalesce(checkout_at, $2) WHERE id = $1`, r.ID, now)
		b.Queue(`INSERT INTO orders (`+sqlstore.OrderCols+`)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12::jsonb, $13, $14, $15, $16, $17, $18)`,
			o.ID, o.UserID, o.ReservationID, o.OfferID, o.ShowID, o.SKUID, o.BrandID, o.Quantity,
			o.UnitPriceMinor, o.TotalMinor, o.Currency, string(shipping), o.PaymentRef, o.CreatedAt, o.UpdatedAt,
			o.CouponID, o.CouponCode, o.DiscountMinor)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if o.CouponID != nil {
			return db.shared.SpendCoupon(ctx, querier{tx}, o, now)
		}
		return nil
	})
	if err != nil {
		return storeErr("begin order", err)
	}
	o.State = checkout.Pending
	return nil
}

// CompletePayment marks a pending order paid with the provider's reference,
// turns its reservation to Ordered and moves its units from held to sold on
// the offer and the SKU. The order changes state in a conditional update, so
// of concurrent completions exactly one succeeds; the others, and any call
// on an order that is not pending, are a Conflict.
func (db LedgerStore) CompletePayment(ctx context.Context, orderID uuid.UUID, paymentRef string, now time.Time) (*checkout.Order, error) {
	now = pgTime(now)
	var o *checkout.Order
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		o, err = scan.Order(tx.QueryRow(ctx,
			`UPDATE orders SET state = 'paid', payment_ref = $2, updated_at = $3 WHERE id = $1 AND state = 'pending'
			 RETURNING `+sqlstore.OrderCols,
			orderID, paymentRef, now))
		if errors.Is(err, pgx.ErrNoRows) {
			return sqlstore.NotPending(ctx, querier{tx}, orderID)
		}
		if err != nil {
			return err
		}
		// BeginOrder checked that the order buys what its reservation holds.
		b := &pgx.Batch{}
		queueSettle(b, o, checkout.Ordering, checkout.Ordered, -1, 1, now)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, storeErr("complete payment", err)
	}
	return o, nil
}

// orderMovesTo lists, for each state SetOrderState may move an order to, the
// states it may move it from.
var orderMovesTo = map[checkout.OrderState][]string{
	checkout.Fulfilled: {string(checkout.Paid)},
	checkout.Cancelled: {string(checkout.Paid)},
	checkout.Refunded:  {string(checkout.Paid), string(checkout.Fulfilled)},
}

// SetOrderState moves a paid order to Fulfilled, Cancelled or Refunded, or a
// fulfilled one to Refunded, in a conditional update. With restock, a
// cancelled or refunded order's units go back: sold decreases on the offer
// and the SKU and the reservation becomes Returned, so they no longer count
// against the customer's limit. Conflict for any other transition; nothing
// changes then.
func (db LedgerStore) SetOrderState(ctx context.Context, orderID uuid.UUID, to checkout.OrderState, restock bool, now time.Time) (*checkout.Order, error) {
	now = pgTime(now)
	var o *checkout.Order
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		from := orderMovesTo[to]
		if from == nil {
			from = []string{}
		}
		var err error
		o, err = scan.Order(tx.QueryRow(ctx,
			`UPDATE orders SET state = $2, updated_at = $3 WHERE id = $1 AND state = ANY($4::text[])
			 RETURNING `+sqlstore.OrderCols,
			orderID, string(to), now, from))
		if errors.Is(err, pgx.ErrNoRows) {
			s, err := sqlstore.OrderState(ctx, querier{tx}, orderID)
			if err != nil {
				return err
			}
			return apperr.Errorf(apperr.Conflict, "cannot move a %s order to %s", s, to)
		}
		if err != nil {
			return err
		}
		if restock && to != checkout.Fulfilled {
			b := &pgx.Batch{}
			queueSettle(b, o, checkout.Ordered, checkout.Returned, 0, -1, now)
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		if to == checkout.Cancelled || to == checkout.Refunded {
			return db.shared.ReturnCoupon(ctx, querier{tx}, orderID, false, now)
		}
		return nil
	})
	if err != nil {
		return nil, storeErr("set order state", err)
	}
	return o, nil
}

// ClaimIdempotency records rec, with no result yet, if (UserID, Op, Key) is
// new and reports true. Otherwise it returns the stored record and false.
// Of concurrent claims of one key exactly one is fresh: the others wait on
// its insert and then read it.
func (db LedgerStore) ClaimIdempotency(ctx context.Context, rec *checkout.Idempotency) (*checkout.Idempotency, bool, error) {
	createdAt := pgTime(rec.CreatedAt)
	// A claim that finds the key and then loses it to a concurrent drop tries
	// again; a key claimed and dropped over and over is not worth more.
	for range 3 {
		got, err := scan.Idempotency(db.pool.QueryRow(ctx,
			`INSERT INTO idempotency_keys (user_id, op, key, request_hash, created_at) VALUES ($1, $2, $3, $4, $5)
			 ON CONFLICT (user_id, op, key) DO NOTHING
			 RETURNING `+sqlstore.IdempotencyCols,
			rec.UserID, rec.Op, rec.Key, rec.RequestHash, createdAt))
		if err == nil {
			return got, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, false, storeErr("claim idempotency key", err)
		}
		got, err = db.shared.Ledger().LookupIdempotency(ctx, rec.UserID, rec.Op, rec.Key)
		if err == nil {
			return got, false, nil
		}
		if apperr.CodeOf(err) != apperr.NotFound {
			return nil, false, err
		}
	}
	return nil, false, apperr.Errorf(apperr.Conflict, "idempotency key is being claimed and dropped concurrently")
}

// returnUnits gives the units of holds that just ended back to their offers
// and SKUs: one update per table however many holds and offers, in id order
// (queueMoves), which is the lock order every writer keeps.
func returnUnits(ctx context.Context, tx pgx.Tx, ended []checkout.Reservation) error {
	offers, skus := counters{}, counters{}
	for _, r := range ended {
		offers.add(r.OfferID, -r.Quantity, 0)
		skus.add(r.SKUID, -r.Quantity, 0)
	}
	b := &pgx.Batch{}
	queueMoves(b, offers, skus)
	return tx.SendBatch(ctx, b).Close()
}

// ReleaseShow releases every held reservation of the show and returns their
// units, in one transaction: the reservations first, then the counters of
// their offers and SKUs in id order (the lock order of ExpireDue).
// Reservations being ordered are left to finish or fall back to held.
func (db LedgerStore) ReleaseShow(ctx context.Context, showID uuid.UUID, now time.Time) ([]checkout.Reservation, error) {
	var released []checkout.Reservation
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`UPDATE reservations SET state = 'released', updated_at = $2
			 WHERE show_id = $1 AND state = 'held'
			 RETURNING `+sqlstore.ReservationCols, showID, pgTime(now))
		released, err = collect(rows, err, scan.Reservation)
		if err != nil || len(released) == 0 {
			return err
		}
		return returnUnits(ctx, tx, released)
	})
	if err != nil {
		return nil, storeErr("release show", err)
	}
	return released, nil
}
