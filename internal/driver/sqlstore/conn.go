package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// The row-reading layer: a store method written once in this package runs
// its statements through a Querier, and each driver adapts its own
// connections (pgx's pool and transactions, database/sql's) to it. The
// drivers keep what truly differs (locking, batches, upserts over arrays,
// SQLite's single writer) and hand a Conn to the stores that are alike.

// Querier runs statements on a pool or in a transaction.
type Querier interface {
	// Query runs a query that returns rows; the caller closes them.
	Query(ctx context.Context, query string, args ...any) (Cursor, error)
	// QueryRow runs a query that returns at most one row. Its Scan
	// reports no row as an error that is ErrNoRows.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Exec runs a statement and reports how many rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
}

// Cursor is a result set being read, which its reader closes.
type Cursor interface {
	Rows
	Close()
}

// ErrNoRows is what a Querier's Row.Scan returns, beside the driver's own
// error, when the query found no row.
var ErrNoRows = errors.New("no rows in result set")

// noRows is a driver's no-row error that is also ErrNoRows.
type noRows struct{ err error }

func (e noRows) Error() string   { return e.err.Error() }
func (e noRows) Unwrap() []error { return []error{ErrNoRows, e.err} }

// IsNoRows reports whether err is a query's finding no row.
func IsNoRows(err error) bool { return errors.Is(err, ErrNoRows) }

// NoRows marks a driver's no-row error as ErrNoRows too; adapters call it.
func NoRows(err error) error { return noRows{err} }

// Conn is a driver's database as the stores written once here use it.
type Conn struct {
	// Read runs reads outside a transaction.
	Read Querier
	// Exec runs one write statement outside a transaction and reports how
	// many rows it changed. (SQLite runs it on its one writer, in turn.)
	Exec func(ctx context.Context, query string, args ...any) (int64, error)
	// Tx runs fn in a write transaction and commits it when fn returns
	// nil. fn's error comes back unchanged.
	Tx func(ctx context.Context, fn func(tx Querier) error) error
	// Snapshot runs fn in a read-only transaction whose queries all see
	// one state of the database. fn's error comes back unchanged.
	Snapshot func(ctx context.Context, fn func(tx Querier) error) error
	// Errs reads the driver's errors.
	Errs Errors
	// Dialect spells and encodes what the dialects write differently.
	Dialect Dialect
	// Scan reads what the dialects store differently.
	Scan Scanner
}

// QueryAll runs query on q and scans every row with scan. The result is
// never nil.
func QueryAll[T any](ctx context.Context, q Querier, scan func(Row) (*T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return All(rows, scan)
}

// readOne reads the one row query finds, outside a transaction, with scan:
// none is NotFound "<thing> not found"; errors are wrapped as op's.
func readOne[T any](ctx context.Context, c *Conn, op, thing string, scan func(Row) (*T, error), query string, args ...any) (*T, error) {
	v, err := scan(c.Read.QueryRow(ctx, query, args...))
	if err != nil {
		return nil, c.Errs.Wrap(op, NotFound(err, thing))
	}
	return v, nil
}

// ExecOne runs a write statement that must change one row: none is
// NotFound "<thing> not found".
func (c *Conn) ExecOne(ctx context.Context, thing, query string, args ...any) error {
	n, err := c.Exec(ctx, query, args...)
	if err == nil && n == 0 {
		return apperr.Errorf(apperr.NotFound, "%s not found", thing)
	}
	return err
}

// Ref names what a statement with one reference that may be missing refers
// to: SQLite does not say which foreign key broke, so a broken one it does
// not name is NotFound "<thing> not found" (one PostgreSQL names says what
// Constraints says). Other errors pass unchanged.
func (e Errors) Ref(err error, thing string) error {
	if err == nil {
		return nil
	}
	name, kind, ok := e.Broken(err)
	if !ok || kind != ForeignKey {
		return err
	}
	if v, ok := Constraints[name]; ok {
		return apperr.Wrap(v.Code, err, v.Msg)
	}
	return apperr.Wrap(apperr.NotFound, err, thing+" not found")
}

// NotFound is NotFound "<thing> not found" for no row, and err otherwise.
func NotFound(err error, thing string) error {
	if errors.Is(err, ErrNoRows) {
		return apperr.Errorf(apperr.NotFound, "%s not found", thing)
	}
	return err
}

// NullTime encodes a nullable time argument: NULL for nil.
func (d Dialect) NullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return d.Time(*t)
}
