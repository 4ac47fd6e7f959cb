package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"
)

// readPool is the read pool with its statements prepared once: the pure-Go
// SQLite spends more time parsing a short query than running it, and the
// buy path's reads (a buyer's credential and account on every request the
// credential cache misses, the offer on a cold cache) are short queries run
// thousands of times a second. database/sql prepares a statement on each
// connection of the pool the first time it runs there.
type readPool struct {
	*sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// maxStmts bounds the cache: queries built with a list of n placeholders
// differ by n, and past the bound they simply run unprepared.
const maxStmts = 256

func (r *readPool) stmt(ctx context.Context, query string) *sql.Stmt {
	r.mu.Lock()
	st, ok := r.stmts[query]
	full := len(r.stmts) >= maxStmts
	r.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := r.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil // the query runs unprepared and reports its own error
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.stmts[query]; ok {
		_ = st.Close()
		return prev
	}
	if r.stmts == nil {
		r.stmts = map[string]*sql.Stmt{}
	}
	r.stmts[query] = st
	return st
}

// QueryContext runs query as a prepared statement.
func (r *readPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query as a prepared statement.
func (r *readPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := r.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.DB.QueryRowContext(ctx, query, args...)
}

// Close closes the statements, then the pool.
func (r *readPool) Close() error {
	r.mu.Lock()
	for _, st := range r.stmts {
		_ = st.Close()
	}
	r.stmts = nil
	r.mu.Unlock()
	return r.DB.Close()
}

// writerStmts are the group commit's statements, prepared on the writer's
// one connection. They are prepared between transactions (while the
// writer's turn is held and no transaction owns the connection: preparing
// inside one would wait for the connection forever) and used in each
// transaction through Tx.StmtContext, which reuses the prepared statement.
type writerStmts struct {
	ready bool // guarded by the writer's turn
	m     map[string]*sql.Stmt
	// tx and inTx are the statements bound to the transaction under way:
	// Tx.StmtContext allocates a statement and registers it with the pool
	// and the transaction on every call, and a batch of holds runs the same
	// few statements hundreds of times.
	tx   *sql.Tx
	inTx map[string]*sql.Stmt
}

// holdStmts are the statements of ReserveBatch.
var holdStmts = slices.Concat([]string{
	qOfferUnits, qSKUFree, qUsersExist, qCustomersUnits, qKeysStored,
	qAddOfferHeld, qAddSKUHeld,
}, insertHolds, insertKeys)

// prepareWriter prepares holdStmts once the schema has them; the caller
// holds the writer's turn. A failure (before migrations) leaves the
// statements to be prepared on a later write, and the queries unprepared.
func (db *conn) prepareWriter(ctx context.Context) {
	if db.ws.ready {
		return
	}
	m := map[string]*sql.Stmt{}
	for _, q := range holdStmts {
		st, err := db.w.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range m {
				_ = st.Close()
			}
			return
		}
		m[q] = st
	}
	db.ws.m, db.ws.ready = m, true
}

// txStmt is query's prepared statement in tx, or nil when there is none.
func (db *conn) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	st, ok := db.ws.m[query]
	if !ok {
		return nil
	}
	if db.ws.tx != tx {
		db.ws.endTx()
		db.ws.tx = tx
	}
	if in, ok := db.ws.inTx[query]; ok {
		return in
	}
	in := tx.StmtContext(ctx, st)
	if db.ws.inTx == nil {
		db.ws.inTx = map[string]*sql.Stmt{}
	}
	db.ws.inTx[query] = in
	return in
}

// endTx forgets the statements bound to the transaction that ended: they
// closed with it. The caller holds the writer's turn.
func (ws *writerStmts) endTx() {
	ws.tx = nil
	clear(ws.inTx)
}

func (db *conn) txQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

func (db *conn) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

func (db *conn) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}
