// Package cohost owns a show's co-hosts: the guests a host invites to
// publish beside them, and the show's stage (which guest is on it and how
// the player lays the two streams out). A host invites a guest with a
// one-time invite token; the guest redeems it for a guest key bound to that
// one show, and publishes with it (WHIP ?guest=1). Both tokens are stored
// hashed, like stream keys. The host removes a guest at once: the key stops
// working and the guest's broadcast ends on every node.
//
// It decides who may invite, redeem, publish and lay out, and tells the
// live room and the media server; it never carries media (stream does) and
// never talks to a database (the drivers implement Store).
package cohost

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Token prefixes make invites and guest keys recognisable in logs and leaks.
const (
	InvitePrefix = "pvi_"
	KeyPrefix    = "pvg_"
)

// Layouts of the stage: how the player shows the host's and the guest's video.
const (
	SideBySide = "side-by-side" // two halves (stacked on a narrow phone)
	PiP        = "pip"          // the guest small over the host
	GuestFull  = "guest-full"   // the guest fills the player, the host small
)

// Layouts lists the layouts a host may pick, the default first.
var Layouts = []string{SideBySide, PiP, GuestFull}

// Guest is one invitation to a show and, once redeemed, the guest it let in.
type Guest struct {
	ID        uuid.UUID `json:"id"`
	ShowID    uuid.UUID `json:"show_id"`
	Name      string    `json:"name"`
	InvitedBy uuid.UUID `json:"invited_by"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when an invite not redeemed by then stops working.
	ExpiresAt  time.Time  `json:"invite_expires_at"`
	RedeemedAt *time.Time `json:"redeemed_at"`
	// RemovedAt: the host withdrew the invite or removed the guest.
	RemovedAt *time.Time `json:"removed_at"`
	// InviteHash and KeyHash are the SHA-256 of the tokens; never shown.
	InviteHash string `json:"-"`
	KeyHash    string `json:"-"`
}

// Guest states as the host's list shows them.
const (
	Invited = "invited"
	Joined  = "joined"
	Removed = "removed"
	Expired = "expired"
)

// Status says where the guest stands at now.
func (g *Guest) Status(now time.Time) string {
	switch {
	case g.RemovedAt != nil:
		return Removed
	case g.RedeemedAt != nil:
		return Joined
	case !now.Before(g.ExpiresAt):
		return Expired
	}
	return Invited
}

// Stage is a show's stage: the layout the host picked and the guest on air,
// if any. Rev grows with every change, so a client that hears of the stage
// both from GET and from the live room keeps the newer.
type Stage struct {
	ShowID uuid.UUID `json:"show_id"`
	Layout string    `json:"layout"`
	// GuestID and GuestName name the guest publishing now; nil when none is.
	GuestID   *uuid.UUID `json:"guest_id"`
	GuestName string     `json:"guest_name,omitempty"`
	Rev       int64      `json:"rev"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Store keeps guests and stages. Writes for a show that does not exist are
// NotFound.
type Store interface {
	// AddGuest stores a new invitation. A show has one guest at a time:
	// Conflict while another of its guests is not removed.
	AddGuest(ctx context.Context, g *Guest) error
	// Guests lists the show's guests, the newest first.
	Guests(ctx context.Context, showID uuid.UUID) ([]Guest, error)
	// GuestByID returns a guest, NotFound when there is none.
	GuestByID(ctx context.Context, id uuid.UUID) (*Guest, error)
	// GuestByKey returns the guest whose key hashes to keyHash, NotFound when none.
	GuestByKey(ctx context.Context, keyHash string) (*Guest, error)
	// RedeemInvite binds keyHash to the show's guest whose invite hashes to
	// inviteHash, once: the invite must be unused, not removed and not
	// expired at at. NotFound when no invite of the show matches; Gone
	// when it was used, withdrawn or expired.
	RedeemInvite(ctx context.Context, showID uuid.UUID, inviteHash, keyHash string, at time.Time) (*Guest, error)
	// RemoveGuest marks the guest removed at at (a second removal keeps the
	// first time) and returns it. NotFound when there is no such guest.
	RemoveGuest(ctx context.Context, id uuid.UUID, at time.Time) (*Guest, error)

	// Stage returns the show's stage: side by side with no guest and Rev 0
	// when it was never set.
	Stage(ctx context.Context, showID uuid.UUID) (Stage, error)
	// SetLayout stores the show's layout and returns the stage.
	SetLayout(ctx context.Context, showID uuid.UUID, layout string, at time.Time) (Stage, error)
	// PutOnStage makes the guest the one on air and returns the stage.
	PutOnStage(ctx context.Context, showID, guestID uuid.UUID, at time.Time) (Stage, error)
	// TakeOffStage takes the guest off air, if it is the one on it, and
	// returns the stage and whether it changed.
	TakeOffStage(ctx context.Context, showID, guestID uuid.UUID, at time.Time) (Stage, bool, error)
}
