package chat

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Store keeps what moderation decides, so that it holds on every node and
// after a room closes and opens again: bans and mutes per show, blocked words
// per brand.
type Store interface {
	// SetBan bans the user from the show, or lifts the ban; by is the
	// moderator who issued the ban (banning twice keeps the first ban and
	// its issuer).
	SetBan(ctx context.Context, showID, userID, by uuid.UUID, banned bool) error
	// SetMute mutes the user in the show until the given time, issued by
	// the moderator by; the zero time unmutes.
	SetMute(ctx context.Context, showID, userID, by uuid.UUID, until time.Time) error
	// Moderation returns the show's banned users and the mutes that end after now.
	Moderation(ctx context.Context, showID uuid.UUID, now time.Time) (banned []uuid.UUID, muted map[uuid.UUID]time.Time, err error)
	// Sanctions lists the users the show bans or mutes (mutes that end
	// after now), one entry each, by display name then user ID.
	Sanctions(ctx context.Context, showID uuid.UUID, now time.Time) ([]Sanction, error)
	// SetBlockedWords replaces the brand's blocked-word list (lower-case).
	SetBlockedWords(ctx context.Context, brandID uuid.UUID, words []string) error
	// BlockedWords returns the brand's list; empty when it has none.
	BlockedWords(ctx context.Context, brandID uuid.UUID) ([]string, error)
}

// Sanction is one user's standing ban and mute in a show, as moderators
// review them (GET /api/shows/{id}/moderation).
type Sanction struct {
	UserID      uuid.UUID  `json:"user_id"`
	DisplayName string     `json:"display_name"`
	Banned      bool       `json:"banned"`
	BannedAt    *time.Time `json:"banned_at"`   // when the ban was made; nil: not banned
	MutedUntil  *time.Time `json:"muted_until"` // nil: not muted
	// BannedBy and MutedBy name the moderators who issued the ban and the
	// mute; nil when not banned (muted), or issued before issuers were kept.
	BannedBy *uuid.UUID `json:"banned_by"`
	MutedBy  *uuid.UUID `json:"muted_by"`
}
