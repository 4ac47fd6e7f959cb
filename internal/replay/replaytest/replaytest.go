// Package replaytest is the contract every replay.Store driver meets, run by
// the SQLite and PostgreSQL packages alike.
package replaytest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// Fixture is a fresh store with two shows.
type Fixture struct {
	Store       replay.Store
	Show, Show2 uuid.UUID
}

// NewFixture creates a brand and two shows through st.
func NewFixture(t testing.TB, store replay.Store, st storetest.Stores) Fixture {
	t.Helper()
	f := Fixture{Store: store}
	f.Show, f.Show2 = storetest.TwoShows(t, st, "maison")
	return f
}

func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !errors.Is(err, apperr.E(code)) {
		t.Fatalf("got %v, want %s", err, code)
	}
}

// Run checks the contract; open returns a fresh fixture each time.
func Run(t *testing.T, open func(t *testing.T) Fixture) {
	ctx := context.Background()
	t.Run("Recordings", func(t *testing.T) {
		f := open(t)
		s := f.Store
		at := now()
		second := &replay.Recording{ID: uuid.New(), ShowID: f.Show, Path: f.Show.String() + "/b.webm", MediaType: "video/webm", StartedAt: at.Add(time.Minute)}
		first := &replay.Recording{ID: uuid.New(), ShowID: f.Show, Path: f.Show.String() + "/a.webm", MediaType: "video/webm", StartedAt: at}
		other := &replay.Recording{ID: uuid.New(), ShowID: f.Show2, Path: f.Show2.String() + "/c.webm", MediaType: "video/webm", StartedAt: at}
		for _, r := range []*replay.Recording{second, first, other} {
			must(t, s.AddRecording(ctx, r))
		}
		wantCode(t, s.AddRecording(ctx, &replay.Recording{ID: uuid.New(), ShowID: uuid.New(), Path: "x", MediaType: "video/webm", StartedAt: at}), apperr.NotFound)
		wantCode(t, s.AddRecording(ctx, &replay.Recording{ID: uuid.New(), ShowID: f.Show, Path: first.Path, MediaType: "video/webm", StartedAt: at}), apperr.Conflict)

		list, err := s.Recordings(ctx, f.Show)
		must(t, err)
		if len(list) != 2 || list[0].ID != first.ID || list[1].ID != second.ID || list[0].EndedAt != nil {
			t.Fatalf("recordings %+v, want first then second, unfinished", list)
		}
		if !list[0].StartedAt.Equal(at) || list[0].Path != first.Path || list[0].MediaType != "video/webm" || list[0].Role != replay.RoleHost {
			t.Errorf("read back %+v (a recording with no role is the host's)", list[0])
		}
		guest := &replay.Recording{ID: uuid.New(), ShowID: f.Show2, Path: f.Show2.String() + "/g.webm", MediaType: "video/webm",
			Role: replay.RoleGuest, StartedAt: at.Add(time.Second)}
		must(t, s.AddRecording(ctx, guest))
		wantCode(t, s.AddRecording(ctx, &replay.Recording{ID: uuid.New(), ShowID: f.Show2, Path: "y", MediaType: "video/webm",
			Role: "audience", StartedAt: at}), apperr.Invalid)
		if l, _ := s.Recordings(ctx, f.Show2); len(l) != 2 || l[1].ID != guest.ID || l[1].Role != replay.RoleGuest {
			t.Errorf("the guest's recording read back %+v", l)
		}
		un, err := s.UnfinishedRecordings(ctx)
		must(t, err)
		if len(un) != 4 {
			t.Errorf("%d unfinished, want 4", len(un))
		}

		end := at.Add(30 * time.Second)
		must(t, s.FinishRecording(ctx, first.ID, end, 30000, 123456))
		wantCode(t, s.FinishRecording(ctx, uuid.New(), end, 1, 1), apperr.NotFound)
		list, _ = s.Recordings(ctx, f.Show)
		if got := list[0]; got.EndedAt == nil || !got.EndedAt.Equal(end) || got.DurationMS != 30000 || got.Bytes != 123456 {
			t.Errorf("finished %+v", got)
		}
		un, _ = s.UnfinishedRecordings(ctx)
		if len(un) != 3 {
			t.Errorf("%d unfinished after one finished, want 3", len(un))
		}

		gone, err := s.DeleteRecordings(ctx, f.Show)
		must(t, err)
		if len(gone) != 2 {
			t.Errorf("deleted %d, want 2", len(gone))
		}
		list, _ = s.Recordings(ctx, f.Show)
		if len(list) != 0 {
			t.Errorf("%d left after delete", len(list))
		}
		if list, _ := s.Recordings(ctx, f.Show2); len(list) != 2 {
			t.Errorf("the other show's recordings went too")
		}
	})
	t.Run("UnjoinedShows", func(t *testing.T) {
		f := open(t)
		s := f.Store
		at := now()
		end := at.Add(time.Minute)
		rec := func(show uuid.UUID, role, media string, ended bool) *replay.Recording {
			r := &replay.Recording{ID: uuid.New(), ShowID: show, Path: show.String() + "/" + uuid.NewString(), MediaType: media,
				Role: role, StartedAt: at, DurationMS: 1000}
			if ended {
				r.EndedAt = &end
			}
			must(t, s.AddRecording(ctx, r))
			return r
		}
		unjoined := func() []uuid.UUID {
			t.Helper()
			ids, err := s.UnjoinedShows(ctx)
			must(t, err)
			return ids
		}
		// One finished file a role, or two of other media types: nothing to join.
		rec(f.Show, replay.RoleHost, "video/webm", true)
		rec(f.Show, replay.RoleGuest, "video/webm", true)
		rec(f.Show2, replay.RoleHost, "video/webm", true)
		rec(f.Show2, replay.RoleHost, "video/mp4", true)
		if ids := unjoined(); len(ids) != 0 {
			t.Fatalf("unjoined %v, want none", ids)
		}
		// A second guest file, still written: not yet.
		g := rec(f.Show, replay.RoleGuest, "video/webm", false)
		if ids := unjoined(); len(ids) != 0 {
			t.Fatalf("unjoined %v while a guest file is written", ids)
		}
		must(t, s.FinishRecording(ctx, g.ID, end, 1000, 1))
		if ids := unjoined(); len(ids) != 1 || ids[0] != f.Show {
			t.Fatalf("unjoined %v, want %s (two guest files)", ids, f.Show)
		}
	})
	t.Run("JoinRecordings", func(t *testing.T) {
		f := open(t)
		s := f.Store
		at := now()
		end := at.Add(time.Minute)
		a := &replay.Recording{ID: uuid.New(), ShowID: f.Show, Path: f.Show.String() + "/a.webm", MediaType: "video/webm", StartedAt: at, EndedAt: &end, DurationMS: 20000, Bytes: 10}
		b := &replay.Recording{ID: uuid.New(), ShowID: f.Show, Path: f.Show.String() + "/b.webm", MediaType: "video/webm", StartedAt: at.Add(30 * time.Second), EndedAt: &end, DurationMS: 30000, Bytes: 20}
		other := &replay.Recording{ID: uuid.New(), ShowID: f.Show2, Path: f.Show2.String() + "/c.webm", MediaType: "video/webm", StartedAt: at}
		for _, r := range []*replay.Recording{a, b, other} {
			must(t, s.AddRecording(ctx, r))
		}
		joined := &replay.Recording{ID: uuid.New(), ShowID: f.Show, Path: f.Show.String() + "/j.webm", MediaType: "video/webm", StartedAt: at, EndedAt: &end, DurationMS: 60000, Bytes: 30}
		// A part another show's, or gone: nothing changes.
		wantCode(t, s.JoinRecordings(ctx, joined, []uuid.UUID{a.ID, other.ID}), apperr.NotFound)
		wantCode(t, s.JoinRecordings(ctx, joined, []uuid.UUID{a.ID, uuid.New()}), apperr.NotFound)
		if list, _ := s.Recordings(ctx, f.Show); len(list) != 2 {
			t.Fatalf("a refused join changed the list: %+v", list)
		}
		must(t, s.JoinRecordings(ctx, joined, []uuid.UUID{a.ID, b.ID}))
		list, err := s.Recordings(ctx, f.Show)
		must(t, err)
		if len(list) != 1 || list[0].ID != joined.ID || list[0].DurationMS != 60000 || list[0].Path != joined.Path || !list[0].StartedAt.Equal(at) {
			t.Fatalf("after the join %+v", list)
		}
		// Joining again (another node was first) is NotFound.
		wantCode(t, s.JoinRecordings(ctx, &replay.Recording{ID: uuid.New(), ShowID: f.Show, Path: "x", MediaType: "video/webm", StartedAt: at}, []uuid.UUID{a.ID, b.ID}), apperr.NotFound)
		if list, _ := s.Recordings(ctx, f.Show2); len(list) != 1 {
			t.Errorf("the other show's recording changed")
		}
	})
	t.Run("Marks", func(t *testing.T) {
		f := open(t)
		s := f.Store
		at := now()
		offer := uuid.New()
		must(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show, At: at.Add(2 * time.Second), Type: replay.MarkUnpin}))
		must(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show, At: at, Type: replay.MarkPin, OfferID: offer}))
		must(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show, At: at.Add(time.Second), Type: replay.MarkDrop, OfferID: offer}))
		must(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show2, At: at, Type: replay.MarkPin, OfferID: offer}))
		must(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show, At: at.Add(3 * time.Second), Type: replay.MarkGuestJoined, Layout: "side-by-side"}))
		must(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show, At: at.Add(4 * time.Second), Type: replay.MarkLayout, Layout: "pip"}))
		must(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show, At: at.Add(5 * time.Second), Type: replay.MarkGuestLeft, Layout: "pip"}))
		wantCode(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show, At: at, Type: replay.MarkLayout, Layout: "mosaic"}), apperr.Invalid)
		wantCode(t, s.AddMark(ctx, replay.Mark{ShowID: uuid.New(), At: at, Type: replay.MarkPin, OfferID: offer}), apperr.NotFound)
		wantCode(t, s.AddMark(ctx, replay.Mark{ShowID: f.Show, At: at, Type: "dance"}), apperr.Invalid)
		ms, err := s.Marks(ctx, f.Show)
		must(t, err)
		want := []replay.Mark{
			{ShowID: f.Show, At: at, Type: replay.MarkPin, OfferID: offer},
			{ShowID: f.Show, At: at.Add(time.Second), Type: replay.MarkDrop, OfferID: offer},
			{ShowID: f.Show, At: at.Add(2 * time.Second), Type: replay.MarkUnpin},
			{ShowID: f.Show, At: at.Add(3 * time.Second), Type: replay.MarkGuestJoined, Layout: "side-by-side"},
			{ShowID: f.Show, At: at.Add(4 * time.Second), Type: replay.MarkLayout, Layout: "pip"},
			{ShowID: f.Show, At: at.Add(5 * time.Second), Type: replay.MarkGuestLeft, Layout: "pip"},
		}
		if len(ms) != len(want) {
			t.Fatalf("marks %+v", ms)
		}
		for i := range want {
			if ms[i].Type != want[i].Type || ms[i].OfferID != want[i].OfferID || !ms[i].At.Equal(want[i].At) || ms[i].ShowID != f.Show ||
				ms[i].Layout != want[i].Layout {
				t.Errorf("mark %d: %+v, want %+v", i, ms[i], want[i])
			}
		}
	})
	t.Run("Settings", func(t *testing.T) {
		f := open(t)
		s := f.Store
		got, err := s.ReplaySettings(ctx, f.Show)
		must(t, err)
		if !got.Record || got.SalesUntil != nil {
			t.Errorf("defaults %+v, want recorded, no replay sales", got)
		}
		until := now().Add(48 * time.Hour)
		must(t, s.SetReplaySettings(ctx, replay.Settings{ShowID: f.Show, Record: false, SalesUntil: &until}))
		got, _ = s.ReplaySettings(ctx, f.Show)
		if got.Record || got.SalesUntil == nil || !got.SalesUntil.Equal(until) {
			t.Errorf("settings %+v", got)
		}
		must(t, s.SetReplaySettings(ctx, replay.Settings{ShowID: f.Show, Record: true}))
		got, _ = s.ReplaySettings(ctx, f.Show)
		if !got.Record || got.SalesUntil != nil {
			t.Errorf("changed settings %+v", got)
		}
		if o, _ := s.ReplaySettings(ctx, f.Show2); !o.Record {
			t.Errorf("the other show's settings changed")
		}
		wantCode(t, s.SetReplaySettings(ctx, replay.Settings{ShowID: uuid.New(), Record: true}), apperr.NotFound)
	})
}
