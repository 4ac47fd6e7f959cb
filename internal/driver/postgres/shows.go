package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

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
	ARRAY(SELECT h.user_id FROM show_hosts h WHERE h.show_id = s.id ORDER BY h.position, h.user_id),
	ARRAY(SELECT d.day FROM pavilion_days d WHERE d.show_id = s.id ORDER BY d.day)`

// writeHosts replaces the hosts of show id inside tx, keeping their order.
// A host that is no user is NotFound.
func writeHosts(ctx context.Context, tx pgx.Tx, id uuid.UUID, hosts []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM show_hosts WHERE show_id = $1`, id); err != nil {
		return err
	}
	if len(hosts) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx,
		`INSERT INTO show_hosts (show_id, user_id, position)
		 SELECT $1, h.id, h.n FROM unnest($2::uuid[]) WITH ORDINALITY AS h(id, n)`,
		id, sqlstore.Distinct(hosts))
	return err
}

// book checks and writes the slot s claims, inside tx: its Pavilion Days and
// its hosts' time (see show.Store).
//
// Days: the primary key of pavilion_days is the rule. INSERT … ON CONFLICT DO
// NOTHING waits for a concurrent transaction that inserted the same day and
// then skips it if that one committed, so of two brands booking a day at the
// same instant exactly one inserts it; the other finds the holder by name.
// Days are inserted in order, so two multi-day bookings cannot deadlock.
//
// Hosts: the hosts' user rows are locked (FOR NO KEY UPDATE, in ID order)
// before the overlap query, so two bookings of one host run one after the
// other and the second sees the first. The lock does not block sign-ins or
// foreign-key checks (FOR KEY SHARE).
func book(ctx context.Context, tx pgx.Tx, s *show.Show) error {
	if err := show.CheckDays(s); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM pavilion_days WHERE show_id = $1`, s.ID); err != nil {
		return err
	}
	if days := show.HeldDays(s); len(days) > 0 {
		rows, err := tx.Query(ctx,
			`INSERT INTO pavilion_days (day, show_id, brand_id)
			 SELECT d, $2, $3 FROM unnest($1::text[]) AS d ORDER BY d
			 ON CONFLICT (day) DO NOTHING RETURNING day`, days, s.ID, s.BrandID)
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(got) < len(days) {
			var day, holder string
			err := tx.QueryRow(ctx,
				`SELECT d.day, b.name FROM pavilion_days d JOIN brands b ON b.id = d.brand_id
				 WHERE d.day = ANY($1::text[]) AND d.show_id <> $2 ORDER BY d.day LIMIT 1`, days, s.ID).Scan(&day, &holder)
			if errors.Is(err, pgx.ErrNoRows) {
				// The holder went away between the insert and this read.
				return apperr.Errorf(apperr.Conflict, "a Pavilion Day was taken at the same moment; try again")
			}
			if err != nil {
				return err
			}
			return show.DayTaken(day, holder)
		}
	}
	hosts := sqlstore.Distinct(s.HostIDs)
	if s.Holds() && len(hosts) > 0 {
		sorted := slices.Clone(hosts)
		slices.SortFunc(sorted, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
		if _, err := tx.Exec(ctx,
			`SELECT 1 FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`, sorted); err != nil {
			return err
		}
		var (
			name, title string
			starts      time.Time
		)
		err := tx.QueryRow(ctx,
			`SELECT COALESCE(NULLIF(u.display_name, ''), u.id::text), o.title, o.starts_at
			 FROM show_hosts h JOIN shows o ON o.id = h.show_id JOIN users u ON u.id = h.user_id
			 WHERE h.user_id = ANY($1::uuid[]) AND o.id <> $2
			   AND o.state IN ('scheduled', 'live') AND o.starts_at < $3 AND o.ends_at > $4
			 ORDER BY o.starts_at LIMIT 1`, hosts, s.ID, s.EndsAt, s.StartsAt).Scan(&name, &title, &starts)
		if err == nil {
			return show.HostBooked(name, title, starts)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
	}
	return writeHosts(ctx, tx, s.ID, s.HostIDs)
}

// lockShow locks the show's row for the rest of tx and returns it as stored.
func lockShow(ctx context.Context, tx pgx.Tx, id uuid.UUID) (*show.Show, error) {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM shows WHERE id = $1 FOR UPDATE`, id); err != nil {
		return nil, err
	}
	sh, err := scan.Show(tx.QueryRow(ctx, `SELECT `+showCols+` FROM shows s WHERE s.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, apperr.Errorf(apperr.NotFound, "show not found")
	}
	return sh, err
}

// CreateShow inserts s with its hosts in one transaction. A missing brand or
// host is NotFound; a taken Pavilion Day or a booked host is a Conflict. The
// show starts without a stream key.
func (db ShowWriter) CreateShow(ctx context.Context, s *show.Show) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO shows (id, brand_id, title, description, kind, visibility, state,
			                    starts_at, ends_at, time_zone, hold_seconds, cover_url, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			s.ID, s.BrandID, s.Title, s.Description, string(s.Kind), string(s.Visibility), string(s.State),
			s.StartsAt, s.EndsAt, s.TimeZone, s.HoldSeconds, s.CoverURL, s.CreatedAt, s.UpdatedAt); err != nil {
			return err
		}
		return book(ctx, tx, s)
	})
	return storeErr("create show", err)
}

// UpdateShow writes every field of s but ID, BrandID and CreatedAt (and the
// stream key), and replaces the hosts, in one transaction, under
// show.CheckEdit and the booking rules.
func (db ShowWriter) UpdateShow(ctx context.Context, s *show.Show) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		old, err := lockShow(ctx, tx, s.ID)
		if err != nil {
			return err
		}
		if err := show.CheckEdit(old, s); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx,
			`UPDATE shows SET title = $2, description = $3, kind = $4, visibility = $5, state = $6,
			                  starts_at = $7, ends_at = $8, time_zone = $9, hold_seconds = $10, updated_at = $11, cover_url = $12
			 WHERE id = $1`,
			s.ID, s.Title, s.Description, string(s.Kind), string(s.Visibility), string(s.State),
			s.StartsAt, s.EndsAt, s.TimeZone, s.HoldSeconds, s.UpdatedAt, s.CoverURL)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.Errorf(apperr.NotFound, "show not found")
		}
		return book(ctx, tx, s)
	})
	return storeErr("update show", err)
}

// Transition moves the show to state to (see show.Store).
func (db ShowWriter) Transition(ctx context.Context, id uuid.UUID, to show.State, at time.Time) (*show.Show, error) {
	var out *show.Show
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		sh, err := lockShow(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := show.CheckTransition(sh.State, to); err != nil {
			return err
		}
		if err := dialect.MoveShow(ctx, txExec(tx), id, to, at); err != nil {
			return err
		}
		if to == show.Live {
			if _, err := tx.Exec(ctx,
				`INSERT INTO notices (id, user_id, show_id, kind, text, created_at)
				 SELECT gen_random_uuid(), user_id, $1, $2, $3, $4 FROM (
				   SELECT user_id FROM show_subscriptions WHERE show_id = $1
				   UNION SELECT user_id FROM brand_follows WHERE brand_id = $5 AND $6
				 ) told ORDER BY user_id`,
				id, show.NoticeLive, fmt.Sprintf("%s is live now", sh.Title), at, sh.BrandID, show.TellsFollowers(sh)); err != nil {
				return err
			}
		}
		out, err = scan.Show(tx.QueryRow(ctx, `SELECT `+showCols+` FROM shows s WHERE s.id = $1`, id))
		return err
	})
	if err != nil {
		return nil, storeErr("show transition", err)
	}
	return out, nil
}
