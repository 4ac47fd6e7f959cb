package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// ShowWriter creates, edits and moves shows with their hosts and Pavilion
// Days; reading them is ShowStore.
type ShowWriter struct{ db *Conn }

// hostCols are the table u of writeHosts.
var hostCols = Cols("user_id uuid, position integer")

// writeHosts replaces the hosts of show id inside tx, keeping their order.
// A host that is no user is NotFound.
func (s ShowWriter) writeHosts(ctx context.Context, tx Querier, id uuid.UUID, hosts []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM show_hosts WHERE show_id = $1`, id); err != nil {
		return err
	}
	rows := make([][]any, 0, len(hosts))
	for i, h := range Distinct(hosts) {
		rows = append(rows, []any{h, int64(i)})
	}
	_, err := s.db.Dialect.ExecRows(ctx, tx, hostCols, rows,
		`INSERT INTO show_hosts (show_id, user_id, position) SELECT $1, user_id, position FROM u WHERE true`, id)
	return s.db.Errs.Ref(err, "host")
}

// dayCols are the table u of book's days.
var dayCols = Cols("day text")

// book checks and writes the slot sh claims, inside tx: its Pavilion Days
// and its hosts' time (see show.Store).
//
// Days: the primary key of pavilion_days is the rule. INSERT … ON CONFLICT DO
// NOTHING waits (PostgreSQL) for a concurrent transaction that inserted the
// same day and then skips it if that one committed, so of two brands booking
// a day at the same instant exactly one inserts it; the other finds the
// holder by name. Days are inserted in order, so two multi-day bookings
// cannot deadlock.
//
// Hosts: on PostgreSQL the hosts' user rows are locked (Dialect.KeyLock, in
// ID order) before the overlap query, so two bookings of one host run one
// after the other and the second sees the first. The lock does not block
// sign-ins or foreign-key checks. SQLite's write transaction holds the file.
func (s ShowWriter) book(ctx context.Context, tx Querier, sh *show.Show) error {
	d := s.db.Dialect
	if err := show.CheckDays(sh); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM pavilion_days WHERE show_id = $1`, sh.ID); err != nil {
		return err
	}
	if days := show.HeldDays(sh); len(days) > 0 {
		n, err := d.ExecRows(ctx, tx, dayCols, column(days),
			`INSERT INTO pavilion_days (day, show_id, brand_id) SELECT day, $1, $2 FROM u WHERE true ORDER BY day
			 ON CONFLICT (day) DO NOTHING`, sh.ID, sh.BrandID)
		if err != nil {
			return err
		}
		if n < int64(len(days)) {
			var day, holder string
			err := tx.QueryRow(ctx,
				`SELECT d.day, b.name FROM pavilion_days d JOIN brands b ON b.id = d.brand_id
				 WHERE `+d.AnyOf(`d.day`, `$1`)+` AND d.show_id <> $2 ORDER BY d.day LIMIT 1`, d.List(days), sh.ID).Scan(&day, &holder)
			if err != nil {
				if IsNoRows(err) {
					// The holder went away between the insert and this read.
					return apperr.Errorf(apperr.Conflict, "a Pavilion Day was taken at the same moment; try again")
				}
				return err
			}
			return show.DayTaken(day, holder)
		}
	}
	hosts := Distinct(sh.HostIDs)
	if !sh.Holds() || len(hosts) == 0 {
		return nil
	}
	if d.KeyLock != "" {
		sorted := slices.Clone(hosts)
		slices.SortFunc(sorted, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		if _, err := tx.Exec(ctx,
			`SELECT 1 FROM users WHERE `+d.AnyOf(`id`, `$1`)+` ORDER BY id`+d.KeyLock, d.List(sorted)); err != nil {
			return err
		}
	}
	var (
		name, title string
		starts      time.Time
	)
	err := tx.QueryRow(ctx,
		`SELECT CASE u.display_name WHEN '' THEN CAST(u.id AS text) ELSE u.display_name END, o.title, o.starts_at
		 FROM show_hosts h JOIN shows o ON o.id = h.show_id JOIN users u ON u.id = h.user_id
		 WHERE `+d.AnyOf(`h.user_id`, `$1`)+` AND o.id <> $2
		   AND o.state IN ('scheduled', 'live') AND o.starts_at < $3 AND o.ends_at > $4
		 ORDER BY o.starts_at LIMIT 1`, d.List(hosts), sh.ID, d.Time(sh.EndsAt), d.Time(sh.StartsAt)).Scan(&name, &title, s.db.Scan.Time(&starts))
	if err == nil {
		return show.HostBooked(name, title, starts)
	}
	if !IsNoRows(err) {
		return err
	}
	return nil
}

// lockShow locks the show's row for the rest of tx (SQLite's write
// transaction holds the file already) and returns it as stored.
func (s ShowWriter) lockShow(ctx context.Context, tx Querier, id uuid.UUID) (*show.Show, error) {
	if s.db.Dialect.Lock != "" {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM shows WHERE id = $1`+s.db.Dialect.Lock, id); err != nil {
			return nil, err
		}
	}
	sh, err := s.db.Scan.Show(tx.QueryRow(ctx, `SELECT `+s.db.Dialect.ShowCols+` FROM shows s WHERE s.id = $1`, id))
	return sh, NotFound(err, "show")
}

// CreateShow inserts sh with its hosts in one transaction. A missing brand
// or host is NotFound; a taken Pavilion Day or a booked host is a Conflict.
// The show starts without a stream key.
func (s ShowWriter) CreateShow(ctx context.Context, sh *show.Show) error {
	d := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO shows (id, brand_id, title, description, kind, visibility, state,
			                    starts_at, ends_at, time_zone, hold_seconds, cover_url, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			sh.ID, sh.BrandID, sh.Title, sh.Description, string(sh.Kind), string(sh.Visibility), string(sh.State),
			d.Time(sh.StartsAt), d.Time(sh.EndsAt), sh.TimeZone, sh.HoldSeconds, sh.CoverURL, d.Time(sh.CreatedAt), d.Time(sh.UpdatedAt)); err != nil {
			return s.db.Errs.Ref(err, "brand")
		}
		if err := s.book(ctx, tx, sh); err != nil {
			return err
		}
		return s.writeHosts(ctx, tx, sh.ID, sh.HostIDs)
	})
	return s.db.Errs.Wrap("create show", err)
}

// UpdateShow writes every field of sh but ID, BrandID and CreatedAt (and the
// stream key), and replaces the hosts, in one transaction, under
// show.CheckEdit and the booking rules.
func (s ShowWriter) UpdateShow(ctx context.Context, sh *show.Show) error {
	d := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		old, err := s.lockShow(ctx, tx, sh.ID)
		if err != nil {
			return err
		}
		if err := show.CheckEdit(old, sh); err != nil {
			return err
		}
		n, err := tx.Exec(ctx,
			`UPDATE shows SET title = $2, description = $3, kind = $4, visibility = $5, state = $6,
			                  starts_at = $7, ends_at = $8, time_zone = $9, hold_seconds = $10, updated_at = $11, cover_url = $12
			 WHERE id = $1`,
			sh.ID, sh.Title, sh.Description, string(sh.Kind), string(sh.Visibility), string(sh.State),
			d.Time(sh.StartsAt), d.Time(sh.EndsAt), sh.TimeZone, sh.HoldSeconds, d.Time(sh.UpdatedAt), sh.CoverURL)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.Errorf(apperr.NotFound, "show not found")
		}
		if err := s.book(ctx, tx, sh); err != nil {
			return err
		}
		return s.writeHosts(ctx, tx, sh.ID, sh.HostIDs)
	})
	return s.db.Errs.Wrap("update show", err)
}

// Transition moves the show to state to (see show.Store); the move to live
// tells the show's subscribers, and its brand's followers when
// show.TellsFollowers says so, each once.
func (s ShowWriter) Transition(ctx context.Context, id uuid.UUID, to show.State, at time.Time) (*show.Show, error) {
	d := s.db.Dialect
	var out *show.Show
	err := s.db.Tx(ctx, func(tx Querier) error {
		sh, err := s.lockShow(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := show.CheckTransition(sh.State, to); err != nil {
			return err
		}
		if err := d.moveShow(ctx, tx, id, to, at); err != nil {
			return err
		}
		if to == show.Live {
			if _, err := tx.Exec(ctx,
				`INSERT INTO notices (id, user_id, show_id, kind, text, created_at)
				 SELECT `+d.NewID+`, user_id, $1, $2, $3, $4 FROM (
				   SELECT user_id FROM show_subscriptions WHERE show_id = $1
				   UNION SELECT user_id FROM brand_follows WHERE brand_id = $5 AND $6
				 ) told ORDER BY user_id`,
				id, show.NoticeLive, fmt.Sprintf("%s is live now", sh.Title), d.Time(at), sh.BrandID, show.TellsFollowers(sh)); err != nil {
				return err
			}
		}
		out, err = s.db.Scan.Show(tx.QueryRow(ctx, `SELECT `+d.ShowCols+` FROM shows s WHERE s.id = $1`, id))
		return err
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("show transition", err)
	}
	return out, nil
}
