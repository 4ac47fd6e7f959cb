// Package replay owns what is left of a show after it ends: its recordings
// (the files internal/record writes), the timeline of pins and drops at
// their times, and the brand's choices for the replay (record the show or
// not, sell from the replay until when). It answers who may watch a replay
// and what the replay page shows; it never writes media (internal/record
// does) and never sells (checkout does, asking SalesUntil).
package replay

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Roles: whose broadcast a recording holds.
const (
	RoleHost  = "host"
	RoleGuest = "guest" // the co-host (internal/cohost), recorded beside the host
)

// Recording is one file of a show's recording. A show recorded on one node
// from start to end has one for the host (and one for a guest who joined);
// a node restarted mid-show leaves two.
type Recording struct {
	ID        uuid.UUID
	ShowID    uuid.UUID
	Path      string // in the recordings directory, slash-separated
	MediaType string
	// Role is RoleHost or RoleGuest; "" is stored as RoleHost.
	Role string
	// StartedAt is the wall-clock time of the file's time 0.
	StartedAt time.Time
	// EndedAt is nil while the file is written (or its writer died and it
	// was not repaired yet).
	EndedAt    *time.Time
	DurationMS int64
	Bytes      int64
}

// Mark types.
const (
	MarkPin   = "pin"   // an offer pinned
	MarkUnpin = "unpin" // the pin taken down
	MarkDrop  = "drop"  // a flash drop opened
	// The stage's moments (internal/cohost): each carries the layout from
	// then on, so a player that seeks anywhere lays the two videos out
	// from the last mark before it.
	MarkLayout      = "layout"       // the host switched the layout
	MarkGuestJoined = "guest_joined" // the guest went on air
	MarkGuestLeft   = "guest_left"   // the guest went off air
)

// Mark is a moment of a show's timeline: a pin or a drop, a layout switch
// or a guest joining or leaving, as it happened.
type Mark struct {
	ShowID  uuid.UUID
	At      time.Time
	Type    string
	OfferID uuid.UUID // uuid.Nil for an unpin and the stage's marks
	// Layout is the stage's layout from this mark on, for the stage's
	// marks; "" for the others.
	Layout string
}

// Settings are a brand's choices for a show's replay.
type Settings struct {
	ShowID uuid.UUID `json:"-"`
	// Record: the show is recorded when it goes live (the default).
	Record bool `json:"record"`
	// SalesUntil keeps the show's offers on sale from the replay after the
	// show ends, until then; nil: sales end with the show.
	SalesUntil *time.Time `json:"replay_sales_until"`
}

// Store keeps recordings, marks and settings. A show that does not exist is
// NotFound for writes.
type Store interface {
	// AddRecording lists a new recording file.
	AddRecording(ctx context.Context, r *Recording) error
	// FinishRecording stores a file's end, duration and size. NotFound when
	// it is not listed (deleted meanwhile).
	FinishRecording(ctx context.Context, id uuid.UUID, endedAt time.Time, durationMS, bytes int64) error
	// Recordings lists the show's recordings, the earliest first.
	Recordings(ctx context.Context, showID uuid.UUID) ([]Recording, error)
	// UnfinishedRecordings lists the recordings of every show not finished yet.
	UnfinishedRecordings(ctx context.Context) ([]Recording, error)
	// DeleteRecordings forgets the show's recordings and returns them (for
	// their files to be removed).
	DeleteRecordings(ctx context.Context, showID uuid.UUID) ([]Recording, error)
	// JoinRecordings lists joined, the one file made of the recordings
	// parts, in their place, in one transaction: NotFound (and nothing
	// changed) when one of the parts is no longer listed (another node
	// joined them first, or the replay was deleted).
	JoinRecordings(ctx context.Context, joined *Recording, parts []uuid.UUID) error
	// UnjoinedShows lists the shows with two or more finished recordings
	// of one role and media type and none of that role unfinished: the ones
	// a join should make one file of (a node that died while joining).
	UnjoinedShows(ctx context.Context) ([]uuid.UUID, error)

	// AddMark appends a moment to the show's timeline.
	AddMark(ctx context.Context, m Mark) error
	// Marks returns the show's timeline in time order.
	Marks(ctx context.Context, showID uuid.UUID) ([]Mark, error)

	// ReplaySettings returns the show's settings: the defaults (recorded,
	// no replay sales) when none were set.
	ReplaySettings(ctx context.Context, showID uuid.UUID) (Settings, error)
	// SetReplaySettings stores the show's settings.
	SetReplaySettings(ctx context.Context, s Settings) error
}
