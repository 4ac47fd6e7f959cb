package sqlstore

import (
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Both drivers write placeholders as $1, $2 …: pgx binds them natively and
// modernc.org/sqlite binds $N to the Nth argument wherever and however often
// it appears (internal/driver/sqlite's TestDollarPlaceholdersBindPositionally),
// so a query text that needs nothing dialect-specific serves both.

// Dialect spells what the two dialects write differently inside a query text
// they otherwise share, and encodes the arguments they store differently.
type Dialect struct {
	// AnyOf is the condition that col is one of the list bound as param.
	AnyOf func(col, param string) string
	// List encodes a list of IDs or strings for AnyOf. It is never given nil.
	List func(v any) any
	// Time encodes a time argument as the dialect stores it.
	Time func(time.Time) any
	// JSONParam is param read as a JSON document.
	JSONParam func(param string) string
	// ShowCols selects a show from shows s, with its list of host IDs in
	// order and its list of Pavilion days, for Scanner.Show: each dialect
	// aggregates a list its own way.
	ShowCols string
	// UserCols selects a user from users u with its list of roles and its
	// list of brand IDs in order, for Scanner.User.
	UserCols string
	// Lock ends a SELECT that locks the rows it reads until the
	// transaction ends (" FOR UPDATE"), or is empty where a write
	// transaction holds the whole database already (SQLite).
	Lock string
	// KeyLock ends a SELECT that locks the rows it reads against updates
	// and deletes but not against references to them (" FOR NO KEY
	// UPDATE"), or is empty as Lock is.
	KeyLock string
	// Bytewise follows an ORDER BY term that orders text byte by byte, as
	// SQLite does by default (PostgreSQL: ` COLLATE "C"`).
	Bytewise string
	// Rows binds rows as the table u of cols for a statement that reads it
	// (ArraysOf, ValuesOf), its parameters numbered from first.
	Rows func(cols []Col, rows [][]any, first int) (string, []any)
	// MaxParams is how many parameters one statement may bind, 0 for no
	// bound that matters.
	MaxParams int
	// Greatest is the function that returns the larger of two values.
	Greatest string
	// NewID is an expression for a new random UUID, one per row it is
	// evaluated for, as the dialect stores it (SQLite: text).
	NewID string
	// Minute is the whole minutes since the Unix epoch of the time column
	// col, as a bigint.
	Minute func(col string) string
}

// Args numbers the arguments of a query built piece by piece.
type Args []any

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// strs is vs as plain strings, for a list argument.
func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// where joins conditions into a WHERE clause, or "" for none.
func where(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(conds, ` AND `)
}

// ListShows is the query of show.Store.ListShows over cols (each driver
// gathers a show's hosts and days its own way) from shows s: the shows f
// selects, ordered by start time, then ID, one page of them.
func (d Dialect) ListShows(cols string, f show.Filter) (string, []any) {
	var (
		conds []string
		args  Args
	)
	if f.BrandID != uuid.Nil {
		conds = append(conds, `s.brand_id = `+args.Add(f.BrandID))
	}
	if len(f.States) > 0 {
		conds = append(conds, d.AnyOf(`s.state`, args.Add(d.List(strs(f.States)))))
	}
	if !f.IncludeMembers {
		conds = append(conds, `s.visibility = `+args.Add(string(show.Public)))
	}
	if !f.EndsAfter.IsZero() {
		conds = append(conds, `s.ends_at > `+args.Add(d.Time(f.EndsAfter)))
	}
	q := `SELECT ` + cols + ` FROM shows s` + where(conds)
	switch {
	case f.Newest:
		q += ` ORDER BY s.starts_at DESC, s.id DESC`
	case f.PavilionDayFirst:
		q += ` ORDER BY s.kind = 'pavilion_day' DESC, s.starts_at, s.id`
	default:
		q += ` ORDER BY s.starts_at, s.id`
	}
	offset, limit := Page(f.Offset, f.Limit)
	q += ` LIMIT ` + args.Add(limit) + ` OFFSET ` + args.Add(offset)
	return q, args
}

// ListOrders is the query of checkout.Store.ListOrders: the orders f
// selects, newest first, one page of them.
func (d Dialect) ListOrders(f checkout.OrderFilter) (string, []any) {
	var (
		conds []string
		args  Args
	)
	for _, c := range []struct {
		col string
		id  uuid.UUID
	}{{"user_id", f.UserID}, {"brand_id", f.BrandID}, {"show_id", f.ShowID}} {
		if c.id != uuid.Nil {
			conds = append(conds, c.col+` = `+args.Add(c.id))
		}
	}
	if len(f.States) > 0 {
		conds = append(conds, d.AnyOf(`state`, args.Add(d.List(strs(f.States)))))
	}
	offset, limit := OrderPage(f.Offset, f.Limit)
	q := `SELECT ` + OrderCols + ` FROM orders` + where(conds) +
		` ORDER BY created_at DESC, seq DESC LIMIT ` + args.Add(limit) + ` OFFSET ` + args.Add(offset)
	return q, args
}

// ActiveReservations is the query of checkout.Ledger.ActiveReservations:
// the customer's held and ordering reservations, in one show or (showID
// zero) in all, soonest to expire first.
func ActiveReservations(userID, showID uuid.UUID) (string, []any) {
	args := Args{checkout.MaxActiveHolds, userID}
	cond := `user_id = $2`
	if showID != uuid.Nil {
		cond += ` AND show_id = ` + args.Add(showID)
	}
	return `SELECT ` + ReservationCols + ` FROM reservations
		 WHERE ` + cond + ` AND state IN ('held', 'ordering')
		 ORDER BY expires_at, id LIMIT $1`, args
}
