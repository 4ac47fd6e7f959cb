package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/replay"
)

// ReplayStore keeps recordings of shows, their marks and replay settings
// (replay.Store), alike on both drivers.
type ReplayStore struct{ db *Conn }

// AddRecording lists a new recording file.
func (s ReplayStore) AddRecording(ctx context.Context, r *replay.Recording) error {
	d := s.db.Dialect
	_, err := s.db.Exec(ctx, `INSERT INTO recordings (`+RecordingCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.ID, r.ShowID, r.Path, r.MediaType, d.Time(r.StartedAt), d.NullTime(r.EndedAt), r.DurationMS, r.Bytes, roleOf(r))
	return s.db.Errs.Wrap("add recording", s.db.Errs.Ref(err, "show"))
}

// roleOf is the recording's role as stored: "" is the host's.
func roleOf(r *replay.Recording) string {
	if r.Role == "" {
		return replay.RoleHost
	}
	return r.Role
}

// FinishRecording stores a file's end, duration and size.
func (s ReplayStore) FinishRecording(ctx context.Context, id uuid.UUID, endedAt time.Time, durationMS, bytes int64) error {
	return s.db.Errs.Wrap("finish recording", s.db.ExecOne(ctx, "recording",
		`UPDATE recordings SET ended_at = $1, duration_ms = $2, bytes = $3 WHERE id = $4`,
		s.db.Dialect.Time(endedAt), durationMS, bytes, id))
}

// Recordings lists the show's recordings, the earliest first.
func (s ReplayStore) Recordings(ctx context.Context, showID uuid.UUID) ([]replay.Recording, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.Recording,
		`SELECT `+RecordingCols+` FROM recordings WHERE show_id = $1 ORDER BY started_at, id`, showID)
	return list, s.db.Errs.Wrap("recordings", err)
}

// UnfinishedRecordings lists the recordings not finished yet.
func (s ReplayStore) UnfinishedRecordings(ctx context.Context) ([]replay.Recording, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.Recording,
		`SELECT `+RecordingCols+` FROM recordings WHERE ended_at IS NULL ORDER BY started_at, id`)
	return list, s.db.Errs.Wrap("unfinished recordings", err)
}

// DeleteRecordings forgets the show's recordings and returns them, the
// earliest first. RETURNING hands back exactly the rows deleted, which a
// read before the delete would not under PostgreSQL's read committed.
func (s ReplayStore) DeleteRecordings(ctx context.Context, showID uuid.UUID) ([]replay.Recording, error) {
	var gone []replay.Recording
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		gone, err = QueryAll(ctx, tx, s.db.Scan.Recording, `DELETE FROM recordings WHERE show_id = $1 RETURNING `+RecordingCols, showID)
		return err
	})
	slices.SortFunc(gone, func(a, b replay.Recording) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID.String(), b.ID.String()))
	})
	return gone, s.db.Errs.Wrap("delete recordings", err)
}

// JoinRecordings lists joined in the place of parts, in one transaction.
func (s ReplayStore) JoinRecordings(ctx context.Context, joined *replay.Recording, parts []uuid.UUID) error {
	d := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		for _, id := range parts {
			n, err := tx.Exec(ctx, `DELETE FROM recordings WHERE id = $1 AND show_id = $2`, id, joined.ShowID)
			if err != nil {
				return err
			}
			if n == 0 {
				return apperr.Errorf(apperr.NotFound, "recording not found")
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO recordings (`+RecordingCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			joined.ID, joined.ShowID, joined.Path, joined.MediaType, d.Time(joined.StartedAt), d.NullTime(joined.EndedAt),
			joined.DurationMS, joined.Bytes, roleOf(joined))
		return s.db.Errs.Ref(err, "show")
	})
	return s.db.Errs.Wrap("join recordings", err)
}

// UnjoinedShows lists the shows whose recordings of one role and media
// type are two or more, all finished.
func (s ReplayStore) UnjoinedShows(ctx context.Context) ([]uuid.UUID, error) {
	list, err := QueryAll(ctx, s.db.Read, func(r Row) (*uuid.UUID, error) {
		var id uuid.UUID
		return &id, r.Scan(&id)
	}, `SELECT DISTINCT f.show_id FROM recordings f
		WHERE f.ended_at IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM recordings u WHERE u.show_id = f.show_id AND u.role = f.role AND u.ended_at IS NULL)
		GROUP BY f.show_id, f.role, f.media_type HAVING count(*) >= 2
		ORDER BY f.show_id`)
	return list, s.db.Errs.Wrap("unjoined shows", err)
}

// AddMark appends a moment to the show's timeline.
func (s ReplayStore) AddMark(ctx context.Context, m replay.Mark) error {
	offer := uuid.NullUUID{UUID: m.OfferID, Valid: m.OfferID != uuid.Nil}
	layout := sql.NullString{String: m.Layout, Valid: m.Layout != ""}
	_, err := s.db.Exec(ctx, `INSERT INTO replay_marks (show_id, at, type, offer_id, layout) VALUES ($1, $2, $3, $4, $5)`,
		m.ShowID, s.db.Dialect.Time(m.At), m.Type, offer, layout)
	return s.db.Errs.Wrap("add mark", s.db.Errs.Ref(err, "show"))
}

// Marks returns the show's timeline in time order.
func (s ReplayStore) Marks(ctx context.Context, showID uuid.UUID) ([]replay.Mark, error) {
	list, err := QueryAll(ctx, s.db.Read, func(r Row) (*replay.Mark, error) {
		m := replay.Mark{ShowID: showID}
		var offer uuid.NullUUID
		var layout sql.NullString
		if err := r.Scan(s.db.Scan.Time(&m.At), &m.Type, &offer, &layout); err != nil {
			return nil, err
		}
		m.OfferID, m.Layout = offer.UUID, layout.String
		return &m, nil
	}, `SELECT at, type, offer_id, layout FROM replay_marks WHERE show_id = $1 ORDER BY at, seq`, showID)
	return list, s.db.Errs.Wrap("marks", err)
}

// ReplaySettings returns the show's settings, the defaults when none were set.
func (s ReplayStore) ReplaySettings(ctx context.Context, showID uuid.UUID) (replay.Settings, error) {
	set := replay.Settings{ShowID: showID, Record: true}
	err := s.db.Read.QueryRow(ctx, `SELECT record, sales_until FROM replay_settings WHERE show_id = $1`, showID).
		Scan(&set.Record, s.db.Scan.NullTime(&set.SalesUntil))
	if errors.Is(err, ErrNoRows) {
		err = nil
	}
	return set, s.db.Errs.Wrap("replay settings", err)
}

// SetReplaySettings stores the show's settings.
func (s ReplayStore) SetReplaySettings(ctx context.Context, set replay.Settings) error {
	_, err := s.db.Exec(ctx, `INSERT INTO replay_settings (show_id, record, sales_until) VALUES ($1, $2, $3)
		ON CONFLICT (show_id) DO UPDATE SET record = excluded.record, sales_until = excluded.sales_until`,
		set.ShowID, set.Record, s.db.Dialect.NullTime(set.SalesUntil))
	return s.db.Errs.Wrap("set replay settings", s.db.Errs.Ref(err, "show"))
}

var _ replay.Store = ReplayStore{}
