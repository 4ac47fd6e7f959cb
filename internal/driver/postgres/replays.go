package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/replay"
)

// ReplayStore keeps recordings of shows, their marks and replay settings.
type ReplayStore struct{ *conn }

// replayErr is storeErr, with a missing show named (the replay tables'
// constraints are kept here, beside the only statements that break them).
func replayErr(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" {
		return apperr.Wrap(apperr.NotFound, err, "show not found")
	}
	return storeErr(op, err)
}

// AddRecording lists a new recording file.
func (db ReplayStore) AddRecording(ctx context.Context, r *replay.Recording) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO recordings (`+sqlstore.RecordingCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.ID, r.ShowID, r.Path, r.MediaType, r.StartedAt, r.EndedAt, r.DurationMS, r.Bytes)
	return replayErr("add recording", err)
}

// FinishRecording stores a file's end, duration and size.
func (db ReplayStore) FinishRecording(ctx context.Context, id uuid.UUID, endedAt time.Time, durationMS, bytes int64) error {
	tag, err := db.pool.Exec(ctx, `UPDATE recordings SET ended_at = $2, duration_ms = $3, bytes = $4 WHERE id = $1`, id, endedAt, durationMS, bytes)
	if err == nil && tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.NotFound, "recording not found")
	}
	return storeErr("finish recording", err)
}

// Recordings lists the show's recordings, the earliest first.
func (db ReplayStore) Recordings(ctx context.Context, showID uuid.UUID) ([]replay.Recording, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.RecordingCols+` FROM recordings WHERE show_id = $1 ORDER BY started_at, id`, showID)
	list, err := collect(rows, err, scan.Recording)
	return list, storeErr("recordings", err)
}

// UnfinishedRecordings lists the recordings not finished yet.
func (db ReplayStore) UnfinishedRecordings(ctx context.Context) ([]replay.Recording, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.RecordingCols+` FROM recordings WHERE ended_at IS NULL ORDER BY started_at, id`)
	list, err := collect(rows, err, scan.Recording)
	return list, storeErr("unfinished recordings", err)
}

// DeleteRecordings forgets the show's recordings and returns them.
func (db ReplayStore) DeleteRecordings(ctx context.Context, showID uuid.UUID) ([]replay.Recording, error) {
	rows, err := db.pool.Query(ctx, `DELETE FROM recordings WHERE show_id = $1 RETURNING `+sqlstore.RecordingCols, showID)
	list, err := collect(rows, err, scan.Recording)
	return list, storeErr("delete recordings", err)
}

// JoinRecordings lists joined in the place of parts, in one transaction.
func (db ReplayStore) JoinRecordings(ctx context.Context, joined *replay.Recording, parts []uuid.UUID) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, id := range parts {
			tag, err := tx.Exec(ctx, `DELETE FROM recordings WHERE id = $1 AND show_id = $2`, id, joined.ShowID)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return apperr.Errorf(apperr.NotFound, "recording not found")
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO recordings (`+sqlstore.RecordingCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			joined.ID, joined.ShowID, joined.Path, joined.MediaType, joined.StartedAt, joined.EndedAt, joined.DurationMS, joined.Bytes)
		return err
	})
	return replayErr("join recordings", err)
}

// AddMark appends a moment to the show's timeline.
func (db ReplayStore) AddMark(ctx context.Context, m replay.Mark) error {
	offer := uuid.NullUUID{UUID: m.OfferID, Valid: m.OfferID != uuid.Nil}
	_, err := db.pool.Exec(ctx, `INSERT INTO replay_marks (show_id, at, type, offer_id) VALUES ($1, $2, $3, $4)`,
		m.ShowID, m.At, m.Type, offer)
	return replayErr("add mark", err)
}

// Marks returns the show's timeline in time order.
func (db ReplayStore) Marks(ctx context.Context, showID uuid.UUID) ([]replay.Mark, error) {
	rows, err := db.pool.Query(ctx, `SELECT at, type, offer_id FROM replay_marks WHERE show_id = $1 ORDER BY at, seq`, showID)
	list, err := collect(rows, err, func(r sqlstore.Row) (*replay.Mark, error) {
		m := replay.Mark{ShowID: showID}
		var offer uuid.NullUUID
		if err := r.Scan(&m.At, &m.Type, &offer); err != nil {
			return nil, err
		}
		m.At, m.OfferID = m.At.UTC(), offer.UUID
		return &m, nil
	})
	return list, storeErr("marks", err)
}

// ReplaySettings returns the show's settings, the defaults when none were set.
func (db ReplayStore) ReplaySettings(ctx context.Context, showID uuid.UUID) (replay.Settings, error) {
	s := replay.Settings{ShowID: showID, Record: true}
	err := db.pool.QueryRow(ctx, `SELECT record, sales_until FROM replay_settings WHERE show_id = $1`, showID).Scan(&s.Record, &s.SalesUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		err = nil
	}
	if s.SalesUntil != nil {
		t := s.SalesUntil.UTC()
		s.SalesUntil = &t
	}
	return s, storeErr("replay settings", err)
}

// SetReplaySettings stores the show's settings.
func (db ReplayStore) SetReplaySettings(ctx context.Context, s replay.Settings) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO replay_settings (show_id, record, sales_until) VALUES ($1, $2, $3)
		ON CONFLICT (show_id) DO UPDATE SET record = excluded.record, sales_until = excluded.sales_until`,
		s.ShowID, s.Record, s.SalesUntil)
	return replayErr("set replay settings", err)
}

var _ replay.Store = (*DB)(nil)
