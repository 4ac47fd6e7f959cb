package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
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
	// Join writes the finished files parts into one new file out, each
	// placed offsetsMS after the first one's start (record.JoinFiles); the
	// parts stay. Incompatible reports its error for files that cannot be
	// one (another container or codec).
	Join(out string, parts []string, offsetsMS []int64) (time.Duration, int64, error)
	Incompatible(err error) bool
	// Kept is told that a file is complete and listed: a bucket stores it
	// (a directory has it already).
	Kept(path string) error
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

// Finished stores a recording's end (r's EndedAt, DurationMS and Bytes),
// then makes one file of the show's recordings if a node's restart left
// several (join), and hands the file to the store (Kept).
func (s *Service) Finished(ctx context.Context, r Recording) error {
	if r.EndedAt == nil {
		return errors.New("replay: a finished recording with no end")
	}
	if err := s.Store.FinishRecording(ctx, r.ID, *r.EndedAt, r.DurationMS, r.Bytes); err != nil {
		return err
	}
	s.settle(ctx, r.ShowID, r.Path)
	return nil
}

// settle joins the show's recordings if it can, and keeps the file that
// was just finished (path) or the joined one. Failures are logged: the
// files stay listed as they are, the replay their first.
func (s *Service) settle(ctx context.Context, showID uuid.UUID, path string) {
	// Joining copies the files: it is not bound by the caller's deadline
	// for one database write.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), joinTimeout)
	defer cancel()
	joined, err := s.join(ctx, showID)
	if err != nil {
		s.log().Error("replay: joining a show's recordings; its replay is the first of them", "show", showID, "err", err)
	}
	if joined != "" {
		path = joined
	}
	if err := s.Files.Kept(path); err != nil {
		s.log().Error("replay: storing a recording", "show", showID, "path", path, "err", err)
	}
}

// joinTimeout bounds a join: copying hours of show takes seconds to minutes.
const joinTimeout = 30 * time.Minute

// join makes one file of the show's recordings once all are finished: a
// node restarted mid-show leaves the file it was writing (repaired on its
// start) and another from when the host came back; the replay is one file
// of the whole show, the restart a gap in it. Files of another media type
// than the first (the host came back with another codec) are left apart.
// It returns the joined file's path, "" when there was nothing to join.
func (s *Service) join(ctx context.Context, showID uuid.UUID) (string, error) {
	recs, err := s.Store.Recordings(ctx, showID)
	if err != nil {
		return "", err
	}
	var run []Recording
	for _, r := range recs {
		if r.EndedAt == nil {
			return "", nil // one is still being written (or waits for its repair)
		}
		if r.DurationMS <= 0 || r.MediaType != recs[0].MediaType {
			continue
		}
		run = append(run, r)
	}
	if len(run) < 2 {
		return "", nil
	}
	// Each file at its start less the first's; never before the end of the
	// one before it (two nodes' clocks may disagree by a little).
	paths := make([]string, len(run))
	offsets := make([]int64, len(run))
	ids := make([]uuid.UUID, len(run))
	end := *run[0].EndedAt
	for i, r := range run {
		paths[i], ids[i] = r.Path, r.ID
		if i > 0 {
			offsets[i] = max(r.StartedAt.Sub(run[0].StartedAt).Milliseconds(), offsets[i-1]+run[i-1].DurationMS+1)
		}
		if r.EndedAt.After(end) {
			end = *r.EndedAt
		}
	}
	id := uuid.New()
	out := showID.String() + "/" + id.String() + path.Ext(run[0].Path)
	d, size, err := s.Files.Join(out, paths, offsets)
	if s.Files.Incompatible(err) {
		s.log().Info("replay: recordings of a show left apart", "show", showID, "why", err)
		return "", nil
	}
	if err != nil {
		return "", err
	}
	joined := &Recording{ID: id, ShowID: showID, Path: out, MediaType: run[0].MediaType, StartedAt: run[0].StartedAt,
		EndedAt: &end, DurationMS: d.Milliseconds(), Bytes: size}
	if err := s.Store.JoinRecordings(ctx, joined, ids); err != nil {
		// Another node joined them first, or the replay was deleted.
		if derr := s.Files.Delete(out); derr != nil {
			s.log().Warn("replay: removing an unused join", "path", out, "err", derr)
		}
		if errors.Is(err, apperr.E(apperr.NotFound)) {
			return "", nil
		}
		return "", err
	}
	for _, p := range paths {
		if err := s.Files.Delete(p); err != nil {
			s.log().Warn("replay: removing a joined recording's part", "path", p, "err", err)
		}
	}
	s.log().Info("replay: joined a show's recordings into one", "show", showID, "files", len(run), "path", out, "duration", d)
	return out, nil
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
		// The show may have gone on and ended elsewhere meanwhile: then its
		// files are all finished now, and join.
		s.settle(ctx, r.ShowID, r.Path)
	}
	return n, nil
}

// leftovers is what a Files that stores files elsewhere (a bucket) may
// also do: list the files its spool still holds.
type leftovers interface {
	Leftovers() ([]string, error)
}

// StoreLeftovers hands to the store (Kept) the listed, finished recordings
// still in its spool: a node that died between a file's end and its
// storing, or a store that failed. Run it after RepairUnfinished at start.
// It returns how many it stored.
func (s *Service) StoreLeftovers(ctx context.Context) (int, error) {
	lf, ok := s.Files.(leftovers)
	if !ok {
		return 0, nil
	}
	paths, err := lf.Leftovers()
	if err != nil {
		return 0, err
	}
	n := 0
	listed := map[uuid.UUID]map[string]bool{}
	for _, p := range paths {
		show, err := uuid.Parse(path.Dir(p))
		if err != nil {
			continue
		}
		if listed[show] == nil {
			recs, err := s.Store.Recordings(ctx, show)
			if err != nil {
				return n, err
			}
			listed[show] = map[string]bool{}
			for _, r := range recs {
				listed[show][r.Path] = r.EndedAt != nil
			}
		}
		if !listed[show][p] {
			continue // not listed (a join's leftover) or not finished yet
		}
		if err := s.Files.Kept(p); err != nil {
			s.log().Error("replay: storing a recording left in the spool", "path", p, "err", err)
			continue
		}
		n++
	}
	return n, nil
}
