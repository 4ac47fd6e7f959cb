// Package sqlstore holds what Pavilion's two SQL drivers (internal/driver/sqlite
// and internal/driver/postgres) share: the column lists of the schema, the row
// scanners that turn them into domain values, what a broken constraint means to
// a user, paging, the migration status read from goose, and every store the
// two write alike (Stores), each written once over a Conn.
//
// Both drivers write placeholders as $1, $2 … (query.go says why that works
// on SQLite), so one text serves both. A driver hands its connections over
// as a Conn: a Querier for reads, its write and read-only transactions and
// its error reader; and says through a Scanner and a Dialect how it stores
// and spells what the two store differently (times, JSON documents, lists,
// row locks, many rows bound as one table). Each driver keeps only what truly
// differs: its connections and migrations, the ledger's hold batches and
// order transactions (pipelined batches on PostgreSQL, prepared statements on
// SQLite's one writer) and the user and credential lookups its schema keys
// differently. It must never import a driver.
package sqlstore

// Row is what a scanner reads from: *sql.Row, *sql.Rows, pgx.Row or pgx.Rows.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set being read: *sql.Rows or pgx.Rows.
type Rows interface {
	Row
	Next() bool
	Err() error
}

// All scans every row of rows with scan. The result is never nil. The
// caller closes rows.
func All[T any](rows Rows, scan func(Row) (*T, error)) ([]T, error) {
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, rows.Err()
}

// Default and largest page sizes of listings, and the largest page of
// orders.
const (
	DefaultLimit  = 50
	MaxLimit      = 200
	MaxOrderLimit = 1000
)

// Page normalises an offset and a limit: a limit of 0 or less means the
// default, and no page is larger than MaxLimit.
func Page(offset, limit int) (int, int) { return PageOf(offset, limit, MaxLimit) }

// OrderPage is Page for order listings, whose pages go up to MaxOrderLimit.
func OrderPage(offset, limit int) (int, int) { return PageOf(offset, limit, MaxOrderLimit) }

// PageOf normalises an offset and a limit: a limit of 0 or less means
// DefaultLimit, and no page is larger than max.
func PageOf(offset, limit, max int) (int, int) {
	if offset < 0 {
		offset = 0
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	return offset, min(limit, max)
}
