// Package postgres implements Pavilion's stores on PostgreSQL (pgx/v5): the ledger in cluster mode.
//
// A *DB is a set of small stores, one per responsibility and file
// (AccountStore in users.go, LedgerStore in ledger.go and holds.go) beside
// the stores written once in internal/driver/sqlstore, over one
// pool; together they implement every domain store (account.Store,
// brand.Store, show.Store, checkout.Store, checkout.Ledger, chat.Store…).
// What both SQL drivers share (column lists, scanners, constraint errors,
// migrations, every store they write alike) is in internal/driver/sqlstore. The schema lives in
// versioned SQL files under migrations/, embedded in the binary and applied
// with goose under a PostgreSQL advisory lock, so several nodes may start at
// once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// DB is the PostgreSQL store: one store per responsibility, each in a file
// of its own, over one pool. It is safe for concurrent use.
type DB struct {
	*conn
	sqlstore.Stores
	// What the dialect writes its own way.
	AccountStore
	LedgerStore
}

// conn is the pool, shared by every store of a DB.
type conn struct {
	pool *pgxpool.Pool
	// shared is the pool for the stores written once in sqlstore.
	shared *sqlstore.Conn
}

var _ sqlstore.Store = (*DB)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN, with pgxpool's pool_* parameters) and checks that it answers.
func Open(ctx context.Context, url string) (*DB, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	cn := &conn{pool: pool, shared: sharedConn(pool)}
	return &DB{conn: cn, Stores: sqlstore.NewStores(cn.shared), AccountStore: AccountStore{cn},
		LedgerStore: LedgerStore{cn}}, nil
}

// Pool returns the connection pool, for packages that add their own queries.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes every connection of the pool, waiting for those in use.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// errs reads the constraint PostgreSQL names in its error, and the class
// of its SQLSTATE.
var errs = sqlstore.Errors{Driver: "postgres", Broken: func(err error) (string, sqlstore.Kind, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return "", 0, false
	}
	return pe.ConstraintName, pgKinds[pe.Code], true
}}

// pgKinds are the SQLSTATEs of broken constraints.
var pgKinds = map[string]sqlstore.Kind{
	"23505": sqlstore.Unique,     // unique_violation
	"23503": sqlstore.ForeignKey, // foreign_key_violation
	"23514": sqlstore.Check,      // check_violation
	"22003": sqlstore.OutOfRange, // numeric_value_out_of_range
}

// storeErr turns err into an *apperr.Error when it is one a user can act on
// (a duplicate, a missing reference, a broken invariant), and otherwise wraps
// it as an internal error of op.
func storeErr(op string, err error) error { return errs.Wrap(op, err) }

// notFound maps pgx.ErrNoRows to NotFound "<thing> not found" and anything
// else through storeErr.
func notFound(op, thing string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.Errorf(apperr.NotFound, "%s not found", thing)
	}
	return storeErr(op, err)
}

// scan reads the shared column lists: pgx scans times, JSON documents and
// arrays itself; times come out in UTC.
var scan = sqlstore.Scanner{
	Time:     func(t *time.Time) any { return utcTime{t} },
	NullTime: func(t **time.Time) any { return nullUTCTime{t} },
	JSON:     func(v any) any { return v },
	List:     func(v any) any { return v },
}

// utcTime scans a timestamptz into a UTC time.
type utcTime struct{ t *time.Time }

func (d utcTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		return errors.New("timestamp is NULL")
	}
	*d.t = v.Time.UTC()
	return nil
}

// nullUTCTime scans a nullable timestamptz into a UTC time, or nil for NULL.
type nullUTCTime struct{ t **time.Time }

func (d nullUTCTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*d.t = nil
		return nil
	}
	t := v.Time.UTC()
	*d.t = &t
	return nil
}

// dialect is how PostgreSQL spells lists in the query texts both drivers
// share: a list is bound as one array.
var dialect = sqlstore.Dialect{
	AnyOf: func(col, param string) string { return col + ` = ANY(` + param + `)` },
	List:  func(v any) any { return v },
	Time:  func(t time.Time) any { return pgTime(t) },
	// JSON documents are jsonb, bound as text.
	JSONParam: func(param string) string { return param + `::jsonb` },
	ShowCols:  showCols,
	UserCols:  userCols,
	Lock:      ` FOR UPDATE`,
	KeyLock:   ` FOR NO KEY UPDATE`,
	Bytewise:  ` COLLATE "C"`,
	NewID:     `gen_random_uuid()`,
	Rows:      sqlstore.ArraysOf,
	Greatest:  `GREATEST`,
	Minute:    func(col string) string { return `floor(extract(epoch FROM ` + col + `) / 60)::bigint` },
}

// sharedConn is pool as the stores written once in sqlstore use it.
func sharedConn(pool *pgxpool.Pool) *sqlstore.Conn {
	return &sqlstore.Conn{
		Read: querier{pool},
		Exec: querier{pool}.Exec,
		Tx: func(ctx context.Context, fn func(sqlstore.Querier) error) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(querier{tx}) })
		},
		Snapshot: func(ctx context.Context, fn func(sqlstore.Querier) error) error {
			opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
			return pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error { return fn(querier{tx}) })
		},
		Errs:    errs,
		Dialect: dialect,
		Scan:    scan,
	}
}

// pgxQuerier is what a pool and a transaction both run statements with.
type pgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// querier adapts a pool or a transaction to sqlstore.Querier.
type querier struct{ q pgxQuerier }

func (q querier) Query(ctx context.Context, query string, args ...any) (sqlstore.Cursor, error) {
	rows, err := q.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (q querier) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return pgxRow{q.q.QueryRow(ctx, query, args...)}
}

func (q querier) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// pgxRow reports pgx.ErrNoRows as sqlstore.ErrNoRows too.
type pgxRow struct{ r pgx.Row }

func (r pgxRow) Scan(dest ...any) error {
	err := r.r.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.NoRows(err)
	}
	return err
}
