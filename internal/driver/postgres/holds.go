package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// Group commit of holds: a batch of the gate's winners is read, decided by
// checkout.DecideHolds and written in one transaction of two pipelined
// round trips — one commit (and one WAL flush) for the batch instead of one
// per hold, with one conditional update per offer and per SKU.
//
// Locks follow the ledger's order: the batch's idempotency keys are
// inserted first (a key another transaction is inserting makes this one
// wait for its outcome, so a key is decided exactly once across nodes),
// then the offer rows by id, then their SKU rows by id. Every read of
// reservations runs after those locks are held, in a statement of its own
// (READ COMMITTED takes each statement's snapshot when it starts), so it
// sees every hold committed on these offers before.

// Reserve is checkout.Ledger's Reserve: a batch of one. r's times are set to what is stored (UTC, microseconds).
func (db LedgerStore) Reserve(ctx context.Context, r *checkout.Reservation, limit int, key *checkout.Idempotency) error {
	return checkout.ReserveOne(ctx, db, r, limit, key)
}

// ReserveBatch writes the holds it accepts in one transaction; see
// checkout.Ledger. A failure of any statement rolls the whole batch back.
func (db LedgerStore) ReserveBatch(ctx context.Context, holds []checkout.Hold) ([]error, error) {
	var errs []error
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		st, inserted, err := lockBatch(ctx, tx, holds)
		if err != nil {
			return err
		}
		plan := checkout.DecideHolds(holds, st)
		errs = plan.Errs
		return writeBatch(ctx, tx, holds, plan, inserted)
	})
	if err != nil {
		return nil, storeErr("reserve", err)
	}
	return errs, nil
}

type keyID struct {
	user    uuid.UUID
	op, key string
}

// lockBatch stores the batch's keys (those not stored yet), locks its
// offers and SKUs and reads what DecideHolds needs, in one round trip. It
// returns the keys this transaction inserted.
func lockBatch(ctx context.Context, tx pgx.Tx, holds []checkout.Hold) (checkout.BatchState, map[keyID]bool, error) {
	st := checkout.BatchState{
		Offers:    map[uuid.UUID]checkout.OfferUnits{},
		SKUFree:   map[uuid.UUID]int{},
		Customers: map[checkout.CustomerOffer]int{},
		Users:     map[uuid.UUID]bool{},
		KeyTaken:  make([]bool, len(holds)),
	}
	var (
		offerIDs, userIDs, limitedUsers []uuid.UUID
		seenOffer                       = map[uuid.UUID]bool{}
		seenUser                        = map[uuid.UUID]bool{}
		kUsers                          []uuid.UUID
		kOps, kKeys, kHashes            []string
		kResults                        [][]byte
		kTimes                          []time.Time
		seenKey                         = map[keyID]bool{}
	)
	for _, h := range holds {
		r := h.Reservation
		r.State = checkout.Held
		r.CreatedAt, r.ExpiresAt, r.UpdatedAt = pgTime(r.CreatedAt), pgTime(r.ExpiresAt), pgTime(r.UpdatedAt)
		if !seenOffer[r.OfferID] {
			seenOffer[r.OfferID] = true
			offerIDs = append(offerIDs, r.OfferID)
		}
		if !seenUser[r.UserID] {
			seenUser[r.UserID] = true
			userIDs = append(userIDs, r.UserID)
		}
		if h.Limit > 0 {
			limitedUsers = append(limitedUsers, r.UserID)
		}
		if k := h.Key; k != nil && !seenKey[keyID{k.UserID, k.Op, k.Key}] {
			// A key twice in one batch is stored once; DecideHolds refuses the copy.
			seenKey[keyID{k.UserID, k.Op, k.Key}] = true
			kUsers, kOps, kKeys = append(kUsers, k.UserID), append(kOps, k.Op), append(kKeys, k.Key)
			kHashes, kResults, kTimes = append(kHashes, k.RequestHash), append(kResults, k.Result), append(kTimes, pgTime(k.CreatedAt))
		}
	}
	inserted := map[keyID]bool{}
	b := &pgx.Batch{}
	if len(kUsers) > 0 {
		// ORDER BY: two batches inserting the same keys wait on them in one order.
		// A key of a customer that is not stored (DecideHolds refuses the
		// hold) is left out: its foreign key would fail the whole batch.
		b.Queue(`INSERT INTO idempotency_keys (user_id, op, key, request_hash, result, created_at)
			SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::timestamptz[])
				AS k (user_id, op, key, request_hash, result, created_at)
			WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = k.user_id)
			ORDER BY 1, 2, 3
			ON CONFLICT DO NOTHING RETURNING user_id, op, key`,
			kUsers, kOps, kKeys, kHashes, kResults, kTimes).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k keyID
				if err := rows.Scan(&k.user, &k.op, &k.key); err != nil {
					return err
				}
				inserted[k] = true
			}
			return rows.Err()
		})
	}
	b.Queue(`SELECT id, show_id, sku_id, allocated - sold - held FROM offers WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`,
		offerIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			var o checkout.OfferUnits
			if err := rows.Scan(&id, &o.ShowID, &o.SKUID, &o.Free); err != nil {
				return err
			}
			st.Offers[id] = o
		}
		return rows.Err()
	})
	b.Queue(`SELECT id, on_hand - sold - held FROM skus
		WHERE id IN (SELECT sku_id FROM offers WHERE id = ANY($1)) ORDER BY id FOR NO KEY UPDATE`,
		offerIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			var free int
			if err := rows.Scan(&id, &free); err != nil {
				return err
			}
			st.SKUFree[id] = free
		}
		return rows.Err()
	})
	b.Queue(`SELECT id FROM users WHERE id = ANY($1)`, userIDs).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			st.Users[id] = true
		}
		return rows.Err()
	})
	if len(limitedUsers) > 0 {
		b.Queue(`SELECT offer_id, user_id, sum(quantity) FROM reservations
			WHERE offer_id = ANY($1) AND user_id = ANY($2) AND state IN `+sqlstore.LiveStates+` GROUP BY offer_id, user_id`,
			offerIDs, limitedUsers).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var c checkout.CustomerOffer
				var n int
				if err := rows.Scan(&c.OfferID, &c.UserID, &n); err != nil {
					return err
				}
				st.Customers[c] = n
			}
			return rows.Err()
		})
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return st, nil, err
	}
	for i, h := range holds {
		if k := h.Key; k != nil {
			// A missing customer's key was not inserted, nor can it be stored.
			st.KeyTaken[i] = st.Users[k.UserID] && !inserted[keyID{k.UserID, k.Op, k.Key}]
		}
	}
	return st, inserted, nil
}

// writeBatch moves the counters, inserts the accepted holds and deletes the
// keys this transaction stored for holds it refused, in one round trip.
func writeBatch(ctx context.Context, tx pgx.Tx, holds []checkout.Hold, plan checkout.BatchPlan, inserted map[keyID]bool) error {
	b := &pgx.Batch{}
	counters := func(table, limit string, units map[uuid.UUID]int) {
		if len(units) == 0 {
			return
		}
		ids, ns := make([]uuid.UUID, 0, len(units)), make([]int32, 0, len(units))
		for id, n := range units {
			ids, ns = append(ids, id), append(ns, int32(n))
		}
		b.Queue(`UPDATE `+table+` t SET held = t.held + v.n FROM unnest($1::uuid[], $2::integer[]) AS v(id, n)
			WHERE t.id = v.id AND t.sold + t.held + v.n <= t.`+limit, ids, ns).Exec(func(ct pgconn.CommandTag) error {
			// Decided on counts read under the same locks: anything else is a fault.
			if ct.RowsAffected() != int64(len(ids)) {
				return fmt.Errorf("held units of %s changed under a batch", table)
			}
			return nil
		})
	}
	counters("offers", "allocated", plan.OfferUnits)
	counters("skus", "on_hand", plan.SKUUnits)
	var (
		ids, offers, shows, skus, users []uuid.UUID
		qtys                            []int32
		prices                          []int64
		currencies, states              []string
		created, expires, updated       []time.Time
		dUsers                          []uuid.UUID
		dOps, dKeys                     []string
	)
	for i, h := range holds {
		if plan.Errs[i] != nil {
			// A refused hold keeps no key: stored exactly when its hold is.
			if k := h.Key; k != nil && plan.Errs[i] != checkout.ErrKeyTaken && inserted[keyID{k.UserID, k.Op, k.Key}] {
				dUsers, dOps, dKeys = append(dUsers, k.UserID), append(dOps, k.Op), append(dKeys, k.Key)
			}
			continue
		}
		r := h.Reservation
		ids, offers, shows, skus, users = append(ids, r.ID), append(offers, r.OfferID), append(shows, r.ShowID), append(skus, r.SKUID), append(users, r.UserID)
		qtys, prices = append(qtys, int32(r.Quantity)), append(prices, r.PriceMinor)
		currencies, states = append(currencies, r.Currency), append(states, string(r.State))
		created, expires, updated = append(created, r.CreatedAt), append(expires, r.ExpiresAt), append(updated, r.UpdatedAt)
	}
	if len(ids) > 0 {
		b.Queue(`INSERT INTO reservations (`+sqlstore.ReservationCols+`)
			SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::integer[], $7::bigint[],
			                     $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[])`,
			ids, offers, shows, skus, users, qtys, prices, currencies, states, created, expires, updated)
	}
	if len(dUsers) > 0 {
		b.Queue(`DELETE FROM idempotency_keys WHERE (user_id, op, key) IN
			(SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]))`, dUsers, dOps, dKeys)
	}
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}
