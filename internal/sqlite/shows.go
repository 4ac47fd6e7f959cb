package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// showCols selects a show with its hosts in order; s is shows.
const showCols = `s.id, s.brand_id, s.title, s.description, s.kind, s.visibility, s.state,
	s.starts_at, s.ends_at, s.time_zone, s.hold_seconds, s.created_at, s.updated_at,
	(SELECT json_group_array(h.user_id ORDER BY h.position) FROM show_hosts h WHERE h.show_id = s.id)`

func scanShow(r row) (*show.Show, error) {
	var s show.Show
	err := r.Scan(&s.ID, &s.BrandID, &s.Title, &s.Description, &s.Kind, &s.Visibility, &s.State,
		asTime(&s.StartsAt), asTime(&s.EndsAt), &s.TimeZone, &s.HoldSeconds, asTime(&s.CreatedAt), asTime(&s.UpdatedAt),
		asJSON(&s.HostIDs))
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// writeHosts replaces the hosts of show id inside tx, in the order given. A
// missing host is NotFound.
func writeHosts(ctx context.Context, tx *sql.Tx, id uuid.UUID, hosts []uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM show_hosts WHERE show_id = ?`, id); err != nil {
		return err
	}
	for i, h := range unique(hosts) {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO show_hosts (show_id, user_id, position) VALUES (?, ?, ?)`, id, h, i); err != nil {
			return refErr(err, "host")
		}
	}
	return nil
}

// CreateShow inserts s with its hosts. A missing brand or host is NotFound.
func (db *DB) CreateShow(ctx context.Context, s *show.Show) error {
	return db.write(ctx, "create show", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO shows (id, brand_id, title, description, kind, visibility, state,
				starts_at, ends_at, time_zone, hold_seconds, created_at, updated_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.BrandID, s.Title, s.Description, s.Kind, s.Visibility, s.State,
			micros(s.StartsAt), micros(s.EndsAt), s.TimeZone, s.HoldSeconds, micros(s.CreatedAt), micros(s.UpdatedAt))
		if err != nil {
			return refErr(err, "brand")
		}
		return writeHosts(ctx, tx, s.ID, s.HostIDs)
	})
}

// ShowByID returns the show with the given ID.
func (db *DB) ShowByID(ctx context.Context, id uuid.UUID) (*show.Show, error) {
	s, err := scanShow(db.r.QueryRowContext(ctx, `SELECT `+showCols+` FROM shows s WHERE s.id = ?`, id))
	if err != nil {
		return nil, storeErr("show by id", noRows(err, "show"))
	}
	return s, nil
}

// ListShows returns the shows f selects, ordered by start time, then ID. A
// limit of 0 or less means 50; no page holds more than 200.
func (db *DB) ListShows(ctx context.Context, f show.Filter) ([]show.Show, error) {
	var (
		where []string
		args  []any
	)
	if f.BrandID != uuid.Nil {
		where = append(where, `s.brand_id = ?`)
		args = append(args, f.BrandID)
	}
	if len(f.States) > 0 {
		where = append(where, `s.state IN (?`+strings.Repeat(`, ?`, len(f.States)-1)+`)`)
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if !f.IncludeMembers {
		where = append(where, `s.visibility = ?`)
		args = append(args, show.Public)
	}
	q := `SELECT ` + showCols + ` FROM shows s`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	offset, limit := page(f.Offset, f.Limit)
	q += ` ORDER BY s.starts_at, s.id LIMIT ? OFFSET ?`
	args = append(args, limit, offset)

	shows, err := queryAll(ctx, db.r, scanShow, q, args...)
	return shows, storeErr("list shows", err)
}

// UpdateShow writes every field but ID, BrandID and CreatedAt, and replaces the hosts.
func (db *DB) UpdateShow(ctx context.Context, s *show.Show) error {
	return db.write(ctx, "update show", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE shows SET title = ?, description = ?, kind = ?, visibility = ?, state = ?,
				starts_at = ?, ends_at = ?, time_zone = ?, hold_seconds = ?, updated_at = ?
			 WHERE id = ?`,
			s.Title, s.Description, s.Kind, s.Visibility, s.State,
			micros(s.StartsAt), micros(s.EndsAt), s.TimeZone, s.HoldSeconds, micros(s.UpdatedAt), s.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return apperr.Errorf(apperr.NotFound, "show not found")
		}
		return writeHosts(ctx, tx, s.ID, s.HostIDs)
	})
}

// SetStreamKey stores the hash of the show's WHIP key; "" revokes it.
func (db *DB) SetStreamKey(ctx context.Context, showID uuid.UUID, hash string) error {
	return storeErr("set stream key", db.execOne(ctx, "show",
		`UPDATE shows SET stream_key_hash = ? WHERE id = ?`, hash, showID))
}

// StreamKeyHash returns the stored hash, "" when the show has none.
func (db *DB) StreamKeyHash(ctx context.Context, showID uuid.UUID) (string, error) {
	var hash string
	err := db.r.QueryRowContext(ctx, `SELECT stream_key_hash FROM shows WHERE id = ?`, showID).Scan(&hash)
	if err != nil {
		return "", storeErr("stream key hash", noRows(err, "show"))
	}
	return hash, nil
}
