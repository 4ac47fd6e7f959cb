package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// CohostStore keeps shows' guests and stages (cohost.Store).
type CohostStore struct{ *conn }

var _ cohost.Store = CohostStore{}

// Cohosts is the co-host store over this database. (A method rather than an
// embedded store: its methods' names would clash with others'.)
func (db *DB) Cohosts() cohost.Store { return CohostStore{db.conn} }

// cohostErr is storeErr, with the co-host tables' constraints named: the
// partial index that keeps one guest per show, and a missing show.
func cohostErr(op string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505" && pe.ConstraintName == "show_guests_active_key":
			return sqlstore.OneGuestAtATime()
		case pe.Code == "23503":
			return apperr.Wrap(apperr.NotFound, err, "show not found")
		}
	}
	return storeErr(op, err)
}

// AddGuest stores a new invitation; Conflict while the show has a guest
// not removed (the partial unique index decides a race).
func (db CohostStore) AddGuest(ctx context.Context, g *cohost.Guest) error {
	var key *string
	if g.KeyHash != "" {
		key = &g.KeyHash
	}
	_, err := db.pool.Exec(ctx, sqlstore.AddGuest, g.ID, g.ShowID, g.Name, g.InvitedBy, g.CreatedAt, g.ExpiresAt,
		g.RedeemedAt, g.RemovedAt, g.InviteHash, key)
	return cohostErr("add guest", err)
}

// Guests lists the show's guests, the newest first.
func (db CohostStore) Guests(ctx context.Context, showID uuid.UUID) ([]cohost.Guest, error) {
	rows, err := db.pool.Query(ctx, sqlstore.GuestsOfShow, showID)
	list, err := collect(rows, err, scan.Guest)
	return list, storeErr("guests", err)
}

// GuestByID returns a guest.
func (db CohostStore) GuestByID(ctx context.Context, id uuid.UUID) (*cohost.Guest, error) {
	g, err := scan.Guest(db.pool.QueryRow(ctx, sqlstore.GuestByID, id))
	return g, notFound("guest", "guest", err)
}

// GuestByKey returns the guest whose key hashes to keyHash.
func (db CohostStore) GuestByKey(ctx context.Context, keyHash string) (*cohost.Guest, error) {
	g, err := scan.Guest(db.pool.QueryRow(ctx, sqlstore.GuestByKey, keyHash))
	return g, notFound("guest by key", "guest", err)
}

// RedeemInvite binds keyHash to the show's live invite, once: the
// conditional update decides between racing redeemers.
func (db CohostStore) RedeemInvite(ctx context.Context, showID uuid.UUID, inviteHash, keyHash string, at time.Time) (*cohost.Guest, error) {
	g, err := scan.Guest(db.pool.QueryRow(ctx, sqlstore.RedeemInvite, keyHash, at, showID, inviteHash))
	if !errors.Is(err, pgx.ErrNoRows) {
		return g, cohostErr("redeem invite", err)
	}
	was, err := scan.Guest(db.pool.QueryRow(ctx, sqlstore.InviteOf, showID, inviteHash))
	if errors.Is(err, pgx.ErrNoRows) {
		was, err = nil, nil
	}
	if err != nil {
		return nil, storeErr("redeem invite", err)
	}
	return nil, sqlstore.RedeemRefused(was)
}

// RemoveGuest marks the guest removed.
func (db CohostStore) RemoveGuest(ctx context.Context, id uuid.UUID, at time.Time) (*cohost.Guest, error) {
	g, err := scan.Guest(db.pool.QueryRow(ctx, sqlstore.RemoveGuest, id, at))
	return g, notFound("remove guest", "guest", err)
}

// Stage returns the show's stage.
func (db CohostStore) Stage(ctx context.Context, showID uuid.UUID) (cohost.Stage, error) {
	st, err := scan.Stage(db.pool.QueryRow(ctx, sqlstore.StageOf, showID))
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlstore.NoStage(showID), nil
	}
	if err != nil {
		return cohost.Stage{}, storeErr("stage", err)
	}
	return *st, nil
}

// SetLayout stores the show's layout.
func (db CohostStore) SetLayout(ctx context.Context, showID uuid.UUID, layout string, at time.Time) (cohost.Stage, error) {
	if _, err := db.pool.Exec(ctx, sqlstore.SetLayout, showID, layout, at); err != nil {
		return cohost.Stage{}, cohostErr("set layout", err)
	}
	return db.Stage(ctx, showID)
}

// PutOnStage makes the guest the one on air.
func (db CohostStore) PutOnStage(ctx context.Context, showID, guestID uuid.UUID, at time.Time) (cohost.Stage, error) {
	if _, err := db.pool.Exec(ctx, sqlstore.PutOnStage, showID, guestID, at); err != nil {
		return cohost.Stage{}, cohostErr("put on stage", err)
	}
	return db.Stage(ctx, showID)
}

// TakeOffStage takes the guest off air if it is the one on it.
func (db CohostStore) TakeOffStage(ctx context.Context, showID, guestID uuid.UUID, at time.Time) (cohost.Stage, bool, error) {
	tag, err := db.pool.Exec(ctx, sqlstore.TakeOffStage, showID, guestID, at)
	if err != nil {
		return cohost.Stage{}, false, storeErr("take off stage", err)
	}
	st, err := db.Stage(ctx, showID)
	return st, tag.RowsAffected() > 0, err
}
