package sqlstore

import (
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
