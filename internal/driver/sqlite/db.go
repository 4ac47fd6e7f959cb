// Package sqlite implements Pavilion's stores on an embedded SQLite file: the default when no database is configured.
//
// A *DB is a set of small stores, one per responsibility and file
// (AccountStore in users.go, LedgerStore in ledger.go and holds.go) beside
// the stores written once in internal/driver/sqlstore, over one
// set of connections; together they implement every domain store
// (account.Store, brand.Store, show.Store, checkout.Store, checkout.Ledger,
// chat.Store…) on the pure-Go driver modernc.org/sqlite, so the binary needs
// no cgo. What both SQL drivers share (column lists, scanners, constraint
// errors, migrations, every store they write alike with $N placeholders)
// is in internal/driver/sqlstore. The schema lives in versioned SQL files under
// migrations/, embedded in the binary and applied with goose.
//
// The file is opened in WAL mode through two connection pools: a single
// writer connection that every write and transaction goes through, so
// writers in this process queue in Go instead of fighting over SQLite's
// lock, and a few reader connections that run reads in parallel with it.
// Write transactions begin IMMEDIATE and every connection waits up to
// busyTimeout for the lock, so another process on the same file (the demo
// command next to a running server) is serialised rather than refused.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

const (
	// busyTimeout is how long a connection waits for another connection's
	// lock (usually another process's write) before failing with SQLITE_BUSY.
	busyTimeout = 10 * time.Second
	// readers is the size of the read pool.
	readers = 4
	// checkpointEvery is how often the checkpointer copies the WAL into the
	// database file. SQLite's own automatic checkpoint runs inside a commit
	// (every 1,000 pages) and fsyncs the database file while every other
	// writer waits behind it: in a stampede of holds that was the long tail
	// (bench/results/2026-12-03-7c6c5a2-buy-embedded-reserve-profile.md). A
	// passive checkpoint on its own connection copies what no reader still
	// needs while the writer keeps appending to the WAL. Every second, not
	// more often: a page written by many commits in between (an index's
	// right edge, the offer's row) is copied once, and in a stampede of
	// holds the checkpoints' copying was 16 % of the process's CPU at
	// 200 ms (bench/results/2026-12-04-holds-embedded.md).
	checkpointEvery = time.Second
	// writerCheckpointPages is the writer's own automatic checkpoint, left
	// as a bound (about 200 MB of WAL) should the checkpointer fall behind:
	// a stampede writes ~5 pages a hold, so a second of holds at 10,000 a
	// second stays below it.
	writerCheckpointPages = 50000
	// writerCacheKiB is the writer's page cache: 64 MiB, room for the hot
	// part of a busy ledger's indexes (negative in the pragma: KiB, not pages).
	writerCacheKiB = 64 << 10
)

// DB is the SQLite store: one store per responsibility, each in a file of
// its own, over one connection set. It is safe for concurrent use.
type DB struct {
	*conn
	sqlstore.Stores
	// What the dialect writes its own way.
	AccountStore
	LedgerStore
}

// conn is the file's connections, shared by every store of a DB.
type conn struct {
	path string    // absolute path of the file
	w    *sql.DB   // one connection: every write and every transaction
	r    *readPool // reads outside transactions
	// turn queues writers first come, first served: a channel's waiting
	// senders are served in order, while database/sql hands its one
	// connection to a random waiter, which under a crowd of writers leaves
	// some waiting for seconds.
	turn chan struct{}
	ws   writerStmts // prepared on w; guarded by turn
	// shared is the connections for the stores written once in sqlstore.
	shared *sqlstore.Conn

	ckpt      *sql.DB       // one connection: the background checkpoints
	stopCkpt  chan struct{} // closed by Close
	ckptDone  chan struct{} // closed when the checkpointer has returned
	closeOnce sync.Once
}

var _ sqlstore.Store = (*DB)(nil)

// Open opens the SQLite file at path, creating it and its directory when
// missing. Call Migrate before using the stores.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open: want a file path, got %q", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	// The writer comes first: it creates the file and switches it to WAL,
	// which is persistent, so readers need not (and, query-only, cannot).
	w, err := openPool(ctx, abs, 1,
		"journal_mode(WAL)",
		// FULL: a committed order survives a power cut, not only a crash.
		"synchronous(FULL)",
		"wal_autocheckpoint("+strconv.Itoa(writerCheckpointPages)+")",
		// The writer reads before it writes (every batch of holds looks up
		// offers, customers and keys) and then dirties index pages all over
		// the file: SQLite's default cache of 2 MB let those pages go and
		// read them back from the file in every transaction.
		"cache_size("+strconv.Itoa(-writerCacheKiB)+")",
		// A statement that writes several rows (a batch's holds go in a few
		// multi-row INSERTs) keeps a statement journal to undo itself on a
		// failure; past 64 KiB SQLite spills it to a temporary file, which
		// doubled the write system calls of a batch of holds. In memory it
		// stays at most a statement's pages, and temporary tables the same.
		"temp_store(MEMORY)",
	)
	if err != nil {
		return nil, err
	}
	r, err := openPool(ctx, abs, readers, "query_only(1)")
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	c, err := openPool(ctx, abs, 1, "synchronous(FULL)")
	if err != nil {
		_ = errors.Join(r.Close(), w.Close())
		return nil, err
	}
	cn := &conn{path: abs, w: w, r: &readPool{DB: r}, turn: make(chan struct{}, 1),
		ckpt: c, stopCkpt: make(chan struct{}), ckptDone: make(chan struct{})}
	cn.shared = cn.sharedConn()
	go cn.checkpoints()
	return &DB{conn: cn, Stores: sqlstore.NewStores(cn.shared), AccountStore: AccountStore{cn},
		LedgerStore: LedgerStore{cn}}, nil
}

// checkpoints copies the WAL into the database file every checkpointEvery
// until Close. A passive checkpoint never waits for the writer or a reader;
// one that could not finish (SQLITE_BUSY, a reader on old frames) is simply
// tried again at the next tick.
func (db *conn) checkpoints() {
	defer close(db.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-db.stopCkpt:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), busyTimeout)
		_, _ = db.ckpt.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		cancel()
	}
}

// openPool opens a pool of at most n connections to the file at abs; every
// connection gets the common pragmas and then extra.
func openPool(ctx context.Context, abs string, n int, extra ...string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	for _, p := range extra {
		q.Add("_pragma", p)
	}
	// Transactions take the write lock when they begin, so two of them never
	// deadlock upgrading a read lock. Read-only transactions stay deferred.
	q.Set("_txlock", "immediate")
	// A file: URI with an escaped path, so a '?' or '#' in the path is a name.
	dsn := "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() + "?" + q.Encode()

	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	return db, nil
}

// Ping checks that both pools can reach the file.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := db.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close stops the checkpointer and closes the readers, then the writer: the
// last connection to close checkpoints the WAL into the main file.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.stopCkpt) })
	<-db.ckptDone
	return errors.Join(db.ckpt.Close(), db.r.Close(), db.w.Close())
}

// take waits for the writer's turn; the returned func gives it up.
func (db *conn) take(ctx context.Context) (func(), error) {
	select {
	case db.turn <- struct{}{}:
		return func() { <-db.turn }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write runs fn in a write transaction on the writer and commits it when fn
// returns nil. Errors come back through storeErr.
func (db *conn) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return storeErr(op, db.tx(ctx, fn))
}

// tx is write with the errors as they are.
func (db *conn) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	done, err := db.take(ctx)
	if err != nil {
		return err
	}
	defer done()
	db.prepareWriter(ctx)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	defer db.ws.endTx()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// read runs fn in a read transaction on a reader: its queries see one
// snapshot of the file.
func (db *conn) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	return storeErr(op, db.snapshot(ctx, fn))
}

// snapshot is read with the errors as they are.
func (db *conn) snapshot(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(tx)
}

// exec runs one write statement on the writer, outside a transaction, and
// reports how many rows it changed. Errors are the driver's: callers pass
// them through storeErr.
func (db *conn) exec(ctx context.Context, query string, args ...any) (int64, error) {
	done, err := db.take(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := db.w.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// execOne is exec for a statement that must change one row: none is
// NotFound "<thing> not found".
func (db *conn) execOne(ctx context.Context, thing, query string, args ...any) error {
	n, err := db.exec(ctx, query, args...)
	if err == nil && n == 0 {
		return apperr.Errorf(apperr.NotFound, "%s not found", thing)
	}
	return err
}

// --- Errors ---------------------------------------------------------------

// sqliteNames translates what SQLite names in a UNIQUE or PRIMARY KEY
// error (the constrained columns, "table.col, table.col") into the name the
// schema gives the constraint, under which sqlstore.Constraints says what it
// means. CHECK constraints SQLite names as the schema does.
var sqliteNames = map[string]string{
	"users.id":                       "users_pkey",
	"users.email_key":                "users_email_key",
	"credentials.hash":               "credentials_pkey",
	"brands.id":                      "brands_pkey",
	"brands.slug":                    "brands_slug_key",
	"shows.id":                       "shows_pkey",
	"products.id":                    "products_pkey",
	"skus.id":                        "skus_pkey",
	"skus.brand_id, skus.code":       "skus_brand_code_key",
	"offers.id":                      "offers_pkey",
	"reservations.id":                "reservations_pkey",
	"orders.id":                      "orders_pkey",
	"coupons.brand_id, coupons.code": "coupons_code_key",
}

// sqliteError returns the driver error in err's chain, or nil.
func sqliteError(err error) *sqlite.Error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// constraintOf reports the constraint err broke, as SQLite names it after
// "constraint failed: " — for example "skus.brand_id, skus.code" or
// "skus_stock_check" — or "" when err is no constraint violation or SQLite
// names nothing (a foreign key).
func constraintOf(err error) string {
	se := sqliteError(err)
	if se == nil || se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT {
		return ""
	}
	// modernc's message is "constraint failed: UNIQUE constraint failed:
	// skus.brand_id, skus.code (2067)": SQLite's own after its error string,
	// then the code.
	const marker = "constraint failed: "
	msg := se.Error()
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return ""
	}
	name := msg[i+len(marker):]
	if i := strings.LastIndex(name, " ("); i >= 0 {
		name = name[:i]
	}
	return name
}

// errs reads the constraint SQLite names in its error, under the schema's
// name, and the kind its extended code says.
var errs = sqlstore.Errors{Driver: "sqlite", Broken: func(err error) (string, sqlstore.Kind, bool) {
	se := sqliteError(err)
	if se == nil || se.Code()&0xff != sqlite3.SQLITE_CONSTRAINT {
		return "", 0, false
	}
	name := constraintOf(err)
	if n, ok := sqliteNames[name]; ok {
		name = n
	}
	return name, sqliteKinds[se.Code()], true
}}

// sqliteKinds are the extended codes of broken constraints.
var sqliteKinds = map[int]sqlstore.Kind{
	sqlite3.SQLITE_CONSTRAINT_UNIQUE:     sqlstore.Unique,
	sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY: sqlstore.Unique,
	sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: sqlstore.ForeignKey,
	sqlite3.SQLITE_CONSTRAINT_CHECK:      sqlstore.Check,
}

// storeErr turns err into an *apperr.Error when it is one a user can act on
// (a duplicate, a broken invariant), and otherwise wraps it as an internal
// error of op. An *apperr.Error passes through unchanged.
func storeErr(op string, err error) error { return errs.Wrap(op, err) }

// refErr names what a statement refers to: SQLite does not say which
// foreign key broke, so a statement with one reference that may be missing
// maps the violation to NotFound "<thing> not found". Other errors pass.
func refErr(err error, thing string) error {
	if se := sqliteError(err); se != nil && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return apperr.Wrap(apperr.NotFound, err, thing+" not found")
	}
	return err
}

// noRows maps sql.ErrNoRows to NotFound "<thing> not found"; other errors pass.
func noRows(err error, thing string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Errorf(apperr.NotFound, "%s not found", thing)
	}
	return err
}

// --- Values in and out ----------------------------------------------------

// micros is how a time is stored: unix microseconds, which is all the
// precision PostgreSQL keeps too.
func micros(t time.Time) int64 { return t.UnixMicro() }

// now is the current time as stored.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// timeDest scans an INTEGER of unix microseconds into a UTC time.
type timeDest struct{ t *time.Time }

func (d timeDest) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("time column holds %T, want INTEGER", src)
	}
	*d.t = time.UnixMicro(n).UTC()
	return nil
}

// asTime scans a stored time into t.
func asTime(t *time.Time) any { return timeDest{t} }

// nullTimeDest scans a nullable INTEGER of unix microseconds into a UTC
// time, or nil for NULL.
type nullTimeDest struct{ t **time.Time }

func (d nullTimeDest) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	var t time.Time
	if err := (timeDest{&t}).Scan(src); err != nil {
		return err
	}
	*d.t = &t
	return nil
}

// asNullTime scans a nullable stored time into t: nil for NULL.
func asNullTime(t **time.Time) any { return nullTimeDest{t} }

// nullMicros is how a nullable time is stored: NULL for nil.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return micros(*t)
}

// jsonDest scans JSON text into v.
type jsonDest struct{ v any }

func (d jsonDest) Scan(src any) error {
	switch s := src.(type) {
	case string:
		return json.Unmarshal([]byte(s), d.v)
	case []byte:
		return json.Unmarshal(s, d.v)
	}
	return fmt.Errorf("JSON column holds %T, want TEXT", src)
}

// asJSON scans a JSON text column into v, a pointer.
func asJSON(v any) any { return jsonDest{v} }

// jsonText encodes v for a JSON text column.
func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// scan reads the shared column lists: times are INTEGER unix microseconds,
// JSON documents and lists are JSON text.
var scan = sqlstore.Scanner{Time: asTime, NullTime: asNullTime, JSON: asJSON, List: asJSON}

// row is what scan functions read from: *sql.Row or *sql.Rows.
type row = sqlstore.Row

// rowsQuerier runs queries: *sql.DB or *sql.Tx.
type rowsQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs query and scans every row with scan. The result is never nil.
func queryAll[T any](ctx context.Context, q rowsQuerier, scan func(row) (*T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return sqlstore.All(rows, scan)
}

// dialect is how SQLite spells lists in the query texts both drivers share:
// a list is bound as one JSON array and read back with json_each.
var dialect = sqlstore.Dialect{
	AnyOf: func(col, param string) string { return col + ` IN (SELECT value FROM json_each(` + param + `))` },
	List:  jsonList,
	Time:  func(t time.Time) any { return micros(t) },
	// JSON documents are stored as text.
	JSONParam: func(param string) string { return param },
	ShowCols:  showCols,
	UserCols:  userCols,
	// A write transaction begins IMMEDIATE: it holds the file's write
	// lock from its first statement.
	Lock: ``,
	Rows: sqlstore.ValuesOf,
	// SQLite's SQLITE_MAX_VARIABLE_NUMBER was 999 before 3.32: a bound
	// every build keeps, and statements small enough to plan quickly.
	MaxParams: 999,
	Greatest:  `max`,
	// A version 4 UUID in the text form uuid.UUID is stored in.
	NewID: `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
		substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`,
	Minute: func(col string) string { return col + ` / 60000000` }, // unix microseconds
}

// jsonList encodes a list of IDs or strings as a JSON array. Neither can
// fail to encode.
func jsonList(v any) any {
	b, _ := json.Marshal(v)
	return string(b)
}

// sharedConn is db as the stores written once in sqlstore use it: reads on
// the read pool, writes on the writer in turn.
func (db *conn) sharedConn() *sqlstore.Conn {
	return &sqlstore.Conn{
		Read: querier{db.r},
		Exec: db.exec,
		Tx: func(ctx context.Context, fn func(sqlstore.Querier) error) error {
			return db.tx(ctx, func(tx *sql.Tx) error { return fn(querier{tx}) })
		},
		Snapshot: func(ctx context.Context, fn func(sqlstore.Querier) error) error {
			return db.snapshot(ctx, func(tx *sql.Tx) error { return fn(querier{tx}) })
		},
		Errs:    errs,
		Dialect: dialect,
		Scan:    scan,
	}
}

// sqlQuerier is what the read pool and a transaction both run statements
// with.
type sqlQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// querier adapts the read pool or a transaction to sqlstore.Querier.
type querier struct{ q sqlQuerier }

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Cursor, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return cursor{rows}, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return sqlRow{q.q.QueryRowContext(ctx, query, args...)}
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// cursor is *sql.Rows as a sqlstore.Cursor. Its Close drops the error:
// what reading the rows met, Err has reported already.
type cursor struct{ *sql.Rows }

func (c cursor) Close() { _ = c.Rows.Close() }

// sqlRow reports sql.ErrNoRows as sqlstore.ErrNoRows too.
type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.NoRows(err)
	}
	return err
}
