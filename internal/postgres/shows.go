package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// showCols selects a show with its hosts in order; s is shows.
const showCols = `s.id, s.brand_id, s.title, s.description, s.kind, s.visibility, s.state,
	s.starts_at, s.ends_at, s.time_zone, s.hold_seconds, s.created_at, s.updated_at,
	ARRAY(SELECT h.user_id FROM show_hosts h WHERE h.show_id = s.id ORDER BY h.position, h.user_id)`

func scanShow(row pgx.Row) (*show.Show, error) {
	var (
		s                       show.Show
		kind, visibility, state string
	)
	if err := row.Scan(&s.ID, &s.BrandID, &s.Title, &s.Description, &kind, &visibility, &state,
		&s.StartsAt, &s.EndsAt, &s.TimeZone, &s.HoldSeconds, &s.CreatedAt, &s.UpdatedAt, &s.HostIDs); err != nil {
		return nil, err
	}
	s.Kind, s.Visibility, s.State = show.Kind(kind), show.Visibility(visibility), show.State(state)
	s.StartsAt, s.EndsAt = s.StartsAt.UTC(), s.EndsAt.UTC()
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	if s.HostIDs == nil {
		s.HostIDs = []uuid.UUID{}
	}
	return &s, nil
}

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
		id, uniqueIDs(hosts))
	return err
}

// CreateShow inserts s with its hosts in one transaction. A missing brand or
// host is NotFound. The show starts without a stream key.
func (db *DB) CreateShow(ctx context.Context, s *show.Show) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO shows (id, brand_id, title, description, kind, visibility, state,
			                    starts_at, ends_at, time_zone, hold_seconds, created_at, updated_at)
			 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			s.ID, s.BrandID, s.Title, s.Description, string(s.Kind), string(s.Visibility), string(s.State),
			s.StartsAt, s.EndsAt, s.TimeZone, s.HoldSeconds, s.CreatedAt, s.UpdatedAt); err != nil {
			return err
		}
		return writeHosts(ctx, tx, s.ID, s.HostIDs)
	})
	return storeErr("create show", err)
}

// ShowByID returns the show with the given ID.
func (db *DB) ShowByID(ctx context.Context, id uuid.UUID) (*show.Show, error) {
	s, err := scanShow(db.pool.QueryRow(ctx, `SELECT `+showCols+` FROM shows s WHERE s.id = $1`, id))
	if err != nil {
		return nil, notFound("show by id", "show", err)
	}
	return s, nil
}

// ListShows returns the shows f selects, ordered by start time then ID.
// Without IncludeMembers only public shows are listed. A limit of 0 or less
// means 50; no page holds more than 200.
func (db *DB) ListShows(ctx context.Context, f show.Filter) ([]show.Show, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.BrandID != uuid.Nil {
		where = append(where, "s.brand_id = "+arg(f.BrandID))
	}
	if len(f.States) > 0 {
		states := make([]string, len(f.States))
		for i, st := range f.States {
			states[i] = string(st)
		}
		where = append(where, "s.state = ANY("+arg(states)+"::text[])")
	}
	if !f.IncludeMembers {
		where = append(where, "s.visibility = "+arg(string(show.Public)))
	}
	q := `SELECT ` + showCols + ` FROM shows s`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	offset, limit := page(f.Offset, f.Limit)
	q += ` ORDER BY s.starts_at, s.id OFFSET ` + arg(offset) + ` LIMIT ` + arg(limit)

	rows, err := db.pool.Query(ctx, q, args...)
	shows, err := collect(rows, err, scanShow)
	if err != nil {
		return nil, storeErr("list shows", err)
	}
	return shows, nil
}

// UpdateShow writes every field of s but ID, BrandID and CreatedAt (and the
// stream key), and replaces the hosts, in one transaction.
func (db *DB) UpdateShow(ctx context.Context, s *show.Show) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`UPDATE shows SET title = $2, description = $3, kind = $4, visibility = $5, state = $6,
			                  starts_at = $7, ends_at = $8, time_zone = $9, hold_seconds = $10, updated_at = $11
			 WHERE id = $1`,
			s.ID, s.Title, s.Description, string(s.Kind), string(s.Visibility), string(s.State),
			s.StartsAt, s.EndsAt, s.TimeZone, s.HoldSeconds, s.UpdatedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.Errorf(apperr.NotFound, "show not found")
		}
		return writeHosts(ctx, tx, s.ID, s.HostIDs)
	})
	return storeErr("update show", err)
}

// SetStreamKey stores the hash of the show's WHIP key; "" revokes it.
func (db *DB) SetStreamKey(ctx context.Context, showID uuid.UUID, hash string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE shows SET stream_key_hash = $2 WHERE id = $1`, showID, hash)
	if err != nil {
		return storeErr("set stream key", err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.NotFound, "show not found")
	}
	return nil
}

// StreamKeyHash returns the stored hash of the show's WHIP key, "" when it has none.
func (db *DB) StreamKeyHash(ctx context.Context, showID uuid.UUID) (string, error) {
	var hash string
	err := db.pool.QueryRow(ctx, `SELECT stream_key_hash FROM shows WHERE id = $1`, showID).Scan(&hash)
	if err != nil {
		return "", notFound("stream key hash", "show", err)
	}
	return hash, nil
}
