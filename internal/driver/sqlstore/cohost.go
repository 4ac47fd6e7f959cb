package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/cohost"
)

// The co-host texts (cohost.Store), alike in both dialects.
const (
	GuestCols = `id, show_id, name, invited_by, created_at, expires_at, redeemed_at, removed_at, invite_hash, key_hash`

	AddGuest = `INSERT INTO show_guests (` + GuestCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	// ActiveGuest finds the show's guest that is not removed (one at most).
	ActiveGuest  = `SELECT id FROM show_guests WHERE show_id = $1 AND removed_at IS NULL`
	GuestsOfShow = `SELECT ` + GuestCols + ` FROM show_guests WHERE show_id = $1 ORDER BY created_at DESC, id`
	GuestByID    = `SELECT ` + GuestCols + ` FROM show_guests WHERE id = $1`
	GuestByKey   = `SELECT ` + GuestCols + ` FROM show_guests WHERE key_hash = $1`
	// RedeemInvite binds the key ($1) once, at $2, to the show's ($3)
	// unused, live invite ($4).
	RedeemInvite = `UPDATE show_guests SET key_hash = $1, redeemed_at = $2
		WHERE show_id = $3 AND invite_hash = $4 AND redeemed_at IS NULL AND removed_at IS NULL AND expires_at > $2
		RETURNING ` + GuestCols
	InviteOf    = `SELECT ` + GuestCols + ` FROM show_guests WHERE show_id = $1 AND invite_hash = $2`
	RemoveGuest = `UPDATE show_guests SET removed_at = COALESCE(removed_at, $2) WHERE id = $1 RETURNING ` + GuestCols

	StageOf = `SELECT s.show_id, s.layout, s.guest_id, COALESCE(g.name, ''), s.rev, s.updated_at
		FROM show_stages s LEFT JOIN show_guests g ON g.id = s.guest_id WHERE s.show_id = $1`
	SetLayout = `INSERT INTO show_stages (show_id, layout, rev, updated_at) VALUES ($1, $2, 1, $3)
		ON CONFLICT (show_id) DO UPDATE SET layout = excluded.layout, rev = show_stages.rev + 1, updated_at = excluded.updated_at`
	PutOnStage = `INSERT INTO show_stages (show_id, guest_id, rev, updated_at) VALUES ($1, $2, 1, $3)
		ON CONFLICT (show_id) DO UPDATE SET guest_id = excluded.guest_id, rev = show_stages.rev + 1, updated_at = excluded.updated_at`
	TakeOffStage = `UPDATE show_stages SET guest_id = NULL, rev = rev + 1, updated_at = $3 WHERE show_id = $1 AND guest_id = $2`
)

// Guest reads GuestCols.
func (s Scanner) Guest(r Row) (*cohost.Guest, error) {
	var g cohost.Guest
	var key *string
	if err := r.Scan(&g.ID, &g.ShowID, &g.Name, &g.InvitedBy, s.Time(&g.CreatedAt), s.Time(&g.ExpiresAt),
		s.NullTime(&g.RedeemedAt), s.NullTime(&g.RemovedAt), &g.InviteHash, &key); err != nil {
		return nil, err
	}
	if key != nil {
		g.KeyHash = *key
	}
	return &g, nil
}

// Stage reads StageOf's columns.
func (s Scanner) Stage(r Row) (*cohost.Stage, error) {
	var st cohost.Stage
	var guest uuid.NullUUID
	if err := r.Scan(&st.ShowID, &st.Layout, &guest, &st.GuestName, &st.Rev, s.Time(&st.UpdatedAt)); err != nil {
		return nil, err
	}
	st.GuestID = nullID(guest)
	return &st, nil
}

// NoStage is the stage of a show that never set one.
func NoStage(showID uuid.UUID) cohost.Stage {
	return cohost.Stage{ShowID: showID, Layout: cohost.SideBySide}
}

// OneGuestAtATime is the Conflict of inviting while a guest is not removed.
func OneGuestAtATime() error {
	return apperr.Errorf(apperr.Conflict, "this show already has a guest (invited or on air); remove them first")
}

// RedeemRefused explains why RedeemInvite changed nothing, from the invite
// as stored (nil: there is none).
func RedeemRefused(g *cohost.Guest) error {
	switch {
	case g == nil:
		return apperr.Errorf(apperr.NotFound, "this invite is not valid for the show")
	case g.RemovedAt != nil:
		return apperr.Errorf(apperr.Gone, "the host withdrew this invite")
	case g.RedeemedAt != nil:
		return apperr.Errorf(apperr.Gone, "this invite was used already; ask the host for a new one")
	}
	return apperr.Errorf(apperr.Gone, "this invite expired; ask the host for a new one")
}

// CohostStore keeps shows' guests and stages (cohost.Store), written once
// for both drivers.
type CohostStore struct{ db *Conn }

var _ cohost.Store = CohostStore{}

// NewCohostStore is the co-host store over c. (A driver exposes it from a
// method rather than embedding it: its methods' names would clash.)
func NewCohostStore(c *Conn) CohostStore { return CohostStore{c} }

// AddGuest stores a new invitation; Conflict while the show has a guest
// not removed. The look comes first so that the answer names the rule; the
// partial unique index show_guests_active_key decides a race between
// PostgreSQL transactions (SQLite's one writer has none).
func (s CohostStore) AddGuest(ctx context.Context, g *cohost.Guest) error {
	return s.db.Errs.Wrap("add guest", s.db.Tx(ctx, func(tx Querier) error {
		var id uuid.UUID
		err := tx.QueryRow(ctx, ActiveGuest, g.ShowID).Scan(&id)
		if err == nil {
			return OneGuestAtATime()
		}
		if !errors.Is(err, ErrNoRows) {
			return err
		}
		var key any
		if g.KeyHash != "" {
			key = g.KeyHash
		}
		d := s.db.Dialect
		_, err = tx.Exec(ctx, AddGuest, g.ID, g.ShowID, g.Name, g.InvitedBy, d.Time(g.CreatedAt), d.Time(g.ExpiresAt),
			d.NullTime(g.RedeemedAt), d.NullTime(g.RemovedAt), g.InviteHash, key)
		return s.db.Errs.Ref(err, "show")
	}))
}

// Guests lists the show's guests, the newest first.
func (s CohostStore) Guests(ctx context.Context, showID uuid.UUID) ([]cohost.Guest, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.Guest, GuestsOfShow, showID)
	return list, s.db.Errs.Wrap("guests", err)
}

// GuestByID returns a guest.
func (s CohostStore) GuestByID(ctx context.Context, id uuid.UUID) (*cohost.Guest, error) {
	return readOne(ctx, s.db, "guest", "guest", s.db.Scan.Guest, GuestByID, id)
}

// GuestByKey returns the guest whose key hashes to keyHash.
func (s CohostStore) GuestByKey(ctx context.Context, keyHash string) (*cohost.Guest, error) {
	return readOne(ctx, s.db, "guest by key", "guest", s.db.Scan.Guest, GuestByKey, keyHash)
}

// RedeemInvite binds keyHash to the show's live invite, once: the
// conditional update decides between racing redeemers, and a refusal says
// why from the invite as stored.
func (s CohostStore) RedeemInvite(ctx context.Context, showID uuid.UUID, inviteHash, keyHash string, at time.Time) (*cohost.Guest, error) {
	var g *cohost.Guest
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		g, err = s.db.Scan.Guest(tx.QueryRow(ctx, RedeemInvite, keyHash, s.db.Dialect.Time(at), showID, inviteHash))
		if !errors.Is(err, ErrNoRows) {
			return err
		}
		was, err := s.db.Scan.Guest(tx.QueryRow(ctx, InviteOf, showID, inviteHash))
		if errors.Is(err, ErrNoRows) {
			was, err = nil, nil
		}
		if err != nil {
			return err
		}
		return RedeemRefused(was)
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("redeem invite", err)
	}
	return g, nil
}

// RemoveGuest marks the guest removed (the first removal's time stays).
func (s CohostStore) RemoveGuest(ctx context.Context, id uuid.UUID, at time.Time) (*cohost.Guest, error) {
	var g *cohost.Guest
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		g, err = s.db.Scan.Guest(tx.QueryRow(ctx, RemoveGuest, id, s.db.Dialect.Time(at)))
		return NotFound(err, "guest")
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("remove guest", err)
	}
	return g, nil
}

// Stage returns the show's stage.
func (s CohostStore) Stage(ctx context.Context, showID uuid.UUID) (cohost.Stage, error) {
	st, err := s.stage(ctx, s.db.Read, showID)
	return st, s.db.Errs.Wrap("stage", err)
}

func (s CohostStore) stage(ctx context.Context, q Querier, showID uuid.UUID) (cohost.Stage, error) {
	st, err := s.db.Scan.Stage(q.QueryRow(ctx, StageOf, showID))
	if errors.Is(err, ErrNoRows) {
		return NoStage(showID), nil
	}
	if err != nil {
		return cohost.Stage{}, err
	}
	return *st, nil
}

// SetLayout stores the show's layout.
func (s CohostStore) SetLayout(ctx context.Context, showID uuid.UUID, layout string, at time.Time) (cohost.Stage, error) {
	st, _, err := s.changeStage(ctx, "set layout", showID, SetLayout, showID, layout, s.db.Dialect.Time(at))
	return st, err
}

// PutOnStage makes the guest the one on air.
func (s CohostStore) PutOnStage(ctx context.Context, showID, guestID uuid.UUID, at time.Time) (cohost.Stage, error) {
	st, _, err := s.changeStage(ctx, "put on stage", showID, PutOnStage, showID, guestID, s.db.Dialect.Time(at))
	return st, err
}

// TakeOffStage takes the guest off air if it is the one on it.
func (s CohostStore) TakeOffStage(ctx context.Context, showID, guestID uuid.UUID, at time.Time) (cohost.Stage, bool, error) {
	return s.changeStage(ctx, "take off stage", showID, TakeOffStage, showID, guestID, s.db.Dialect.Time(at))
}

// changeStage runs one change of the show's stage and reads the stage back
// in the same transaction, so the rev returned is the change's own.
func (s CohostStore) changeStage(ctx context.Context, op string, showID uuid.UUID, query string, args ...any) (cohost.Stage, bool, error) {
	var (
		st      cohost.Stage
		changed bool
	)
	err := s.db.Tx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx, query, args...)
		if err != nil {
			return s.db.Errs.Ref(err, "show")
		}
		changed = n > 0
		st, err = s.stage(ctx, tx, showID)
		return err
	})
	if err != nil {
		return cohost.Stage{}, false, s.db.Errs.Wrap(op, err)
	}
	return st, changed, nil
}
