package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// Group commit of holds: a batch of the gate's winners is read, decided by
// checkout.DecideHolds and written in one write transaction — one fsync for
// the batch instead of one per hold, which is what bounds a drop on one
// file. The reads run under the write lock (BEGIN IMMEDIATE on the single
// writer), so what they see holds until the commit.

// Reserve is checkout.Ledger's Reserve: a batch of one.
func (db LedgerStore) Reserve(ctx context.Context, r *checkout.Reservation, limit int, key *checkout.Idempotency) error {
	return checkout.ReserveOne(ctx, db, r, limit, key)
}

// The statements of ReserveBatch: each reads or writes one row by its key,
// prepared once (writerStmts), so a batch costs no SQL parsing.
const (
	qOfferUnits = `SELECT show_id, sku_id, allocated - sold - held FROM offers WHERE id = $1`
	qSKUFree    = `SELECT on_hand - sold - held FROM skus WHERE id = $1`
	// The units each (offer, customer, show) of a JSON array's customer
	// holds or bought, for a batch's customers of limited offers in one
	// statement instead of one each; named by its show, each is summed
	// through reservations_customer_idx (TestReservationQueryPlans).
	qCustomersUnits = `SELECT j.value ->> 0, j.value ->> 1, (SELECT coalesce(sum(quantity), 0) FROM reservations
		 WHERE show_id = j.value ->> 2 AND user_id = j.value ->> 1 AND offer_id = j.value ->> 0
		 AND state IN ` + sqlstore.LiveStates + `) FROM json_each($1) AS j`
	// A batch's customers and keys are looked up in one statement each, over
	// a JSON array of the batch's values: a statement costs the driver and
	// database/sql far more than the index probe it runs, and a batch of
	// holds had two of them a hold. Each element is probed through the
	// primary key (TestHoldBatchQueryPlans).
	qUsersExist = `SELECT id FROM users WHERE id IN (SELECT value FROM json_each($1))`
	qKeysStored = `SELECT k.user_id, k.op, k.key FROM json_each($1) AS j
		 JOIN idempotency_keys AS k ON k.user_id = j.value ->> 0 AND k.op = j.value ->> 1 AND k.key = j.value ->> 2`
	qAddOfferHeld = `UPDATE offers SET held = held + $1 WHERE id = $2 AND sold + held + $1 <= allocated`
	qAddSKUHeld   = `UPDATE skus SET held = held + $1 WHERE id = $2 AND sold + held + $1 <= on_hand`
)

// A batch's holds and keys are inserted a few rows a statement: a
// statement costs the driver and database/sql more than the row it writes,
// and a batch of ~50 holds ran two a hold. The statements take rows in
// chunks of a power of two up to maxChunk, so a batch of any size runs at
// most a handful of them, all prepared once (writerStmts): a batch of 51
// holds inserts them in chunks of 32, 16, 2 and 1.
const maxChunk = 64

var (
	insertHolds = chunkInserts(`INSERT INTO reservations (`+sqlstore.ReservationCols+`) VALUES `, holdCols)
	insertKeys  = chunkInserts(`INSERT INTO idempotency_keys (`+sqlstore.IdempotencyCols+`) VALUES `, keyCols)
)

// The number of columns of sqlstore.ReservationCols and IdempotencyCols:
// a row's values a chunk takes. At maxChunk rows, 768 and 384 parameters,
// under the 999 the dialect allows.
var (
	holdCols = strings.Count(sqlstore.ReservationCols, ",") + 1
	keyCols  = strings.Count(sqlstore.IdempotencyCols, ",") + 1
)

// chunkInserts is prefix followed by n rows of cols parameters, for every
// power of two n up to maxChunk, indexed by log2(n). The parameters are
// anonymous (?, not $N): the driver asks SQLite for every parameter's name
// when it binds, and SQLite finds a numbered one by walking the statement's
// list of names: 7 % of a batch's CPU over 768 of them.
func chunkInserts(prefix string, cols int) []string {
	var out []string
	for n := 1; n <= maxChunk; n *= 2 {
		var b strings.Builder
		b.WriteString(prefix)
		for r := range n {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := range cols {
				if c > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('?')
			}
			b.WriteByte(')')
		}
		out = append(out, b.String())
	}
	return out
}

// insertChunks runs the statements of stmts (chunkInserts) over args, rows
// of cols values each, largest chunks first.
func (db LedgerStore) insertChunks(ctx context.Context, tx *sql.Tx, stmts []string, cols int, args []any) error {
	for len(args) > 0 {
		rows := len(args) / cols
		i := min(bits.Len(uint(rows))-1, len(stmts)-1) // the largest chunk of at most rows
		n := (1 << i) * cols
		if _, err := db.txExec(ctx, tx, stmts[i], args[:n]...); err != nil {
			return err
		}
		args = args[n:]
	}
	return nil
}

// ReserveBatch writes the holds it accepts in one transaction; see
// checkout.Ledger. A failure of any statement rolls the whole batch back.
func (db LedgerStore) ReserveBatch(ctx context.Context, holds []checkout.Hold) ([]error, error) {
	var errs []error
	err := db.write(ctx, "reserve", func(tx *sql.Tx) error {
		// The batch's statements are lookups and inserts by key under the
		// write lock the transaction already holds: none of them waits. The
		// driver watches a cancellable context with a goroutine of its own
		// for every statement, hundreds per batch; the transaction still ends
		// with ctx (database/sql rolls it back), between two statements.
		ctx := context.WithoutCancel(ctx)
		st, err := db.readBatchState(ctx, tx, holds)
		if err != nil {
			return err
		}
		plan := checkout.DecideHolds(holds, st)
		errs = plan.Errs
		for id, n := range plan.OfferUnits {
			if err := db.addHeld(ctx, tx, qAddOfferHeld, n, id); err != nil {
				return err
			}
		}
		for id, n := range plan.SKUUnits {
			if err := db.addHeld(ctx, tx, qAddSKUHeld, n, id); err != nil {
				return err
			}
		}
		hold := make([]any, 0, len(holds)*holdCols)
		var key []any
		for i, h := range holds {
			if plan.Errs[i] != nil {
				continue
			}
			r := h.Reservation
			hold = append(hold, r.ID, r.OfferID, r.ShowID, r.SKUID, r.UserID, r.Quantity,
				r.PriceMinor, r.Currency, r.State, micros(r.CreatedAt), micros(r.ExpiresAt), micros(r.UpdatedAt))
			if k := h.Key; k != nil {
				key = append(key, k.UserID, k.Op, k.Key, k.RequestHash, k.Result, micros(k.CreatedAt))
			}
		}
		if err := db.insertChunks(ctx, tx, insertHolds, holdCols, hold); err != nil {
			return err
		}
		return db.insertChunks(ctx, tx, insertKeys, keyCols, key)
	})
	if err != nil {
		return nil, err
	}
	return errs, nil
}

// addHeld runs one conditional update of an offer's or SKU's counters,
// which must change exactly one row: the batch was decided on counts read
// under the same write lock, so anything else is a fault and fails it.
func (db LedgerStore) addHeld(ctx context.Context, tx *sql.Tx, query string, n int, id uuid.UUID) error {
	res, err := db.txExec(ctx, tx, query, n, id)
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
func (db LedgerStore) readBatchState(ctx context.Context, tx *sql.Tx, holds []checkout.Hold) (checkout.BatchState, error) {
	st := checkout.BatchState{
		Offers:    map[uuid.UUID]checkout.OfferUnits{},
		SKUFree:   map[uuid.UUID]int{},
		Customers: map[checkout.CustomerOffer]int{},
		Users:     map[uuid.UUID]bool{},
	}
	seenOffer := map[uuid.UUID]bool{}
	users := make([]string, 0, len(holds))
	var keys, limited [][3]string
	seenCustomer := map[checkout.CustomerOffer]bool{}
	for _, h := range holds {
		r := h.Reservation
		r.State = checkout.Held
		if !seenOffer[r.OfferID] {
			seenOffer[r.OfferID] = true
			var o checkout.OfferUnits
			err := db.txQueryRow(ctx, tx, qOfferUnits, r.OfferID).Scan(&o.ShowID, &o.SKUID, &o.Free)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return st, err
			default:
				st.Offers[r.OfferID] = o
				if _, ok := st.SKUFree[o.SKUID]; !ok {
					var free int
					if err := db.txQueryRow(ctx, tx, qSKUFree, o.SKUID).Scan(&free); err != nil {
						return st, err
					}
					st.SKUFree[o.SKUID] = free
				}
			}
		}
		if _, ok := st.Users[r.UserID]; !ok {
			st.Users[r.UserID] = false // until the lookup finds it
			users = append(users, r.UserID.String())
		}
		c := checkout.CustomerOffer{OfferID: r.OfferID, UserID: r.UserID}
		o, found := st.Offers[r.OfferID]
		// A hold of a missing offer is refused without its customer's units.
		if h.Limit > 0 && found && !seenCustomer[c] {
			seenCustomer[c] = true
			limited = append(limited, [3]string{r.OfferID.String(), r.UserID.String(), o.ShowID.String()})
		}
		if k := h.Key; k != nil {
			keys = append(keys, [3]string{k.UserID.String(), k.Op, k.Key})
		}
	}
	if err := db.usersExist(ctx, tx, users, st.Users); err != nil {
		return st, err
	}
	if len(limited) > 0 {
		if err := db.customersUnits(ctx, tx, limited, st.Customers); err != nil {
			return st, err
		}
	}
	if len(keys) > 0 {
		stored, err := db.keysStored(ctx, tx, keys)
		if err != nil {
			return st, err
		}
		st.KeyTaken = make([]bool, len(holds))
		for i, h := range holds {
			if k := h.Key; k != nil {
				st.KeyTaken[i] = stored[[3]string{k.UserID.String(), k.Op, k.Key}]
			}
		}
	}
	return st, nil
}

// usersExist marks in exists the users of ids that are stored.
func (db LedgerStore) usersExist(ctx context.Context, tx *sql.Tx, ids []string, exists map[uuid.UUID]bool) error {
	rows, err := db.txQuery(ctx, tx, qUsersExist, jsonList(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return err
		}
		exists[id] = true
	}
	return rows.Err()
}

// customersUnits sets units[c] to the units each (offer, customer, show)
// of list holds or bought.
func (db LedgerStore) customersUnits(ctx context.Context, tx *sql.Tx, list [][3]string, units map[checkout.CustomerOffer]int) error {
	rows, err := db.txQuery(ctx, tx, qCustomersUnits, jsonList(list))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c checkout.CustomerOffer
		var n int
		if err := rows.Scan(&c.OfferID, &c.UserID, &n); err != nil {
			return err
		}
		units[c] = n
	}
	return rows.Err()
}

// keysStored reports which of the (user, op, key) triples are stored.
func (db LedgerStore) keysStored(ctx context.Context, tx *sql.Tx, keys [][3]string) (map[[3]string]bool, error) {
	stored := map[[3]string]bool{}
	for _, k := range keys {
		// JSON cannot carry what is not UTF-8 (the service refuses such
		// keys; the ledger does not rely on it): looked up one by one.
		if !utf8.ValidString(k[1]) || !utf8.ValidString(k[2]) {
			var taken bool
			if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM idempotency_keys WHERE user_id = $1 AND op = $2 AND key = $3)`,
				k[0], k[1], k[2]).Scan(&taken); err != nil {
				return nil, err
			}
			stored[k] = taken
		}
	}
	rows, err := db.txQuery(ctx, tx, qKeysStored, jsonList(keys))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k [3]string
		if err := rows.Scan(&k[0], &k[1], &k[2]); err != nil {
			return nil, err
		}
		stored[k] = true
	}
	return stored, rows.Err()
}
