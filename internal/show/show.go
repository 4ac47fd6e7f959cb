// Package show owns shows: their schedule, kind (a show or a Pavilion Day),
// visibility, hosts, lifecycle state and stream keys. Scheduling rules that
// must hold under concurrency are enforced by the Store.
//
// The rules that must hold under concurrency (one Pavilion Day per calendar
// day, no host on two overlapping shows, the state machine, no schedule edits
// of a live show) are enforced by the Store inside its write transactions;
// Service is the domain API on top (scheduling, lifecycle, notify-me).
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
	HoldSeconds int `json:"hold_seconds"`
	// CoverURL is the show's cover picture: an uploaded image (/media/…) or an
	// http(s) URL; empty: none.
	CoverURL string `json:"cover_url"`
	// Days are the calendar days (YYYY-MM-DD, in the platform's time zone) a
	// Pavilion Day holds; empty for other kinds. Service fills them in from
	// the times; the Store holds each day for one show at most.
	Days []string `json:"pavilion_days,omitempty"`
	// WentLiveAt is when the show really went live: its first move to live,
	// kept when the publisher drops and comes back (the show stays live).
	// Nil until then, and for a show ended without ever going live.
	WentLiveAt *time.Time `json:"went_live_at"`
	// EndedAt is when the show really ended; nil until then. StartsAt and
	// EndsAt stay the times it was scheduled for.
	EndedAt   *time.Time `json:"ended_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// Took is when the show took place, for a calendar: from when it really
// went live to when it really ended once it ended with both known, else
// (still to come, live, cancelled, or ended before the real times were
// kept) its schedule.
func (s *Show) Took() (start, end time.Time) {
	if s.State == Ended && s.WentLiveAt != nil && s.EndedAt != nil {
		return *s.WentLiveAt, *s.EndedAt
	}
	return s.StartsAt, s.EndsAt
}

// Move is what a move of the show to state to at time at changes on it, as
// every Store's Transition stores it: the state and UpdatedAt, WentLiveAt on
// the first move to live (never moved after), EndedAt on the move to ended.
// Call it once CheckTransition allowed the move.
func (s *Show) Move(to State, at time.Time) {
	s.State, s.UpdatedAt = to, at
	switch to {
	case Live:
		if s.WentLiveAt == nil {
			s.WentLiveAt = &at
		}
	case Ended:
		s.EndedAt = &at
	}
}

// Holds reports whether the show still claims its slot: its hosts' time and,
// for a Pavilion Day, its days. A cancelled show frees them; an ended one
// keeps its days (the day happened) but no longer blocks its hosts.
func (s *Show) Holds() bool { return s.State == Scheduled || s.State == Live }

// Filter selects shows for a listing.
type Filter struct {
	BrandID uuid.UUID // zero: any brand
	States  []State   // empty: any state
	// IncludeMembers lists members-only shows too; only for members and staff.
	IncludeMembers bool
	// EndsAfter, when set, keeps only shows that end after it (upcoming ones).
	EndsAfter time.Time
	// PavilionDayFirst orders Pavilion Days before other shows, then by start.
	PavilionDayFirst bool
	// Newest orders by start time descending (past shows).
	Newest        bool
	Offset, Limit int
}

// Notice is an in-app message for one user, such as "a show you asked to be
// told about is live".
type Notice struct {
	ID        uuid.UUID `json:"id"`
	UserID    uuid.UUID `json:"-"`
	ShowID    uuid.UUID `json:"show_id"`
	Kind      string    `json:"kind"` // NoticeLive
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// NoticeLive is the kind of notice sent when a show goes live to those who
// asked to be told about it and, for a public show, its brand's followers.
const NoticeLive = "show_live"

// TellsFollowers reports whether a show going live notifies its brand's
// followers: public shows only, since following a brand does not make one a
// member (members-only shows notify those who asked, who could see it then).
func TellsFollowers(sh *Show) bool { return sh.Visibility == Public }

// Store persists shows. NotFound for a missing show.
//
// CreateShow and UpdateShow enforce, atomically under any concurrency:
//   - a Pavilion Day (Kind KindPavilionDay, not cancelled) needs Days, and no
//     day is held by two shows: Conflict naming the brand that holds it;
//   - a host of a scheduled or live show is on no other scheduled or live show
//     that overlaps it: Conflict naming the other show; a host that is no
//     user is NotFound;
//   - UpdateShow follows CheckEdit (the state machine; a live show keeps its
//     start, kind and hosts).
type Store interface {
	// CreateShow inserts s with its hosts.
	CreateShow(ctx context.Context, s *Show) error
	ShowByID(ctx context.Context, id uuid.UUID) (*Show, error)
	// ListShows returns shows ordered by start time, then ID.
	ListShows(ctx context.Context, f Filter) ([]Show, error)
	// UpdateShow writes every field but ID, BrandID, CreatedAt, WentLiveAt
	// and EndedAt (Transition's), and replaces the hosts.
	UpdateShow(ctx context.Context, s *Show) error
	// SetStreamKey stores the hash of the show's WHIP key; "" revokes it.
	SetStreamKey(ctx context.Context, showID uuid.UUID, hash string) error
	// StreamKeyHash returns the stored hash, "" when the show has none.
	StreamKeyHash(ctx context.Context, showID uuid.UUID) (string, error)

	// SetPinned records the offer the show's host has pinned in the live
	// room (uuid.Nil: none), for rooms that open later: on another node,
	// after a restart. Conflict once the show has ended or was cancelled;
	// NotFound for a missing show, or an offer that is not the show's.
	SetPinned(ctx context.Context, showID, offerID uuid.UUID, at time.Time) error
	// Pinned returns the show's pinned offer; uuid.Nil when it has none.
	Pinned(ctx context.Context, showID uuid.UUID) (uuid.UUID, error)

	// Transition moves the show to state to at time at, following
	// CheckTransition, stores what Show.Move changes (the real times it went
	// live and ended among them) and returns it as stored. Ending or
	// cancelling unpins its offer.
	// Cancelling frees its Pavilion Days. Going
	// live stores a NoticeLive notice for every subscriber and, when
	// TellsFollowers, every follower of the brand, in the same transaction,
	// so each is told exactly once (a follower who also subscribed, once).
	Transition(ctx context.Context, id uuid.UUID, to State, at time.Time) (*Show, error)

	// Subscribe records that the user wants to be told when the show goes
	// live; subscribing twice is not an error. NotFound for a missing show or user.
	Subscribe(ctx context.Context, showID, userID uuid.UUID, at time.Time) error
	// Unsubscribe forgets the subscription; none is not an error.
	Unsubscribe(ctx context.Context, showID, userID uuid.UUID) error
	// Subscribed lists the shows the user subscribed to, by start time.
	Subscribed(ctx context.Context, userID uuid.UUID) ([]Show, error)
	// IsSubscribed reports whether the user subscribed to the show.
	IsSubscribed(ctx context.Context, showID, userID uuid.UUID) (bool, error)
	// Notices lists the user's notices, newest first, at most limit (0: 50).
	Notices(ctx context.Context, userID uuid.UUID, limit int) ([]Notice, error)
}
