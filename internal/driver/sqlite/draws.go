package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// DrawStore keeps draws and giveaways and their entries.
type DrawStore struct{ *conn }

// Draws (checkout.DrawStore). Every write runs on the single writer, so an
// entry and the close's claim are ordered one before the other: the entry
// list a claim reads is final.

// errDrawRunning refuses a second running draw on one offer.
var errDrawRunning = &apperr.Error{Code: apperr.Conflict, Message: "a draw is already running on this offer"}

func (db DrawStore) CreateDraw(ctx context.Context, d *checkout.Draw) error {
	return db.write(ctx, "create draw", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM draws WHERE offer_id = $1 AND state IN ('open', 'closing')`,
			d.OfferID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errDrawRunning
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO draws (id, show_id, offer_id, units, state, seed, commitment, opens_at,
			closes_at, created_by, created_at, giveaway, eligibility, prize_coupon_id) VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			d.ID, d.ShowID, d.OfferID, d.Units, d.Seed, d.Commitment, micros(d.OpensAt), micros(d.ClosesAt), d.CreatedBy,
			micros(now()), d.Giveaway, string(d.Eligibility.OrDefault()), nullID(d.PrizeCouponID))
		if err != nil {
			return refErr(err, "offer")
		}
		d.State = checkout.DrawOpen
		return nil
	})
}

func (db DrawStore) DrawByID(ctx context.Context, id uuid.UUID) (*checkout.Draw, error) {
	d, err := scan.Draw(db.r.QueryRowContext(ctx, `SELECT `+sqlstore.DrawCols+` FROM draws WHERE id = $1`, id))
	return d, storeErr("draw", noRows(err, "draw"))
}

func (db DrawStore) DrawsByShow(ctx context.Context, showID uuid.UUID) ([]checkout.Draw, error) {
	list, err := queryAll(ctx, db.r, scan.Draw, `SELECT `+sqlstore.DrawCols+` FROM draws WHERE show_id = $1
		ORDER BY created_at DESC, id LIMIT 100`, showID)
	return list, storeErr("draws by show", err)
}

func (db DrawStore) ActiveDraw(ctx context.Context, offerID uuid.UUID) (*checkout.Draw, error) {
	d, err := scan.Draw(db.r.QueryRowContext(ctx, `SELECT `+sqlstore.DrawCols+` FROM draws
		WHERE offer_id = $1 AND state IN ('open', 'closing')`, offerID))
	return d, storeErr("active draw", noRows(err, "running draw"))
}

// errEntered rolls back an entry the account had already made.
var errEntered = errors.New("already entered")

func (db DrawStore) Enter(ctx context.Context, e *checkout.DrawEntry, at time.Time) (*checkout.DrawEntry, bool, error) {
	err := db.write(ctx, "enter draw", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM draw_entries WHERE draw_id = $1 AND user_id = $2`,
			e.DrawID, e.UserID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errEntered
		}
		var seq int64
		err := tx.QueryRowContext(ctx, sqlstore.EnterDraw, e.DrawID, micros(at)).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			return closedOrMissing(ctx, tx, e.DrawID)
		}
		if err != nil {
			return err
		}
		e.Seq = seq
		_, err = tx.ExecContext(ctx, `INSERT INTO draw_entries (id, draw_id, user_id, seq, created_at) VALUES ($1, $2, $3, $4, $5)`,
			e.ID, e.DrawID, e.UserID, e.Seq, micros(e.CreatedAt))
		return refErr(err, "user")
	})
	if errors.Is(err, errEntered) {
		stored, err := db.EntryOf(ctx, e.DrawID, e.UserID)
		return stored, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return e, true, nil
}

// closedOrMissing explains why a draw took no entry.
func closedOrMissing(ctx context.Context, tx *sql.Tx, id uuid.UUID) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM draws WHERE id = $1`, id).Scan(&n); err != nil {
		return err
	}
	return sqlstore.DrawClosedOrMissing(n > 0)
}

func (db DrawStore) EntryOf(ctx context.Context, drawID, userID uuid.UUID) (*checkout.DrawEntry, error) {
	e, err := scan.DrawEntry(db.r.QueryRowContext(ctx, `SELECT `+sqlstore.DrawEntryCols+` FROM draw_entries
		WHERE draw_id = $1 AND user_id = $2`, drawID, userID))
	return e, storeErr("draw entry", noRows(err, "draw entry"))
}

func (db DrawStore) DrawEntries(ctx context.Context, drawID uuid.UUID) ([]checkout.DrawEntry, error) {
	list, err := queryAll(ctx, db.r, scan.DrawEntry, `SELECT `+sqlstore.DrawEntryCols+` FROM draw_entries
		WHERE draw_id = $1 ORDER BY seq`, drawID)
	return list, storeErr("draw entries", err)
}

func (db DrawStore) DrawWinners(ctx context.Context, drawID uuid.UUID) ([]checkout.DrawEntry, error) {
	list, err := queryAll(ctx, db.r, scan.DrawEntry, `SELECT `+sqlstore.DrawEntryCols+` FROM draw_entries
		WHERE draw_id = $1 AND rank > 0 ORDER BY rank`, drawID)
	return list, storeErr("draw winners", err)
}

func (db DrawStore) EndDrawWindow(ctx context.Context, id uuid.UUID, at time.Time) (*checkout.Draw, error) {
	var d *checkout.Draw
	err := db.write(ctx, "end draw window", func(tx *sql.Tx) error {
		var err error
		d, err = scan.Draw(tx.QueryRowContext(ctx, `UPDATE draws SET closes_at = max(opens_at, min(closes_at, $1))
			WHERE id = $2 AND state = 'open' RETURNING `+sqlstore.DrawCols, micros(at), id))
		if errors.Is(err, sql.ErrNoRows) {
			return closedOrMissing(ctx, tx, id)
		}
		return err
	})
	return d, err
}

func (db DrawStore) DueDraws(ctx context.Context, at, staleBefore time.Time, limit int) ([]uuid.UUID, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id FROM draws WHERE state <> 'drawn' AND closes_at <= $1
		AND (state = 'open' OR claimed_at <= $2) ORDER BY closes_at LIMIT $3`, micros(at), micros(staleBefore), limit)
	if err != nil {
		return nil, storeErr("due draws", err)
	}
	defer rows.Close()
	ids := []uuid.UUID{}
	for rows.Next() {
		var id uuid.UUID
		if err := rows.Scan(&id); err != nil {
			return nil, storeErr("due draws", err)
		}
		ids = append(ids, id)
	}
	return ids, storeErr("due draws", rows.Err())
}

func (db DrawStore) ClaimDraw(ctx context.Context, id uuid.UUID, at, staleBefore time.Time) (*checkout.Draw, bool, error) {
	var d *checkout.Draw
	err := db.write(ctx, "claim draw", func(tx *sql.Tx) error {
		var err error
		d, err = scan.Draw(tx.QueryRowContext(ctx, `UPDATE draws SET state = 'closing', claimed_at = $1, attempts = attempts + 1
			WHERE id = $2 AND closes_at <= $3 AND (state = 'open' OR (state = 'closing' AND claimed_at <= $4))
			RETURNING `+sqlstore.DrawCols, micros(at), id, micros(at), micros(staleBefore)))
		if errors.Is(err, sql.ErrNoRows) {
			d = nil
			return nil
		}
		return err
	})
	return d, d != nil, err
}

func (db DrawStore) FinishDraw(ctx context.Context, id uuid.UUID, claimedAt time.Time, units int, winners []checkout.DrawWinner, at time.Time) (*checkout.Draw, error) {
	var d *checkout.Draw
	err := db.write(ctx, "finish draw", func(tx *sql.Tx) error {
		var err error
		d, err = scan.Draw(tx.QueryRowContext(ctx, `UPDATE draws SET state = 'drawn', units = $1, drawn_at = $2
			WHERE id = $3 AND state = 'closing' AND claimed_at = $4 RETURNING `+sqlstore.DrawCols, units, micros(at), id, micros(claimedAt)))
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Errorf(apperr.Conflict, "another node has taken over closing this draw")
		}
		if err != nil {
			return err
		}
		for rank, w := range winners {
			var res any
			if w.ReservationID != nil {
				res = *w.ReservationID
			}
			r, err := tx.ExecContext(ctx, `UPDATE draw_entries SET rank = $1, reservation_id = $2 WHERE id = $3 AND draw_id = $4`,
				rank+1, res, w.EntryID, id)
			if err != nil {
				return err
			}
			if n, err := r.RowsAffected(); err != nil {
				return err
			} else if n != 1 {
				return apperr.Errorf(apperr.NotFound, "entry %s is not in this draw", w.EntryID)
			}
		}
		return nil
	})
	return d, err
}

var _ checkout.DrawStore = (*DB)(nil)
