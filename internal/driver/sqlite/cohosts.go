package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// CohostStore keeps shows' guests and stages (cohost.Store).
type CohostStore struct{ *conn }

var _ cohost.Store = CohostStore{}

// Cohosts is the co-host store over this database. (A method rather than an
// embedded store: its methods' names would clash with others'.)
func (db *DB) Cohosts() cohost.Store { return CohostStore{db.conn} }

// AddGuest stores a new invitation; Conflict while the show has a guest
// not removed. The one writer makes the check and the insert one step.
func (db CohostStore) AddGuest(ctx context.Context, g *cohost.Guest) error {
	return db.write(ctx, "add guest", func(tx *sql.Tx) error {
		var id string
		err := tx.QueryRowContext(ctx, sqlstore.ActiveGuest, g.ShowID).Scan(&id)
		if err == nil {
			return sqlstore.OneGuestAtATime()
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var key any
		if g.KeyHash != "" {
			key = g.KeyHash
		}
		_, err = tx.ExecContext(ctx, sqlstore.AddGuest, g.ID, g.ShowID, g.Name, g.InvitedBy, micros(g.CreatedAt), micros(g.ExpiresAt),
			nullMicros(g.RedeemedAt), nullMicros(g.RemovedAt), g.InviteHash, key)
		return refErr(err, "show")
	})
}

// Guests lists the show's guests, the newest first.
func (db CohostStore) Guests(ctx context.Context, showID uuid.UUID) ([]cohost.Guest, error) {
	list, err := queryAll(ctx, db.r, scan.Guest, sqlstore.GuestsOfShow, showID)
	return list, storeErr("guests", err)
}

// GuestByID returns a guest.
func (db CohostStore) GuestByID(ctx context.Context, id uuid.UUID) (*cohost.Guest, error) {
	g, err := scan.Guest(db.r.QueryRowContext(ctx, sqlstore.GuestByID, id))
	return g, storeErr("guest", noRows(err, "guest"))
}

// GuestByKey returns the guest whose key hashes to keyHash.
func (db CohostStore) GuestByKey(ctx context.Context, keyHash string) (*cohost.Guest, error) {
	g, err := scan.Guest(db.r.QueryRowContext(ctx, sqlstore.GuestByKey, keyHash))
	return g, storeErr("guest by key", noRows(err, "guest"))
}

// RedeemInvite binds keyHash to the show's live invite, once.
func (db CohostStore) RedeemInvite(ctx context.Context, showID uuid.UUID, inviteHash, keyHash string, at time.Time) (*cohost.Guest, error) {
	var g *cohost.Guest
	err := db.write(ctx, "redeem invite", func(tx *sql.Tx) error {
		var err error
		g, err = scan.Guest(tx.QueryRowContext(ctx, sqlstore.RedeemInvite, keyHash, micros(at), showID, inviteHash))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		was, err := scan.Guest(tx.QueryRowContext(ctx, sqlstore.InviteOf, showID, inviteHash))
		if errors.Is(err, sql.ErrNoRows) {
			was, err = nil, nil
		}
		if err != nil {
			return err
		}
		return sqlstore.RedeemRefused(was)
	})
	return g, storeErr("redeem invite", err)
}

// RemoveGuest marks the guest removed.
func (db CohostStore) RemoveGuest(ctx context.Context, id uuid.UUID, at time.Time) (*cohost.Guest, error) {
	var g *cohost.Guest
	err := db.write(ctx, "remove guest", func(tx *sql.Tx) error {
		var err error
		g, err = scan.Guest(tx.QueryRowContext(ctx, sqlstore.RemoveGuest, id, micros(at)))
		return noRows(err, "guest")
	})
	return g, storeErr("remove guest", err)
}

// Stage returns the show's stage.
func (db CohostStore) Stage(ctx context.Context, showID uuid.UUID) (cohost.Stage, error) {
	return db.stage(ctx, db.r, showID)
}

type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (db CohostStore) stage(ctx context.Context, q rowQuerier, showID uuid.UUID) (cohost.Stage, error) {
	st, err := scan.Stage(q.QueryRowContext(ctx, sqlstore.StageOf, showID))
	if errors.Is(err, sql.ErrNoRows) {
		return sqlstore.NoStage(showID), nil
	}
	if err != nil {
		return cohost.Stage{}, storeErr("stage", err)
	}
	return *st, nil
}

// SetLayout stores the show's layout.
func (db CohostStore) SetLayout(ctx context.Context, showID uuid.UUID, layout string, at time.Time) (cohost.Stage, error) {
	return db.changeStage(ctx, "set layout", showID, sqlstore.SetLayout, showID, layout, micros(at))
}

// PutOnStage makes the guest the one on air.
func (db CohostStore) PutOnStage(ctx context.Context, showID, guestID uuid.UUID, at time.Time) (cohost.Stage, error) {
	return db.changeStage(ctx, "put on stage", showID, sqlstore.PutOnStage, showID, guestID, micros(at))
}

// changeStage runs one upsert of the show's stage and reads it back, in one transaction.
func (db CohostStore) changeStage(ctx context.Context, op string, showID uuid.UUID, query string, args ...any) (cohost.Stage, error) {
	var st cohost.Stage
	err := db.write(ctx, op, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return refErr(err, "show")
		}
		var err error
		st, err = db.stage(ctx, tx, showID)
		return err
	})
	return st, storeErr(op, err)
}

// TakeOffStage takes the guest off air if it is the one on it.
func (db CohostStore) TakeOffStage(ctx context.Context, showID, guestID uuid.UUID, at time.Time) (cohost.Stage, bool, error) {
	var st cohost.Stage
	var changed bool
	err := db.write(ctx, "take off stage", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, sqlstore.TakeOffStage, showID, guestID, micros(at))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		changed = n > 0
		st, err = db.stage(ctx, tx, showID)
		return err
	})
	return st, changed, storeErr("take off stage", err)
}
