package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/replay"
)

// ReplayStore keeps recordings of shows, their marks and replay settings.
type ReplayStore struct{ *conn }

// AddRecording lists a new recording file.
func (db ReplayStore) AddRecording(ctx context.Context, r *replay.Recording) error {
	_, err := db.exec(ctx, `INSERT INTO recordings (`+sqlstore.RecordingCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.ID, r.ShowID, r.Path, r.MediaType, micros(r.StartedAt), nullMicros(r.EndedAt), r.DurationMS, r.Bytes)
	return storeErr("add recording", refErr(err, "show"))
}

// FinishRecording stores a file's end, duration and size.
func (db ReplayStore) FinishRecording(ctx context.Context, id uuid.UUID, endedAt time.Time, durationMS, bytes int64) error {
	return storeErr("finish recording", db.execOne(ctx, "recording",
		`UPDATE recordings SET ended_at = $1, duration_ms = $2, bytes = $3 WHERE id = $4`, micros(endedAt), durationMS, bytes, id))
}

// Recordings lists the show's recordings, the earliest first.
func (db ReplayStore) Recordings(ctx context.Context, showID uuid.UUID) ([]replay.Recording, error) {
	list, err := queryAll(ctx, db.r, scan.Recording, `SELECT `+sqlstore.RecordingCols+` FROM recordings WHERE show_id = $1 ORDER BY started_at, id`, showID)
	return list, storeErr("recordings", err)
}

// UnfinishedRecordings lists the recordings not finished yet.
func (db ReplayStore) UnfinishedRecordings(ctx context.Context) ([]replay.Recording, error) {
	list, err := queryAll(ctx, db.r, scan.Recording, `SELECT `+sqlstore.RecordingCols+` FROM recordings WHERE ended_at IS NULL ORDER BY started_at, id`)
	return list, storeErr("unfinished recordings", err)
}

// DeleteRecordings forgets the show's recordings and returns them.
func (db ReplayStore) DeleteRecordings(ctx context.Context, showID uuid.UUID) ([]replay.Recording, error) {
	var gone []replay.Recording
	err := db.write(ctx, "delete recordings", func(tx *sql.Tx) error {
		var err error
		gone, err = queryAll(ctx, tx, scan.Recording, `SELECT `+sqlstore.RecordingCols+` FROM recordings WHERE show_id = $1 ORDER BY started_at, id`, showID)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM recordings WHERE show_id = $1`, showID)
		return err
	})
	return gone, storeErr("delete recordings", err)
}

// JoinRecordings lists joined in the place of parts, in one transaction.
func (db ReplayStore) JoinRecordings(ctx context.Context, joined *replay.Recording, parts []uuid.UUID) error {
	err := db.write(ctx, "join recordings", func(tx *sql.Tx) error {
		for _, id := range parts {
			res, err := tx.ExecContext(ctx, `DELETE FROM recordings WHERE id = $1 AND show_id = $2`, id, joined.ShowID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return apperr.Errorf(apperr.NotFound, "recording not found")
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO recordings (`+sqlstore.RecordingCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			joined.ID, joined.ShowID, joined.Path, joined.MediaType, micros(joined.StartedAt), nullMicros(joined.EndedAt), joined.DurationMS, joined.Bytes)
		return refErr(err, "show")
	})
	return storeErr("join recordings", err)
}

// AddMark appends a moment to the show's timeline.
func (db ReplayStore) AddMark(ctx context.Context, m replay.Mark) error {
	offer := uuid.NullUUID{UUID: m.OfferID, Valid: m.OfferID != uuid.Nil}
	_, err := db.exec(ctx, `INSERT INTO replay_marks (show_id, at, type, offer_id) VALUES ($1, $2, $3, $4)`,
		m.ShowID, micros(m.At), m.Type, offer)
	return storeErr("add mark", refErr(err, "show"))
}

// Marks returns the show's timeline in time order.
func (db ReplayStore) Marks(ctx context.Context, showID uuid.UUID) ([]replay.Mark, error) {
	list, err := queryAll(ctx, db.r, func(r row) (*replay.Mark, error) {
		m := replay.Mark{ShowID: showID}
		var offer uuid.NullUUID
		if err := r.Scan(asTime(&m.At), &m.Type, &offer); err != nil {
			return nil, err
		}
		m.OfferID = offer.UUID
		return &m, nil
	}, `SELECT at, type, offer_id FROM replay_marks WHERE show_id = $1 ORDER BY at, seq`, showID)
	return list, storeErr("marks", err)
}

// ReplaySettings returns the show's settings, the defaults when none were set.
func (db ReplayStore) ReplaySettings(ctx context.Context, showID uuid.UUID) (replay.Settings, error) {
	s := replay.Settings{ShowID: showID, Record: true}
	err := db.r.QueryRowContext(ctx, `SELECT record, sales_until FROM replay_settings WHERE show_id = $1`, showID).
		Scan(&s.Record, asNullTime(&s.SalesUntil))
	if err == sql.ErrNoRows {
		err = nil
	}
	return s, storeErr("replay settings", err)
}

// SetReplaySettings stores the show's settings.
func (db ReplayStore) SetReplaySettings(ctx context.Context, s replay.Settings) error {
	_, err := db.exec(ctx, `INSERT INTO replay_settings (show_id, record, sales_until) VALUES ($1, $2, $3)
		ON CONFLICT (show_id) DO UPDATE SET record = excluded.record, sales_until = excluded.sales_until`,
		s.ShowID, s.Record, nullMicros(s.SalesUntil))
	return storeErr("set replay settings", refErr(err, "show"))
}

var _ replay.Store = (*DB)(nil)
