package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"slices"
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
	// Join writes the finished files parts into one file out, each placed
	// offsetsMS after the first one's start (record.JoinFiles); the parts
	// stay. It holds out's lock from before due to after list, so that two
	// processes never join the same parts at once: due tells whether the
	// join is still to be made (false: leave out as it is), list lists the
	// joined file (its length and size) in the place of its parts; a list
	// that fails removes out. An out left by a join that died is written
	// again. Busy reports its error when another process holds out's lock.
	// Incompatible reports its error for files that cannot be one (another
	// container or codec).
	Join(out string, parts []string, offsetsMS []int64, due func() (bool, error), list func(time.Duration, int64) error) error
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
	// Guest is the co-host's recording, played beside the host's as the
	// timeline's stage marks lay them out; nil when no guest was recorded.
	Guest *GuestMedia `json:"guest"`
}

// GuestMedia is the guest's recording in a replay.
type GuestMedia struct {
	URL        string `json:"url"`
	MediaType  string `json:"media_type"`
	DurationMS int64  `json:"duration_ms"`
	// OffsetMS is where the guest file's 0 falls on the replay (the host
	// file's) timeline: the guest file at t plays beside the host's at
	// t+OffsetMS. Negative when the guest went on air before the host.
	OffsetMS int64 `json:"offset_ms"`
}

// Entry is a moment on a replay's timeline, at its offset: a pin or drop
// (OfferID), or a stage mark (Layout).
type Entry struct {
	AtMS    int64      `json:"at_ms"`
	Type    string     `json:"type"`
	OfferID *uuid.UUID `json:"offer_id"`
	// Layout, for the stage's marks (layout, guest_joined, guest_left): the
	// layout from then on.
	Layout string `json:"layout,omitempty"`
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

// recording picks the show's replay of a role: its first finished
// recording (a node restarted mid-show leaves more; the first holds the
// show's start). NotFound when there is none.
func (s *Service) recording(ctx context.Context, sh *show.Show, role string) (*Recording, error) {
	if sh.State != show.Ended {
		return nil, apperr.Errorf(apperr.NotFound, "this show has no replay: it is %s", sh.State)
	}
	recs, err := s.Store.Recordings(ctx, sh.ID)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		if roleOf(recs[i]) == role && recs[i].EndedAt != nil && recs[i].DurationMS > 0 {
			return &recs[i], nil
		}
	}
	if role == RoleGuest {
		return nil, apperr.Errorf(apperr.NotFound, "this show's replay has no guest")
	}
	return nil, apperr.Errorf(apperr.NotFound, "this show has no replay")
}

// roleOf is a recording's role: "" is the host's.
func roleOf(r Recording) string {
	if r.Role == "" {
		return RoleHost
	}
	return r.Role
}

// Replay returns the show's replay for u.
func (s *Service) Replay(ctx context.Context, u *account.User, showID uuid.UUID) (*View, error) {
	sh, err := s.visible(ctx, u, showID)
	if err != nil {
		return nil, err
	}
	rec, err := s.recording(ctx, sh, RoleHost)
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
	base := "/api/shows/" + showID.String() + "/replay"
	v := &View{URL: base + "/media", MediaType: rec.MediaType, DurationMS: rec.DurationMS,
		StartedAt: rec.StartedAt, Timeline: Timeline(marks, rec.StartedAt, rec.DurationMS), SalesUntil: set.SalesUntil}
	v.OnSale = set.SalesUntil != nil && s.clock().Before(*set.SalesUntil)
	g, err := s.recording(ctx, sh, RoleGuest)
	switch {
	case err == nil:
		v.Guest = &GuestMedia{URL: base + "/guest/media", MediaType: g.MediaType, DurationMS: g.DurationMS,
			OffsetMS: g.StartedAt.Sub(rec.StartedAt).Milliseconds()}
	case !errors.Is(err, apperr.E(apperr.NotFound)):
		return nil, err
	}
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
		e := Entry{AtMS: at, Type: m.Type, Layout: m.Layout}
		if m.OfferID != uuid.Nil {
			id := m.OfferID
			e.OfferID = &id
		}
		out = append(out, e)
	}
	return out
}

// Media opens the show's replay file of a role (RoleHost, or RoleGuest for
// the co-host's) for u; the caller closes it.
func (s *Service) Media(ctx context.Context, u *account.User, showID uuid.UUID, role string) (io.ReadSeekCloser, *Recording, time.Time, error) {
	sh, err := s.visible(ctx, u, showID)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	rec, err := s.recording(ctx, sh, role)
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
// then makes one file of the show's recordings of each role if a node's
// restart left several (join), and hands the files to the store (Kept).
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

// roles are the recordings' roles, each joined apart.
var roles = []string{RoleHost, RoleGuest}

// settle joins the show's recordings of each role if it can, and keeps the
// file that was just finished (path), or the joined one that holds it.
// Failures are logged: the files stay listed as they are, the replay
// their first.
func (s *Service) settle(ctx context.Context, showID uuid.UUID, path string) {
	// Joining copies the files: it is not bound by the caller's deadline
	// for one database write.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), joinTimeout)
	defer cancel()
	keep := []string{path}
	for _, role := range roles {
		joined, parts, err := s.join(ctx, showID, role)
		switch {
		case errors.Is(err, errJoinBusy):
			s.log().Info("replay: another process is joining a show's recordings", "show", showID, "role", role)
		case err != nil:
			s.log().Error("replay: joining a show's recordings; its replay is the first of them", "show", showID, "role", role, "err", err)
		case joined != "":
			if slices.Contains(parts, path) {
				keep[0] = joined
			} else {
				keep = append(keep, joined)
			}
		}
	}
	for _, p := range keep {
		if err := s.Files.Kept(p); err != nil {
			s.log().Error("replay: storing a recording", "show", showID, "path", p, "err", err)
		}
	}
}

// joinTimeout bounds a join: copying hours of show takes seconds to minutes.
const joinTimeout = 30 * time.Minute

// errJoinBusy: another process is joining the same recordings now.
var errJoinBusy = errors.New("replay: the recordings are being joined elsewhere")

// joinSpace names joined files (a random constant): the file made of given
// parts has one name, so a join that died half-way is done again in the
// same file, and two processes joining the same parts meet on its lock.
var joinSpace = uuid.MustParse("b3a51c0e-7d42-4f8e-9a16-2e0c5d7f8b94")

// joinID is the id of the file joined from parts (in their order).
func joinID(parts []uuid.UUID) uuid.UUID {
	b := make([]byte, 0, 16*len(parts))
	for _, id := range parts {
		b = append(b, id[:]...)
	}
	return uuid.NewSHA1(joinSpace, b)
}

// join makes one file of the show's recordings of a role once all are
// finished: a node restarted mid-show leaves the file it was writing
// (repaired on its start) and another from when the host (or guest) came
// back; the replay is one file of the whole show, the restart a gap in it.
// Files of another media type than the first (the host came back with
// another codec) are left apart. It returns the joined file's path and
// the paths of its parts, "" when there was nothing to join; errJoinBusy
// when another process is joining them. Joining again what a dead process
// began is safe: the joined file has one name (joinID), written again.
func (s *Service) join(ctx context.Context, showID uuid.UUID, role string) (string, []string, error) {
	all, err := s.Store.Recordings(ctx, showID)
	if err != nil {
		return "", nil, err
	}
	var recs []Recording
	for _, r := range all {
		if roleOf(r) == role {
			recs = append(recs, r)
		}
	}
	var run []Recording
	for _, r := range recs {
		if r.EndedAt == nil {
			return "", nil, nil // one is still being written (or waits for its repair)
		}
		if r.DurationMS <= 0 || r.MediaType != recs[0].MediaType {
			continue
		}
		run = append(run, r)
	}
	if len(run) < 2 {
		return "", nil, nil
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
	id := joinID(ids)
	out := showID.String() + "/" + id.String() + path.Ext(run[0].Path)
	joined := &Recording{ID: id, ShowID: showID, Path: out, MediaType: run[0].MediaType, Role: role, StartedAt: run[0].StartedAt,
		EndedAt: &end}
	// Still to do once the file's lock is held: another process may have
	// joined these parts (or the replay been deleted) since they were read.
	due := func() (bool, error) {
		now, err := s.Store.Recordings(ctx, showID)
		if err != nil {
			return false, err
		}
		for _, id := range ids {
			if !slices.ContainsFunc(now, func(r Recording) bool { return r.ID == id }) {
				return false, nil
			}
		}
		return true, nil
	}
	listed := false
	list := func(d time.Duration, size int64) error {
		joined.DurationMS, joined.Bytes = d.Milliseconds(), size
		if err := s.Store.JoinRecordings(ctx, joined, ids); err != nil {
			return err
		}
		listed = true
		return nil
	}
	err = s.Files.Join(out, paths, offsets, due, list)
	switch {
	case s.Files.Incompatible(err):
		s.log().Info("replay: recordings of a show left apart", "show", showID, "role", role, "why", err)
		return "", nil, nil
	case s.Files.Busy(err):
		return "", nil, errJoinBusy
	case errors.Is(err, apperr.E(apperr.NotFound)) && !listed:
		return "", nil, nil // the replay was deleted meanwhile
	case err != nil:
		return "", nil, err
	case !listed:
		return "", nil, nil // joined by another process
	}
	for _, p := range paths {
		if err := s.Files.Delete(p); err != nil {
			s.log().Warn("replay: removing a joined recording's part", "path", p, "err", err)
		}
	}
	s.log().Info("replay: joined a show's recordings into one", "show", showID, "role", role, "files", len(run), "path", out,
		"duration", time.Duration(joined.DurationMS)*time.Millisecond)
	return out, paths, nil
}

// JoinUnjoined joins the recordings of every show that a join should have
// made one file of but did not: the process joining them died. Run it at
// start, after RepairUnfinished (whose repairs join what they can). It is
// safe to run again and on several nodes at once: a join done or under way
// elsewhere is left to it. It returns how many joined files it made.
func (s *Service) JoinUnjoined(ctx context.Context) (int, error) {
	shows, err := s.Store.UnjoinedShows(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, showID := range shows {
		for _, role := range roles {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			out, _, err := s.join(ctx, showID, role)
			if errors.Is(err, errJoinBusy) {
				continue
			}
			if err != nil {
				s.log().Error("replay: joining a show's recordings left unjoined", "show", showID, "role", role, "err", err)
				continue
			}
			if out == "" {
				continue
			}
			n++
			if err := s.Files.Kept(out); err != nil {
				s.log().Error("replay: storing a recording", "show", showID, "path", out, "err", err)
			}
		}
	}
	return n, nil
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
