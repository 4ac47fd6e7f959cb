package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// DrawStore keeps draws and giveaways and their entries (checkout.DrawStore).
// An entry increments the draw's entry count (its seq) in the same
// transaction as its insert, and the close's claim updates the same row:
// PostgreSQL's row lock (SQLite's single writer) orders every entry before
// or after the claim, and an entry that waited re-reads the row and finds
// it closing. So the list a claim reads is final, on any number of nodes.
type DrawStore struct{ db *Conn }

var _ checkout.DrawStore = DrawStore{}

// errDrawRunning refuses a second running draw on one offer.
var errDrawRunning = &apperr.Error{Code: apperr.Conflict, Message: "a draw is already running on this offer"}

// CreateDraw opens d. A draw already running on the offer is a Conflict:
// looked for first, and backed by a unique index should two nodes create
// one at once.
func (s DrawStore) CreateDraw(ctx context.Context, d *checkout.Draw) error {
	dl := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		if running, err := exists(ctx, tx, `SELECT count(*) FROM draws WHERE offer_id = $1 AND state IN ('open', 'closing')`,
			d.OfferID); err != nil {
			return err
		} else if running {
			return errDrawRunning
		}
		_, err := tx.Exec(ctx, `INSERT INTO draws (id, show_id, offer_id, units, state, seed, commitment, opens_at,
			closes_at, created_by, created_at, giveaway, eligibility, prize_coupon_id) VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			d.ID, d.ShowID, d.OfferID, d.Units, d.Seed, d.Commitment, dl.Time(d.OpensAt), dl.Time(d.ClosesAt), d.CreatedBy,
			dl.Time(time.Now()), d.Giveaway, string(d.Eligibility.OrDefault()), NullRef(d.PrizeCouponID))
		if _, kind, ok := s.db.Errs.Broken(err); ok && kind == Unique {
			return errDrawRunning
		}
		return s.db.Errs.Ref(err, "offer")
	})
	if err != nil {
		return s.db.Errs.Wrap("create draw", err)
	}
	d.State = checkout.DrawOpen
	return nil
}

// DrawByID returns the draw.
func (s DrawStore) DrawByID(ctx context.Context, id uuid.UUID) (*checkout.Draw, error) {
	return readOne(ctx, s.db, "draw", "draw", s.db.Scan.Draw,
		`SELECT `+DrawCols+` FROM draws WHERE id = $1`, id)
}

// DrawsByShow lists the show's draws, newest first.
func (s DrawStore) DrawsByShow(ctx context.Context, showID uuid.UUID) ([]checkout.Draw, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.Draw, `SELECT `+DrawCols+` FROM draws WHERE show_id = $1
		ORDER BY created_at DESC, id LIMIT 100`, showID)
	return list, s.db.Errs.Wrap("draws by show", err)
}

// ActiveDraw returns the draw running on the offer.
func (s DrawStore) ActiveDraw(ctx context.Context, offerID uuid.UUID) (*checkout.Draw, error) {
	return readOne(ctx, s.db, "active draw", "running draw", s.db.Scan.Draw,
		`SELECT `+DrawCols+` FROM draws
		WHERE offer_id = $1 AND state IN ('open', 'closing')`, offerID)
}

// errEntered rolls back an entry the account had already made.
var errEntered = errors.New("already entered")

// Enter enters e into its draw while it is open at at; an account that
// entered already gets its entry back, not a second one.
func (s DrawStore) Enter(ctx context.Context, e *checkout.DrawEntry, at time.Time) (*checkout.DrawEntry, bool, error) {
	d := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		var seq int64
		err := tx.QueryRow(ctx, EnterDraw, e.DrawID, d.Time(at)).Scan(&seq)
		if errors.Is(err, ErrNoRows) {
			return closedOrMissing(ctx, tx, e.DrawID)
		}
		if err != nil {
			return err
		}
		e.Seq = seq
		n, err := tx.Exec(ctx, `INSERT INTO draw_entries (id, draw_id, user_id, seq, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (draw_id, user_id) DO NOTHING`, e.ID, e.DrawID, e.UserID, e.Seq, d.Time(e.CreatedAt))
		if err != nil {
			return s.db.Errs.Ref(err, "user")
		}
		if n == 0 {
			return errEntered // and the count goes back with the rollback
		}
		return nil
	})
	if errors.Is(err, errEntered) {
		stored, err := s.EntryOf(ctx, e.DrawID, e.UserID)
		return stored, false, err
	}
	if err != nil {
		return nil, false, s.db.Errs.Wrap("enter draw", err)
	}
	return e, true, nil
}

// closedOrMissing explains why a draw took no entry.
func closedOrMissing(ctx context.Context, tx Querier, id uuid.UUID) error {
	found, err := exists(ctx, tx, `SELECT count(*) FROM draws WHERE id = $1`, id)
	if err != nil {
		return err
	}
	return DrawClosedOrMissing(found)
}

// EntryOf returns the account's entry into the draw.
func (s DrawStore) EntryOf(ctx context.Context, drawID, userID uuid.UUID) (*checkout.DrawEntry, error) {
	return readOne(ctx, s.db, "draw entry", "draw entry", s.db.Scan.DrawEntry,
		`SELECT `+DrawEntryCols+` FROM draw_entries
		WHERE draw_id = $1 AND user_id = $2`, drawID, userID)
}

// DrawEntries lists the draw's entries in the order they came.
func (s DrawStore) DrawEntries(ctx context.Context, drawID uuid.UUID) ([]checkout.DrawEntry, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.DrawEntry, `SELECT `+DrawEntryCols+` FROM draw_entries
		WHERE draw_id = $1 ORDER BY seq`, drawID)
	return list, s.db.Errs.Wrap("draw entries", err)
}

// DrawWinners lists the draw's winners by rank.
func (s DrawStore) DrawWinners(ctx context.Context, drawID uuid.UUID) ([]checkout.DrawEntry, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.DrawEntry, `SELECT `+DrawEntryCols+` FROM draw_entries
		WHERE draw_id = $1 AND rank > 0 ORDER BY rank`, drawID)
	return list, s.db.Errs.Wrap("draw winners", err)
}

// EndDrawWindow closes an open draw's window at at (never before it opens
// nor after it would have closed).
func (s DrawStore) EndDrawWindow(ctx context.Context, id uuid.UUID, at time.Time) (*checkout.Draw, error) {
	var d *checkout.Draw
	// greatest(opens_at, least(closes_at, $1)), spelled in both dialects.
	const earlier = `(CASE WHEN closes_at < $1 THEN closes_at ELSE $1 END)`
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		d, err = s.db.Scan.Draw(tx.QueryRow(ctx, `UPDATE draws SET closes_at = CASE WHEN opens_at > `+earlier+` THEN opens_at ELSE `+earlier+` END
			WHERE id = $2 AND state = 'open' RETURNING `+DrawCols, s.db.Dialect.Time(at), id))
		if errors.Is(err, ErrNoRows) {
			return closedOrMissing(ctx, tx, id)
		}
		return err
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("end draw window", err)
	}
	return d, nil
}

// DueDraws lists up to limit draws to close at at: open ones whose window
// has ended, and closing ones whose claim is older than staleBefore.
func (s DrawStore) DueDraws(ctx context.Context, at, staleBefore time.Time, limit int) ([]uuid.UUID, error) {
	d := s.db.Dialect
	ids, err := QueryAll(ctx, s.db.Read, func(r Row) (*uuid.UUID, error) {
		var id uuid.UUID
		return &id, r.Scan(&id)
	}, `SELECT id FROM draws WHERE state <> 'drawn' AND closes_at <= $1
		AND (state = 'open' OR claimed_at <= $2) ORDER BY closes_at LIMIT $3`, d.Time(at), d.Time(staleBefore), limit)
	return ids, s.db.Errs.Wrap("due draws", err)
}

// ClaimDraw takes the closing of a due draw; false when another node has
// it, or it is not due.
func (s DrawStore) ClaimDraw(ctx context.Context, id uuid.UUID, at, staleBefore time.Time) (*checkout.Draw, bool, error) {
	var d *checkout.Draw
	dl := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		d, err = s.db.Scan.Draw(tx.QueryRow(ctx, `UPDATE draws SET state = 'closing', claimed_at = $1, attempts = attempts + 1
			WHERE id = $2 AND closes_at <= $1 AND (state = 'open' OR (state = 'closing' AND claimed_at <= $3))
			RETURNING `+DrawCols, dl.Time(at), id, dl.Time(staleBefore)))
		if errors.Is(err, ErrNoRows) {
			d = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, false, s.db.Errs.Wrap("claim draw", err)
	}
	return d, d != nil, nil
}

// FinishDraw records the draw's winners, by rank, if the claim made at
// claimedAt still holds it.
func (s DrawStore) FinishDraw(ctx context.Context, id uuid.UUID, claimedAt time.Time, units int, winners []checkout.DrawWinner, at time.Time) (*checkout.Draw, error) {
	var d *checkout.Draw
	dl := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		d, err = s.db.Scan.Draw(tx.QueryRow(ctx, `UPDATE draws SET state = 'drawn', units = $1, drawn_at = $2
			WHERE id = $3 AND state = 'closing' AND claimed_at = $4 RETURNING `+DrawCols, units, dl.Time(at), id, dl.Time(claimedAt)))
		if errors.Is(err, ErrNoRows) {
			return apperr.Errorf(apperr.Conflict, "another node has taken over closing this draw")
		}
		if err != nil {
			return err
		}
		for rank, w := range winners {
			n, err := tx.Exec(ctx, `UPDATE draw_entries SET rank = $1, reservation_id = $2 WHERE id = $3 AND draw_id = $4`,
				rank+1, NullRef(w.ReservationID), w.EntryID, id)
			if err != nil {
				return err
			}
			if n != 1 {
				return apperr.Errorf(apperr.NotFound, "entry %s is not in this draw", w.EntryID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("finish draw", err)
	}
	return d, nil
}
