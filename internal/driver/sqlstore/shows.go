package sqlstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/show"
)

// MoveShow writes show id's move to state to at, in the caller's
// transaction, once show.CheckTransition allowed it, as show.Show.Move
// changes it: the first move to live stamps went_live_at (coalesce: a show
// never goes live twice, and if it did its first time would stay), the move
// to ended stamps ended_at. An ended or cancelled show features nothing (a
// room opening later shows no pin), and a cancelled one gives its Pavilion
// Days back. Telling the show's audience that it is live is Transition's.
func (d Dialect) moveShow(ctx context.Context, tx Querier, id uuid.UUID, to show.State, at time.Time) error {
	exec := func(ctx context.Context, query string, args ...any) error {
		_, err := tx.Exec(ctx, query, args...)
		return err
	}
	set := `state = $1, updated_at = $2`
	switch to {
	case show.Live:
		set += `, went_live_at = coalesce(went_live_at, $2)`
	case show.Ended:
		set += `, ended_at = $2`
	}
	if err := exec(ctx, `UPDATE shows SET `+set+` WHERE id = $3`, string(to), d.Time(at), id); err != nil {
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

// ShowStore reads shows and keeps their stream keys; ShowWriter creates,
// edits and moves them.
type ShowStore struct{ db *Conn }

// ShowByID returns the show with the given ID.
func (s ShowStore) ShowByID(ctx context.Context, id uuid.UUID) (*show.Show, error) {
	return readOne(ctx, s.db, "show by id", "show", s.db.Scan.Show,
		`SELECT `+s.db.Dialect.ShowCols+` FROM shows s WHERE s.id = $1`, id)
}

// ListShows returns the shows f selects, ordered by start time then ID.
// Without IncludeMembers only public shows are listed. A limit of 0 or less
// means 50; no page holds more than 200.
func (s ShowStore) ListShows(ctx context.Context, f show.Filter) ([]show.Show, error) {
	q, args := s.db.Dialect.ListShows(s.db.Dialect.ShowCols, f)
	shows, err := QueryAll(ctx, s.db.Read, s.db.Scan.Show, q, args...)
	if err != nil {
		return nil, s.db.Errs.Wrap("list shows", err)
	}
	return shows, nil
}

// SetStreamKey stores the hash of the show's WHIP key; "" revokes it.
func (s ShowStore) SetStreamKey(ctx context.Context, showID uuid.UUID, hash string) error {
	return s.db.Errs.Wrap("set stream key", s.db.ExecOne(ctx, "show",
		`UPDATE shows SET stream_key_hash = $1 WHERE id = $2`, hash, showID))
}

// StreamKeyHash returns the stored hash of the show's WHIP key, "" when it has none.
func (s ShowStore) StreamKeyHash(ctx context.Context, showID uuid.UUID) (string, error) {
	var hash string
	err := s.db.Read.QueryRow(ctx, `SELECT stream_key_hash FROM shows WHERE id = $1`, showID).Scan(&hash)
	if err != nil {
		return "", s.db.Errs.Wrap("stream key hash", NotFound(err, "show"))
	}
	return hash, nil
}
