package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// PinStore keeps the product pinned in each show.
type PinStore struct{ *conn }

// SetPinned records the offer the show has pinned (uuid.Nil: none), while
// the show is scheduled or live. The state is read in the write that pins,
// and Transition ends a show in a write of its own, so a pin never
// outlives the show's end.
func (db PinStore) SetPinned(ctx context.Context, showID, offerID uuid.UUID, at time.Time) error {
	return db.write(ctx, "pin", func(tx *sql.Tx) error {
		var state show.State
		if err := tx.QueryRowContext(ctx, `SELECT state FROM shows WHERE id = $1`, showID).Scan(&state); err != nil {
			return noRows(err, "show")
		}
		if offerID == uuid.Nil {
			_, err := tx.ExecContext(ctx, `DELETE FROM show_pins WHERE show_id = $1`, showID)
			return err
		}
		if state != show.Scheduled && state != show.Live {
			return apperr.Errorf(apperr.Conflict, "the show is %s: nothing can be pinned", state)
		}
		res, err := tx.ExecContext(ctx,
			`INSERT INTO show_pins (show_id, offer_id, pinned_at)
			 SELECT show_id, id, $1 FROM offers WHERE id = $2 AND show_id = $3
			 ON CONFLICT (show_id) DO UPDATE SET offer_id = excluded.offer_id, pinned_at = excluded.pinned_at`,
			micros(at), offerID, showID)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", offerID)
		}
		return nil
	})
}

// Pinned returns the show's pinned offer; uuid.Nil when it has none.
func (db PinStore) Pinned(ctx context.Context, showID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := db.r.QueryRowContext(ctx, `SELECT offer_id FROM show_pins WHERE show_id = $1`, showID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return uuid.Nil, nil
	}
	return id, storeErr("pinned offer", err)
}
