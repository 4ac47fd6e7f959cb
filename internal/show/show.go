// Package show owns shows: their schedule, kind (a show or a Pavilion Day),
// visibility, hosts, lifecycle state and stream keys. Scheduling rules that
// must hold under concurrency are enforced by the Store.
//
// Status: the types, the store and stream keys exist (issue 2); the
// scheduling rules (Pavilion Day, host overlap), notify-me, discovery and
// analytics are issue 6.
package show

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Kind is what sort of event a show is.
type Kind string

const (
	KindShow Kind = "show"
	// KindPavilionDay gives one brand the spotlight for a whole calendar day.
	KindPavilionDay Kind = "pavilion_day"
)

// Visibility says who may see a show.
type Visibility string

const (
	Public  Visibility = "public"
	Members Visibility = "members" // members-only: invisible to everyone else
)

// State is where a show is in its life.
type State string

const (
	Scheduled State = "scheduled"
	Live      State = "live"
	Ended     State = "ended"
	Cancelled State = "cancelled"
)

// Show is a scheduled live broadcast by a brand.
type Show struct {
	ID          uuid.UUID   `json:"id"`
	BrandID     uuid.UUID   `json:"brand_id"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	Kind        Kind        `json:"kind"`
	Visibility  Visibility  `json:"visibility"`
	State       State       `json:"state"`
	StartsAt    time.Time   `json:"starts_at"`
	EndsAt      time.Time   `json:"ends_at"`
	TimeZone    string      `json:"time_zone"` // IANA zone the brand scheduled it in
	HostIDs     []uuid.UUID `json:"host_ids"`
	// HoldSeconds is how long a reservation in this show holds stock; 0 means the platform default.
	HoldSeconds int       `json:"hold_seconds"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Filter selects shows for a listing.
type Filter struct {
	BrandID uuid.UUID // zero: any brand
	States  []State   // empty: any state
	// IncludeMembers lists members-only shows too; only for members and staff.
	IncludeMembers bool
	Offset, Limit  int
}

// Store persists shows. NotFound for a missing show.
type Store interface {
	// CreateShow inserts s with its hosts.
	CreateShow(ctx context.Context, s *Show) error
	ShowByID(ctx context.Context, id uuid.UUID) (*Show, error)
	// ListShows returns shows ordered by start time, then ID.
	ListShows(ctx context.Context, f Filter) ([]Show, error)
	// UpdateShow writes every field but ID, BrandID and CreatedAt, and replaces the hosts.
	UpdateShow(ctx context.Context, s *Show) error
	// SetStreamKey stores the hash of the show's WHIP key; "" revokes it.
	SetStreamKey(ctx context.Context, showID uuid.UUID, hash string) error
	// StreamKeyHash returns the stored hash, "" when the show has none.
	StreamKeyHash(ctx context.Context, showID uuid.UUID) (string, error)
}
