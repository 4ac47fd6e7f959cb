package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// DrawStore keeps draws and giveaways and their entries.
type DrawStore struct{ *conn }

// Draws (checkout.DrawStore). An entry increments the draw's entry count
// (its seq) in the same transaction as its insert, and the close's claim
// updates the same row: the row lock orders every entry before or after the
// claim, and an entry that waited re-reads the row and finds it closing. So
// the list a claim reads is final, on any number of nodes.

func (db DrawStore) CreateDraw(ctx context.Context, d *checkout.Draw) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO draws (id, show_id, offer_id, units, state, seed, commitment, opens_at,
		closes_at, created_by, created_at, giveaway, eligibility, prize_coupon_id) VALUES ($1, $2, $3, $4, 'open', $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		d.ID, d.ShowID, d.OfferID, d.Units, d.Seed, d.Commitment, pgTime(d.OpensAt), pgTime(d.ClosesAt), d.CreatedBy,
		pgTime(time.Now()), d.Giveaway, string(d.Eligibility.OrDefault()), d.PrizeCouponID)
	if err != nil {
		if apperr.CodeOf(storeErr("create draw", err)) == apperr.Conflict {
			return apperr.Wrap(apperr.Conflict, err, "a draw is already running on this offer")
		}
		return storeErr("create draw", err)
	}
	d.State = checkout.DrawOpen
	return nil
}

func (db DrawStore) DrawByID(ctx context.Context, id uuid.UUID) (*checkout.Draw, error) {
	d, err := scan.Draw(db.pool.QueryRow(ctx, `SELECT `+sqlstore.DrawCols+` FROM draws WHERE id = $1`, id))
	if err != nil {
		return nil, notFound("draw", "draw", err)
	}
	return d, nil
}

func (db DrawStore) DrawsByShow(ctx context.Context, showID uuid.UUID) ([]checkout.Draw, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.DrawCols+` FROM draws WHERE show_id = $1
		ORDER BY created_at DESC, id LIMIT 100`, showID)
	list, err := collect(rows, err, scan.Draw)
	return list, storeErr("draws by show", err)
}

func (db DrawStore) ActiveDraw(ctx context.Context, offerID uuid.UUID) (*checkout.Draw, error) {
	d, err := scan.Draw(db.pool.QueryRow(ctx, `SELECT `+sqlstore.DrawCols+` FROM draws
		WHERE offer_id = $1 AND state IN ('open', 'closing')`, offerID))
	if err != nil {
		return nil, notFound("active draw", "running draw", err)
	}
	return d, nil
}

// errEntered rolls back an entry the account had already made.
var errEntered = errors.New("already entered")

func (db DrawStore) Enter(ctx context.Context, e *checkout.DrawEntry, at time.Time) (*checkout.DrawEntry, bool, error) {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var seq int64
		err := tx.QueryRow(ctx, sqlstore.EnterDraw, e.DrawID, pgTime(at)).Scan(&seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return closedOrMissing(ctx, tx, e.DrawID)
		}
		if err != nil {
			return err
		}
		e.Seq = seq
		tag, err := tx.Exec(ctx, `INSERT INTO draw_entries (id, draw_id, user_id, seq, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (draw_id, user_id) DO NOTHING`, e.ID, e.DrawID, e.UserID, e.Seq, pgTime(e.CreatedAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errEntered // and the count goes back with the rollback
		}
		return nil
	})
	if errors.Is(err, errEntered) {
		stored, err := db.EntryOf(ctx, e.DrawID, e.UserID)
		return stored, false, err
	}
	if err != nil {
		return nil, false, storeErr("enter draw", err)
	}
	return e, true, nil
}

// closedOrMissing explains why a draw took no entry.
func closedOrMissing(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM draws WHERE id = $1`, id).Scan(&n); err != nil {
		return err
	}
	return sqlstore.DrawClosedOrMissing(n > 0)
}

func (db DrawStore) EntryOf(ctx context.Context, drawID, userID uuid.UUID) (*checkout.DrawEntry, error) {
	e, err := scan.DrawEntry(db.pool.QueryRow(ctx, `SELECT `+sqlstore.DrawEntryCols+` FROM draw_entries
		WHERE draw_id = $1 AND user_id = $2`, drawID, userID))
	if err != nil {
		return nil, notFound("draw entry", "draw entry", err)
	}
	return e, nil
}

func (db DrawStore) DrawEntries(ctx context.Context, drawID uuid.UUID) ([]checkout.DrawEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.DrawEntryCols+` FROM draw_entries WHERE draw_id = $1 ORDER BY seq`, drawID)
	list, err := collect(rows, err, scan.DrawEntry)
	return list, storeErr("draw entries", err)
}

func (db DrawStore) DrawWinners(ctx context.Context, drawID uuid.UUID) ([]checkout.DrawEntry, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.DrawEntryCols+` FROM draw_entries
		WHERE draw_id = $1 AND rank > 0 ORDER BY rank`, drawID)
	list, err := collect(rows, err, scan.DrawEntry)
	return list, storeErr("draw winners", err)
}

func (db DrawStore) EndDrawWindow(ctx context.Context, id uuid.UUID, at time.Time) (*checkout.Draw, error) {
	var d *checkout.Draw
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		d, err = scan.Draw(tx.QueryRow(ctx, `UPDATE draws SET closes_at = greatest(opens_at, least(closes_at, $1))
			WHERE id = $2 AND state = 'open' RETURNING `+sqlstore.DrawCols, pgTime(at), id))
		if errors.Is(err, pgx.ErrNoRows) {
			return closedOrMissing(ctx, tx, id)
		}
		return err
	})
	return d, storeErr("end draw window", err)
}

func (db DrawStore) DueDraws(ctx context.Context, at, staleBefore time.Time, limit int) ([]uuid.UUID, error) {
	rows, err := db.pool.Query(ctx, `SELECT id FROM draws WHERE state <> 'drawn' AND closes_at <= $1
		AND (state = 'open' OR claimed_at <= $2) ORDER BY closes_at LIMIT $3`, pgTime(at), pgTime(staleBefore), limit)
	if err != nil {
		return nil, storeErr("due draws", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if ids == nil {
		ids = []uuid.UUID{}
	}
	return ids, storeErr("due draws", err)
}

func (db DrawStore) ClaimDraw(ctx context.Context, id uuid.UUID, at, staleBefore time.Time) (*checkout.Draw, bool, error) {
	d, err := scan.Draw(db.pool.QueryRow(ctx, `UPDATE draws SET state = 'closing', claimed_at = $1, attempts = attempts + 1
		WHERE id = $2 AND closes_at <= $1 AND (state = 'open' OR (state = 'closing' AND claimed_at <= $3))
		RETURNING `+sqlstore.DrawCols, pgTime(at), id, pgTime(staleBefore)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("claim draw", err)
	}
	return d, true, nil
}

func (db DrawStore) FinishDraw(ctx context.Context, id uuid.UUID, claimedAt time.Time, units int, winners []checkout.DrawWinner, at time.Time) (*checkout.Draw, error) {
	var d *checkout.Draw
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var err error
		d, err = scan.Draw(tx.QueryRow(ctx, `UPDATE draws SET state = 'drawn', units = $1, drawn_at = $2
			WHERE id = $3 AND state = 'closing' AND claimed_at = $4 RETURNING `+sqlstore.DrawCols, units, pgTime(at), id, pgTime(claimedAt)))
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Errorf(apperr.Conflict, "another node has taken over closing this draw")
		}
		if err != nil {
			return err
		}
		for rank, w := range winners {
			tag, err := tx.Exec(ctx, `UPDATE draw_entries SET rank = $1, reservation_id = $2 WHERE id = $3 AND draw_id = $4`,
				rank+1, w.ReservationID, w.EntryID, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return apperr.Errorf(apperr.NotFound, "entry %s is not in this draw", w.EntryID)
			}
		}
		return nil
	})
	return d, storeErr("finish draw", err)
}

var _ checkout.DrawStore = (*DB)(nil)
