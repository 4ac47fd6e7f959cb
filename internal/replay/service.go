package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Files is where recordings are kept (internal/record's directory).
type Files interface {
	// Open opens a recording for reading.
	Open(path string) (io.ReadSeekCloser, time.Time, error)
	// Delete removes a recording; a missing one is no error.
	Delete(path string) error
	// Repair finishes a file whose writer died; ErrBusy (any error that
	// Busy reports) while a writer holds it.
	Repair(path string) (time.Duration, int64, error)
	// Busy reports whether err says the file is still being written.
	Busy(err error) bool
}

// Shows reads shows.
type Shows interface {
	ShowByID(ctx context.Context, id uuid.UUID) (*show.Show, error)
}

// MaxSalesAfterEnd is how long after its end a show may still sell from its replay.
const MaxSalesAfterEnd = 366 * 24 * time.Hour

// Service is the replay domain: who may watch, what the replay page gets,
// the brand's settings and deletions, and the bookkeeping of recordings.
type Service struct {
	Store  Store
	Shows  Shows
	Files  Files
	Logger *slog.Logger

	now func() time.Time // nil: time.Now
}

func (s *Service) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// View is a replay as the player gets it (GET /api/shows/{id}/replay).
type View struct {
	URL        string  `json:"url"`
	MediaType  string  `json:"media_type"`
	DurationMS int64   `json:"duration_ms"`
	Timeline   []Entry `json:"timeline"`
	// StartedAt is the wall-clock time of the replay's 0: chat history
	// lines are placed by their time less this.
	StartedAt time.Time `json:"started_at"`
	// SalesUntil: the offers are on sale from the replay until then; nil: not.
	SalesUntil *time.Time `json:"replay_sales_until"`
	OnSale     bool       `json:"on_sale"`
}

// Entry is a pin or drop on a replay's timeline, at its offset.
type Entry struct {
	AtMS    int64      `json:"at_ms"`
	Type    string     `json:"type"`
	OfferID *uuid.UUID `json:"offer_id"`
}

// visible reads the show and checks u may see it (members-only shows keep
// their replays members-only).
func (s *Service) visible(ctx context.Context, u *account.User, showID uuid.UUID) (*show.Show, error) {
	sh, err := s.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, err
	}
	if err := show.CheckSee(u, sh); err != nil {
		return nil, err
	}
	return sh, nil
}

// recording picks the show's replay: its first finished recording (a node
// restarted mid-show leaves more; the first holds the show's start).
func (s *Service) recording(ctx context.Context, sh *show.Show) (*Recording, error) {
	if sh.State != show.Ended {
		return nil, apperr.Errorf(apperr.NotFound, "this show has no replay: it is %s", sh.State)
	}
	recs, err := s.Store.Recordings(ctx, sh.ID)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if recs[i].EndedAt != nil && recs[i].DurationMS > 0 {
			return &recs[i], nil
		}
	}
	return nil, apperr.Errorf(apperr.NotFound, "this show has no replay")
}

// Replay returns the show's replay for u.
func (s *Service) Replay(ctx context.Context, u *account.User, showID uuid.UUID) (*View, error) {
	sh, err := s.visible(ctx, u, showID)
	if err != nil {
		return nil, err
	}
	rec, err := s.recording(ctx, sh)
	if err != nil {
		return nil, err
	}
	marks, err := s.Store.Marks(ctx, showID)
	if err != nil {
		return nil, err
	}
	set, err := s.Store.ReplaySettings(ctx, showID)
	if err != nil {
		return nil, err
	}
	v := &View{URL: "/api/shows/" + showID.String() + "/replay/media", MediaType: rec.MediaType, DurationMS: rec.DurationMS,
		StartedAt: rec.StartedAt, Timeline: Timeline(marks, rec.StartedAt, rec.DurationMS), SalesUntil: set.SalesUntil}
	v.OnSale = set.SalesUntil != nil && s.clock().Before(*set.SalesUntil)
	return v, nil
}

// Timeline places marks on a recording that began at start and lasts
// durationMS: a mark before the recording began (a pin before the camera
// was on) is at 0, one after its end is left out.
func Timeline(marks []Mark, start time.Time, durationMS int64) []Entry {
	out := []Entry{}
	for _, m := range marks {
		at := max(m.At.Sub(start).Milliseconds(), 0)
		if at > durationMS {
			continue
		}
		e := Entry{AtMS: at, Type: m.Type}
		if m.OfferID != uuid.Nil {
			id := m.OfferID
			e.OfferID = &id
		}
		out = append(out, e)
	}
	return out
}

// Media opens the show's replay file for u; the caller closes it.
func (s *Service) Media(ctx context.Context, u *account.User, showID uuid.UUID) (io.ReadSeekCloser, *Recording, time.Time, error) {
	sh, err := s.visible(ctx, u, showID)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	rec, err := s.recording(ctx, sh)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	f, mod, err := s.Files.Open(rec.Path)
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		return nil, nil, time.Time{}, apperr.Errorf(apperr.NotFound, "this show's replay file is missing")
	}
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	return f, rec, mod, nil
}

// checkAdmin reads the show for one of its brand's admins.
func (s *Service) checkAdmin(ctx context.Context, u *account.User, showID uuid.UUID) (*show.Show, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	sh, err := s.visible(ctx, u, showID)
	if err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, sh.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "only this show's brand admins can do that")
	}
	return sh, nil
}

// Settings returns the show's replay settings for its brand's admins.
func (s *Service) Settings(ctx context.Context, u *account.User, showID uuid.UUID) (Settings, error) {
	if _, err := s.checkAdmin(ctx, u, showID); err != nil {
		return Settings{}, err
	}
	return s.Store.ReplaySettings(ctx, showID)
}

// SetSettings stores a brand admin's choices: record the show or not (until
// it goes live), and until when its offers sell from the replay (a time to
// come, at most MaxSalesAfterEnd past its scheduled end; nil ends the sales).
func (s *Service) SetSettings(ctx context.Context, u *account.User, set Settings) (Settings, error) {
	sh, err := s.checkAdmin(ctx, u, set.ShowID)
	if err != nil {
		return Settings{}, err
	}
	old, err := s.Store.ReplaySettings(ctx, set.ShowID)
	if err != nil {
		return Settings{}, err
	}
	if set.Record != old.Record && sh.State != show.Scheduled {
		return Settings{}, apperr.Errorf(apperr.Conflict, "the show is %s: recording is decided when it goes live", sh.State)
	}
	if sh.State == show.Cancelled {
		return Settings{}, apperr.Errorf(apperr.Conflict, "the show is cancelled")
	}
	if u := set.SalesUntil; u != nil {
		t := u.UTC().Truncate(time.Microsecond)
		set.SalesUntil = &t
		if !t.After(s.clock()) {
			return Settings{}, apperr.Errorf(apperr.Invalid, "replay_sales_until must be in the future (null ends replay sales)")
		}
		if t.After(sh.EndsAt.Add(MaxSalesAfterEnd)) {
			return Settings{}, apperr.Errorf(apperr.Invalid, "replay_sales_until can be at most a year after the show ends")
		}
	}
	if err := s.Store.SetReplaySettings(ctx, set); err != nil {
		return Settings{}, err
	}
	return set, nil
}

// Delete removes the show's replay (its recordings and their files) for
// one of its brand's admins; a live show's recording is still being made.
func (s *Service) Delete(ctx context.Context, u *account.User, showID uuid.UUID) error {
	sh, err := s.checkAdmin(ctx, u, showID)
	if err != nil {
		return err
	}
	if sh.State == show.Live {
		return apperr.Errorf(apperr.Conflict, "the show is live: its replay can be deleted after it ends")
	}
	gone, err := s.Store.DeleteRecordings(ctx, showID)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range gone {
		if err := s.Files.Delete(r.Path); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replay: the replay is unlisted, but files remain: %w", err)
	}
	return nil
}

// ReplaySalesUntil is checkout's question (checkout.ReplaySales).
func (s *Service) ReplaySalesUntil(ctx context.Context, showID uuid.UUID) (*time.Time, error) {
	set, err := s.Store.ReplaySettings(ctx, showID)
	if err != nil {
		return nil, err
	}
	return set.SalesUntil, nil
}

// Recordable reports whether the show is to be recorded (the recorder's Allow).
func (s *Service) Recordable(ctx context.Context, showID uuid.UUID) (bool, error) {
	set, err := s.Store.ReplaySettings(ctx, showID)
	if err != nil {
		return false, err
	}
	return set.Record, nil
}

// Started lists a recording the recorder began.
func (s *Service) Started(ctx context.Context, r Recording) error {
	return s.Store.AddRecording(ctx, &r)
}

// Finished stores a recording's end.
func (s *Service) Finished(ctx context.Context, id uuid.UUID, ended time.Time, d time.Duration, bytes int64) error {
	return s.Store.FinishRecording(ctx, id, ended, d.Milliseconds(), bytes)
}

// RepairUnfinished finishes the recordings whose writer died (a node killed
// mid-show): each is repaired and its length stored. One still being
// written (by a live node sharing the directory) is left alone. It returns
// how many were repaired.
func (s *Service) RepairUnfinished(ctx context.Context) (int, error) {
	list, err := s.Store.UnfinishedRecordings(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range list {
		d, size, err := s.Files.Repair(r.Path)
		if s.Files.Busy(err) {
			continue
		}
		if err != nil {
			s.log().Warn("replay: a recording cannot be repaired", "show", r.ShowID, "path", r.Path, "err", err)
			continue
		}
		if err := s.Store.FinishRecording(ctx, r.ID, s.clock().UTC(), d.Milliseconds(), size); err != nil {
			return n, err
		}
		s.log().Info("replay: repaired a recording", "show", r.ShowID, "path", r.Path, "duration", d)
		n++
	}
	return n, nil
}
