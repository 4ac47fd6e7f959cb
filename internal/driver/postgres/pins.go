package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// PinStore keeps the product pinned in each show.
type PinStore struct{ *conn }

// SetPinned records the offer the show has pinned (uuid.Nil: none), while
// the show is scheduled or live. It holds the show's row as Transition
// does, so a pin never outlives the show's end.
func (db PinStore) SetPinned(ctx context.Context, showID, offerID uuid.UUID, at time.Time) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var state string
		if err := tx.QueryRow(ctx, `SELECT state FROM shows WHERE id = $1 FOR UPDATE`, showID).Scan(&state); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return apperr.Errorf(apperr.NotFound, "show not found")
			}
			return err
		}
		if offerID == uuid.Nil {
			_, err := tx.Exec(ctx, `DELETE FROM show_pins WHERE show_id = $1`, showID)
			return err
		}
		if st := show.State(state); st != show.Scheduled && st != show.Live {
			return apperr.Errorf(apperr.Conflict, "the show is %s: nothing can be pinned", st)
		}
		tag, err := tx.Exec(ctx,
			`INSERT INTO show_pins (show_id, offer_id, pinned_at)
			 SELECT show_id, id, $3 FROM offers WHERE id = $2 AND show_id = $1
			 ON CONFLICT (show_id) DO UPDATE SET offer_id = excluded.offer_id, pinned_at = excluded.pinned_at`,
			showID, offerID, at)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", offerID)
		}
		return nil
	})
	return storeErr("pin", err)
}

// Pinned returns the show's pinned offer; uuid.Nil when it has none.
func (db PinStore) Pinned(ctx context.Context, showID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := db.pool.QueryRow(ctx, `SELECT offer_id FROM show_pins WHERE show_id = $1`, showID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return uuid.Nil, nil
	}
	return id, storeErr("pinned offer", err)
}
