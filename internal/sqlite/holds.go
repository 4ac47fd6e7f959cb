package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// Group commit of holds: a batch of the gate's winners is read, decided by
// checkout.DecideHolds and written in one write transaction — one fsync for
// the batch instead of one per hold, which is what bounds a drop on one
// file. The reads run under the write lock (BEGIN IMMEDIATE on the single
// writer), so what they see holds until the commit.

// Reserve inserts r (State Held) and adds r.Quantity to the held units of
// its offer and SKU, all in one transaction: ErrSoldOut when the offer or
// the SKU lacks the units, ErrLimitReached when the customer's live units on
// the offer plus r.Quantity exceed limit (0: no limit), NotFound when the
// offer does not exist. Any refusal changes nothing. It is a batch of one.
func (db *DB) Reserve(ctx context.Context, r *checkout.Reservation, limit int, key *checkout.Idempotency) error {
	errs, err := db.ReserveBatch(ctx, []checkout.Hold{{Reservation: r, Limit: limit, Key: key}})
	if err != nil {
		return err
	}
	return errs[0]
}

// ReserveBatch writes the holds it accepts in one transaction; see
// checkout.Ledger. A failure of any statement rolls the whole batch back.
func (db *DB) ReserveBatch(ctx context.Context, holds []checkout.Hold) ([]error, error) {
	var errs []error
	err := db.write(ctx, "reserve", func(tx *sql.Tx) error {
		st, err := readBatchState(ctx, tx, holds)
		if err != nil {
			return err
		}
		plan := checkout.DecideHolds(holds, st)
		errs = plan.Errs
		if plan.Written == 0 {
			return nil
		}
		for id, n := range plan.OfferUnits {
			if err := addHeld(ctx, tx, `UPDATE offers SET held = held + ?1 WHERE id = ?2 AND sold + held + ?1 <= allocated`, n, id); err != nil {
				return err
			}
		}
		for id, n := range plan.SKUUnits {
			if err := addHeld(ctx, tx, `UPDATE skus SET held = held + ?1 WHERE id = ?2 AND sold + held + ?1 <= on_hand`, n, id); err != nil {
				return err
			}
		}
		return insertHolds(ctx, tx, holds, plan.Errs)
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// addHeld runs one conditional update of an offer's or SKU's counters,
// which must change exactly one row: the batch was decided on counts read
// under the same write lock, so anything else is a fault and fails it.
func addHeld(ctx context.Context, tx *sql.Tx, query string, n int, id uuid.UUID) error {
	res, err := tx.ExecContext(ctx, query, n, id)
	if err != nil {
		return err
	}
	if got, err := res.RowsAffected(); err != nil {
		return err
	} else if got != 1 {
		return fmt.Errorf("held units of %s changed under a batch", id)
	}
	return nil
}

// readBatchState reads, under the write lock, what DecideHolds needs.
func readBatchState(ctx context.Context, tx *sql.Tx, holds []checkout.Hold) (checkout.BatchState, error) {
	st := checkout.BatchState{
		Offers:    map[uuid.UUID]checkout.OfferUnits{},
		SKUFree:   map[uuid.UUID]int{},
		Customers: map[checkout.CustomerOffer]int{},
		Users:     map[uuid.UUID]bool{},
		KeyTaken:  make([]bool, len(holds)),
	}
	offers := map[uuid.UUID]bool{}
	users := map[uuid.UUID]bool{}
	limited := map[uuid.UUID]map[uuid.UUID]bool{} // offer → customers with a limit
	var keyArgs []any
	for _, h := range holds {
		r := h.Reservation
		r.State = checkout.Held
		offers[r.OfferID] = true
		users[r.UserID] = true
		if h.Limit > 0 {
			if limited[r.OfferID] == nil {
				limited[r.OfferID] = map[uuid.UUID]bool{}
			}
			limited[r.OfferID][r.UserID] = true
		}
		if h.Key != nil {
			keyArgs = append(keyArgs, h.Key.UserID, h.Key.Op, h.Key.Key)
		}
	}
	for id := range offers {
		var o checkout.OfferUnits
		err := tx.QueryRowContext(ctx, `SELECT show_id, sku_id, allocated - sold - held FROM offers WHERE id = ?`, id).
			Scan(&o.ShowID, &o.SKUID, &o.Free)
		if err == sql.ErrNoRows {
			continue
		}
		if err != nil {
			return st, err
		}
		st.Offers[id] = o
		if _, ok := st.SKUFree[o.SKUID]; !ok {
			var free int
			if err := tx.QueryRowContext(ctx, `SELECT on_hand - sold - held FROM skus WHERE id = ?`, o.SKUID).Scan(&free); err != nil {
				return st, err
			}
			st.SKUFree[o.SKUID] = free
		}
	}
	if err := scanIDs(ctx, tx, `SELECT id FROM users WHERE id IN `, keysOf(users), func(id uuid.UUID, _ *sql.Rows) error {
		st.Users[id] = true
		return nil
	}); err != nil {
		return st, err
	}
	for offerID, customers := range limited {
		err := scanIDs(ctx, tx, `SELECT user_id, sum(quantity) FROM reservations
			WHERE offer_id = ? AND state IN `+liveStates+` GROUP BY user_id HAVING user_id IN `, append([]any{offerID}, keysOf(customers)...),
			func(_ uuid.UUID, rows *sql.Rows) error {
				var user uuid.UUID
				var n int
				if err := rows.Scan(&user, &n); err != nil {
					return err
				}
				st.Customers[checkout.CustomerOffer{OfferID: offerID, UserID: user}] = n
				return nil
			})
		if err != nil {
			return st, err
		}
	}
	if len(keyArgs) > 0 {
		// One indexed read for the batch's keys: the planner walks the
		// VALUES rows and looks each up by primary key.
		type keyID struct {
			user    uuid.UUID
			op, key string
		}
		stored := map[keyID]bool{}
		rows, err := tx.QueryContext(ctx, `SELECT k.user_id, k.op, k.key FROM (VALUES `+rowsOf(len(keyArgs)/3, 3)+`) AS v
			JOIN idempotency_keys k ON k.user_id = v.column1 AND k.op = v.column2 AND k.key = v.column3`, keyArgs...)
		if err != nil {
			return st, err
		}
		defer rows.Close()
		for rows.Next() {
			var k keyID
			if err := rows.Scan(&k.user, &k.op, &k.key); err != nil {
				return st, err
			}
			stored[k] = true
		}
		if err := rows.Err(); err != nil {
			return st, err
		}
		for i, h := range holds {
			if k := h.Key; k != nil {
				st.KeyTaken[i] = stored[keyID{k.UserID, k.Op, k.Key}]
			}
		}
	}
	return st, nil
}

func keysOf(m map[uuid.UUID]bool) []any {
	out := make([]any, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	return out
}

// scanIDs runs query with "(?, …)" appended for the last values of args
// (every arg after the query's own '?'s) and calls fn for each row. When fn
// is given a non-nil *sql.Rows it scans the row itself; otherwise the row's
// one column is scanned as an ID.
func scanIDs(ctx context.Context, tx *sql.Tx, query string, args []any, fn func(uuid.UUID, *sql.Rows) error) error {
	own := strings.Count(query, "?")
	rows, err := tx.QueryContext(ctx, query+inList(len(args)-own), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	for rows.Next() {
		if len(cols) > 1 {
			if err := fn(uuid.Nil, rows); err != nil {
				return err
			}
			continue
		}
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return err
		}
		if err := fn(id, nil); err != nil {
			return err
		}
	}
	return rows.Err()
}

// insertHolds inserts the accepted holds (errs[i] nil) and their keys in
// multi-row statements.
func insertHolds(ctx context.Context, tx *sql.Tx, holds []checkout.Hold, errs []error) error {
	var res, keys []any
	nRes, nKeys := 0, 0
	for i, h := range holds {
		if errs[i] != nil {
			continue
		}
		r := h.Reservation
		res = append(res, r.ID, r.OfferID, r.ShowID, r.SKUID, r.UserID, r.Quantity, r.PriceMinor, r.Currency, r.State,
			micros(r.CreatedAt), micros(r.ExpiresAt), micros(r.UpdatedAt))
		nRes++
		if k := h.Key; k != nil {
			keys = append(keys, k.UserID, k.Op, k.Key, k.RequestHash, k.Result, micros(k.CreatedAt))
			nKeys++
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO reservations (`+reservationCols+`) VALUES `+
		rowsOf(nRes, 12), res...); err != nil {
		return err
	}
	if nKeys > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (`+idempotencyCols+`) VALUES `+
			rowsOf(nKeys, 6), keys...); err != nil {
			return err
		}
	}
	return nil
}

// rowsOf is "(?, …), (?, …)": n rows of cols values.
func rowsOf(n, cols int) string {
	one := inList(cols)
	return strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
}
