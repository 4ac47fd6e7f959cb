package show

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Notifier hears about changes to shows, so that the live room (on every
// node) holds the current show: who may run it, who may see it, its state.
// Calls must not block for long.
type Notifier interface {
	// ShowStateChanged: the show went live, ended or was cancelled (the
	// room tells its viewers and closes).
	ShowStateChanged(ctx context.Context, s *Show)
	// ShowChanged: the show was edited (title, times, hosts, visibility…);
	// s is the show as stored. A host taken off the show loses its powers in
	// the room, and viewers who may no longer see it are let go.
	ShowChanged(ctx context.Context, s *Show)
}

// Holds releases what buyers hold in a show that will not happen.
// checkout.Service implements it.
type Holds interface {
	// ReleaseShow releases every held reservation of the show, returning the
	// units to stock, and reports how many it released.
	ReleaseShow(ctx context.Context, showID uuid.UUID) (int, error)
}

// Service is the show domain's API: scheduling under the platform's time
// zone and the lifecycle scheduled → live → ended (or cancelled), with the
// rules every entry point (HTTP, the live room, the media server) shares.
// The rules that must hold under concurrency are the Store's, checked in its
// transactions; Service checks the others, prepares shows for the Store and
// tells the others what happened. Zero optional fields are fine.
type Service struct {
	Store  Store
	Users  Users  // for Create and Change: hosts must be accounts with the host role
	Brands Brands // for Create: the show's brand must exist
	// Zone is the platform's time zone: Pavilion Days are its calendar days.
	// Nil means UTC.
	Zone     *time.Location
	Notifier Notifier // optional: the live room
	Holds    Holds    // optional: checkout, to release holds of a cancelled show
	Logger   *slog.Logger
	Now      func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// prepare validates sh and computes the days a Pavilion Day holds.
func (s *Service) prepare(sh *Show) error {
	if err := Validate(sh); err != nil {
		return err
	}
	sh.Days = nil
	if sh.Kind == KindPavilionDay {
		sh.Days = CalendarDays(sh.StartsAt, sh.EndsAt, s.Zone)
	}
	if sh.HostIDs == nil {
		sh.HostIDs = []uuid.UUID{}
	}
	return nil
}

// Schedule validates a new show and stores it as scheduled. Conflict when a
// day of a Pavilion Day is taken or a host is already booked at that time.
func (s *Service) Schedule(ctx context.Context, sh *Show) error {
	if sh.ID == uuid.Nil {
		sh.ID = uuid.New()
	}
	sh.State = Scheduled
	now := s.now()
	sh.CreatedAt, sh.UpdatedAt = now, now
	if err := s.prepare(sh); err != nil {
		return err
	}
	return s.Store.CreateShow(ctx, sh)
}

// Update validates an edited show and stores it, under the same rules as
// Schedule plus CheckEdit against the stored show, and tells the Notifier
// (every edit: a change of hosts or visibility changes who may do what in
// the live room). The state is not changed here: use GoLive, End or Cancel.
func (s *Service) Update(ctx context.Context, sh *Show) error {
	sh.UpdatedAt = s.now()
	if err := s.prepare(sh); err != nil {
		return err
	}
	if err := s.Store.UpdateShow(ctx, sh); err != nil {
		return err
	}
	if s.Notifier != nil {
		s.Notifier.ShowChanged(ctx, sh)
	}
	return nil
}

// GoLive moves a scheduled show to live, stores a notice for each of its
// subscribers and tells the Notifier. Conflict when the show is not scheduled.
func (s *Service) GoLive(ctx context.Context, id uuid.UUID) (*Show, error) {
	return s.move(ctx, id, Live)
}

// End moves a scheduled or live show to ended and tells the Notifier.
// Conflict when it already ended or was cancelled.
func (s *Service) End(ctx context.Context, id uuid.UUID) (*Show, error) {
	return s.move(ctx, id, Ended)
}

// Cancel moves a scheduled show to cancelled: its Pavilion Days and hosts are
// free again, every reservation still held in it is released and the
// Notifier is told (the live room closes). Conflict when it is not scheduled.
func (s *Service) Cancel(ctx context.Context, id uuid.UUID) (*Show, error) {
	sh, err := s.Store.ShowByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if sh.State != Scheduled {
		return nil, apperr.Errorf(apperr.Conflict, "only a scheduled show can be cancelled; this one is %s", sh.State)
	}
	sh, err = s.move(ctx, id, Cancelled)
	if err != nil {
		return nil, err
	}
	if s.Holds != nil {
		n, err := s.Holds.ReleaseShow(ctx, id)
		if err != nil {
			// The show is cancelled either way, and holds left behind still
			// expire on their own: an error here would only make the caller
			// retry a cancellation that already happened.
			s.log().ErrorContext(ctx, "releasing the holds of a cancelled show", "show", id, "err", err)
		} else if n > 0 {
			s.log().InfoContext(ctx, "cancelled show released holds", "show", id, "reservations", n)
		}
	}
	return sh, nil
}

func (s *Service) move(ctx context.Context, id uuid.UUID, to State) (*Show, error) {
	sh, err := s.Store.Transition(ctx, id, to, s.now())
	if err != nil {
		return nil, err
	}
	if s.Notifier != nil {
		s.Notifier.ShowStateChanged(ctx, sh)
	}
	return sh, nil
}
