package sqlstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/show"
)

// Exec runs one statement in the caller's transaction.
type Exec func(ctx context.Context, query string, args ...any) error

// MoveShow writes show id's move to state to at, in the caller's
// transaction, once show.CheckTransition allowed it: an ended or cancelled
// show features nothing (a room opening later shows no pin), and a
// cancelled one gives its Pavilion Days back. Telling the show's audience
// that it is live is the driver's.
func (d Dialect) MoveShow(ctx context.Context, exec Exec, id uuid.UUID, to show.State, at time.Time) error {
	if err := exec(ctx, `UPDATE shows SET state = $1, updated_at = $2 WHERE id = $3`, string(to), d.Time(at), id); err != nil {
		return err
	}
	if to == show.Ended || to == show.Cancelled {
		if err := exec(ctx, `DELETE FROM show_pins WHERE show_id = $1`, id); err != nil {
			return err
		}
	}
	if to == show.Cancelled {
		return exec(ctx, `DELETE FROM pavilion_days WHERE show_id = $1`, id)
	}
	return nil
}

// Ledger statements both dialects write alike.
const (
	// CustomerUnits sums the units of offer $1 customer $2 holds or bought.
	CustomerUnits = `SELECT coalesce(sum(quantity), 0) FROM reservations
		 WHERE offer_id = $1 AND user_id = $2 AND state IN ` + LiveStates
	// EnterDraw counts one more entry into draw $1 while it is open at $2,
	// returning the entry's number.
	EnterDraw = `UPDATE draws SET entries = entries + 1
			WHERE id = $1 AND state = 'open' AND closes_at > $2 RETURNING entries`
)
