package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/show"
)

// ShowWriter creates, edits and moves shows with their hosts and Pavilion
// Days; reading them is sqlstore.ShowStore.
type ShowWriter struct{ *conn }

// showCols selects a show with its hosts in order; s is shows.
const showCols = `s.id, s.brand_id, s.title, s.description, s.kind, s.visibility, s.state,
	s.starts_at, s.ends_at, s.time_zone, s.hold_seconds, s.cover_url, s.created_at, s.updated_at,
	s.went_live_at, s.ended_at,
	(SELECT json_group_array(h.user_id ORDER BY h.position) FROM show_hosts h WHERE h.show_id = s.id),
	(SELECT json_group_array(d.day ORDER BY d.day) FROM pavilion_days d WHERE d.show_id = s.id)`

// writeHosts replaces the hosts of show id inside tx, in the order given. A
// missing host is NotFound.
func writeHosts(ctx context.Context, tx *sql.Tx, id uuid.UUID, hosts []uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM show_hosts WHERE show_id = $1`, id); err != nil {
		return err
	}
	for i, h := range sqlstore.Distinct(hosts) {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO show_hosts (show_id, user_id, position) VALUES ($1, $2, $3)`, id, h, i); err != nil {
			return refErr(err, "host")
		}
	}
	return nil
}

// inList is "($first, $first+1, …)" for n values.
func inList(first, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+i))
	}
	b.WriteByte(')')
	return b.String()
}

func anys[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// book checks and writes the slot s claims, inside tx: its Pavilion Days and
// its hosts' time. Every write goes through the one writer connection in an
// IMMEDIATE transaction, so nothing can slip between the checks and the
// writes, in this process or another.
func book(ctx context.Context, tx *sql.Tx, s *show.Show) error {
	if err := show.CheckDays(s); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM pavilion_days WHERE show_id = $1`, s.ID); err != nil {
		return err
	}
	if days := show.HeldDays(s); len(days) > 0 {
		var day, holder string
		err := tx.QueryRowContext(ctx,
			`SELECT d.day, b.name FROM pavilion_days d JOIN brands b ON b.id = d.brand_id
			 WHERE d.day IN `+inList(1, len(days))+` ORDER BY d.day LIMIT 1`, anys(days)...).Scan(&day, &holder)
		if err == nil {
			return show.DayTaken(day, holder)
		}
		if err != sql.ErrNoRows {
			return err
		}
		for _, d := range days {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO pavilion_days (day, show_id, brand_id) VALUES ($1, $2, $3)`, d, s.ID, s.BrandID); err != nil {
				return err
			}
		}
	}
	hosts := sqlstore.Distinct(s.HostIDs)
	if s.Holds() && len(hosts) > 0 {
		var (
			name, title string
			starts      int64
		)
		args := append([]any{s.ID, micros(s.EndsAt), micros(s.StartsAt)}, anys(hosts)...)
		err := tx.QueryRowContext(ctx,
			`SELECT CASE u.display_name WHEN '' THEN u.id ELSE u.display_name END, o.title, o.starts_at
			 FROM show_hosts h JOIN shows o ON o.id = h.show_id JOIN users u ON u.id = h.user_id
			 WHERE h.user_id IN `+inList(4, len(hosts))+` AND o.id <> $1
			   AND o.state IN ('scheduled', 'live') AND o.starts_at < $2 AND o.ends_at > $3
			 ORDER BY o.starts_at LIMIT 1`, args...).Scan(&name, &title, &starts)
		if err == nil {
			return show.HostBooked(name, title, time.UnixMicro(starts))
		}
		if err != sql.ErrNoRows {
			return err
		}
	}
	return writeHosts(ctx, tx, s.ID, s.HostIDs)
}

// CreateShow inserts s with its hosts. A missing brand or host is NotFound; a
// taken Pavilion Day or a booked host is a Conflict (see show.Store).
func (db ShowWriter) CreateShow(ctx context.Context, s *show.Show) error {
	return db.write(ctx, "create show", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO shows (id, brand_id, title, description, kind, visibility, state,
				starts_at, ends_at, time_zone, hold_seconds, cover_url, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			s.ID, s.BrandID, s.Title, s.Description, s.Kind, s.Visibility, s.State,
			micros(s.StartsAt), micros(s.EndsAt), s.TimeZone, s.HoldSeconds, s.CoverURL, micros(s.CreatedAt), micros(s.UpdatedAt))
		if err != nil {
			return refErr(err, "brand")
		}
		return book(ctx, tx, s)
	})
}

// UpdateShow writes every field but ID, BrandID and CreatedAt, and replaces
// the hosts, under show.CheckEdit and the booking rules.
func (db ShowWriter) UpdateShow(ctx context.Context, s *show.Show) error {
	return db.write(ctx, "update show", func(tx *sql.Tx) error {
		old, err := scan.Show(tx.QueryRowContext(ctx, `SELECT `+showCols+` FROM shows s WHERE s.id = $1`, s.ID))
		if err != nil {
			return noRows(err, "show")
		}
		if err := show.CheckEdit(old, s); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx,
			`UPDATE shows SET title = $1, description = $2, kind = $3, visibility = $4, state = $5,
				starts_at = $6, ends_at = $7, time_zone = $8, hold_seconds = $9, cover_url = $10, updated_at = $11
			 WHERE id = $12`,
			s.Title, s.Description, s.Kind, s.Visibility, s.State,
			micros(s.StartsAt), micros(s.EndsAt), s.TimeZone, s.HoldSeconds, s.CoverURL, micros(s.UpdatedAt), s.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return apperr.Errorf(apperr.NotFound, "show not found")
		}
		return book(ctx, tx, s)
	})
}

// Transition moves the show to state to (see show.Store).
func (db ShowWriter) Transition(ctx context.Context, id uuid.UUID, to show.State, at time.Time) (*show.Show, error) {
	var out *show.Show
	err := db.write(ctx, "show transition", func(tx *sql.Tx) error {
		q := `SELECT ` + showCols + ` FROM shows s WHERE s.id = $1`
		sh, err := scan.Show(tx.QueryRowContext(ctx, q, id))
		if err != nil {
			return noRows(err, "show")
		}
		if err := show.CheckTransition(sh.State, to); err != nil {
			return err
		}
		if err := dialect.MoveShow(ctx, txExec(tx), id, to, at); err != nil {
			return err
		}
		if to == show.Live {
			subs, err := queryAll(ctx, tx, func(r row) (*uuid.UUID, error) {
				var u uuid.UUID
				return &u, r.Scan(&u)
			}, `SELECT user_id FROM show_subscriptions WHERE show_id = $1
			    UNION SELECT user_id FROM brand_follows WHERE brand_id = $2 AND $3
			    ORDER BY user_id`, id, sh.BrandID, show.TellsFollowers(sh))
			if err != nil {
				return err
			}
			text := fmt.Sprintf("%s is live now", sh.Title)
			for _, u := range subs {
				if _, err := tx.ExecContext(ctx,
					`INSERT INTO notices (id, user_id, show_id, kind, text, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
					uuid.New(), u, id, show.NoticeLive, text, micros(at)); err != nil {
					return err
				}
			}
		}
		out, err = scan.Show(tx.QueryRowContext(ctx, q, id))
		return err
	})
	return out, err
}
