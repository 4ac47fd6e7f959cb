package show

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCalendarDays(t *testing.T) {
	sh := zone(t, "Asia/Shanghai")
	paris := zone(t, "Europe/Paris")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	for _, c := range []struct {
		name       string
		start, end time.Time
		loc        *time.Location
		want       string
	}{
		{"one afternoon", at(sh, 2030, 5, 1, 14, 0), at(sh, 2030, 5, 1, 18, 0), sh, "2030-05-01"},
		// 23:00 to 01:00 in Shanghai is 15:00 to 17:00 UTC on one UTC day.
		{"across local midnight", at(sh, 2030, 5, 1, 23, 0), at(sh, 2030, 5, 2, 1, 0), sh, "2030-05-01,2030-05-02"},
		{"same times in UTC", at(sh, 2030, 5, 1, 23, 0), at(sh, 2030, 5, 2, 1, 0), time.UTC, "2030-05-01"},
		{"nil zone is UTC", at(time.UTC, 2030, 5, 1, 23, 0), at(time.UTC, 2030, 5, 2, 1, 0), nil, "2030-05-01,2030-05-02"},
		{"ends exactly at midnight", at(sh, 2030, 5, 1, 0, 0), at(sh, 2030, 5, 2, 0, 0), sh, "2030-05-01"},
		{"one minute past midnight", at(sh, 2030, 5, 1, 0, 0), at(sh, 2030, 5, 2, 0, 1), sh, "2030-05-01,2030-05-02"},
		{"new year", at(sh, 2030, 12, 31, 20, 0), at(sh, 2031, 1, 1, 4, 0), sh, "2030-12-31,2031-01-01"},
		// The night Paris springs forward is 23 hours long: still one day each.
		{"daylight saving", at(paris, 2030, 3, 30, 12, 0), at(paris, 2030, 3, 31, 12, 0), paris, "2030-03-30,2030-03-31"},
		{"empty", at(sh, 2030, 5, 1, 12, 0), at(sh, 2030, 5, 1, 12, 0), sh, ""},
	} {
		got := strings.Join(CalendarDays(c.start, c.end, c.loc), ",")
		if got != c.want {
			t.Errorf("%s: days = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCheckEdit(t *testing.T) {
	base := &Show{BrandID: uuid.New(), State: Live, Kind: KindShow, HostIDs: []uuid.UUID{uuid.New(), uuid.New()},
		StartsAt: time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC), EndsAt: time.Date(2030, 1, 1, 11, 0, 0, 0, time.UTC)}
	ok := *base
	ok.Title = "new words"
	ok.EndsAt = ok.EndsAt.Add(time.Hour)
	ok.HostIDs = []uuid.UUID{base.HostIDs[1], base.HostIDs[0]} // order is no change
	if err := CheckEdit(base, &ok); err != nil {
		t.Fatalf("words and end of a live show: %v", err)
	}
	ended := ok
	ended.State = Ended
	if err := CheckEdit(base, &ended); err != nil {
		t.Fatalf("live to ended: %v", err)
	}
	for name, edit := range map[string]func(*Show){
		"start": func(s *Show) { s.StartsAt = s.StartsAt.Add(-time.Minute) },
		"kind":  func(s *Show) { s.Kind = KindPavilionDay },
		"hosts": func(s *Show) { s.HostIDs = s.HostIDs[:1] },
		"back":  func(s *Show) { s.State = Scheduled },
		"brand": func(s *Show) { s.BrandID = uuid.New() },
	} {
		s := *base
		edit(&s)
		if err := CheckEdit(base, &s); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("%s of a live show: %v", name, err)
		}
	}
	for _, c := range []struct {
		from, to State
		ok       bool
	}{
		{Scheduled, Live, true}, {Scheduled, Ended, true}, {Scheduled, Cancelled, true}, {Live, Ended, true},
		{Live, Cancelled, false}, {Live, Scheduled, false}, {Ended, Live, false}, {Cancelled, Scheduled, false},
		{Live, Live, false}, {Ended, Ended, false},
	} {
		err := CheckTransition(c.from, c.to)
		if (err == nil) != c.ok || (err != nil && apperr.CodeOf(err) != apperr.Conflict) {
			t.Errorf("%s → %s: %v", c.from, c.to, err)
		}
	}
}

// fakeStore records what Service asks of a Store; the rules themselves are
// tested against the real drivers in internal/testrig/storetest.
type fakeStore struct {
	Store
	shows map[uuid.UUID]*Show
	keys  map[uuid.UUID]string
	subs  map[uuid.UUID][]uuid.UUID
}

func (f *fakeStore) CreateShow(_ context.Context, s *Show) error {
	c := *s
	f.shows[s.ID] = &c
	return nil
}

func (f *fakeStore) Transition(_ context.Context, id uuid.UUID, to State, at time.Time) (*Show, error) {
	s, ok := f.shows[id]
	if !ok {
		return nil, apperr.Errorf(apperr.NotFound, "show not found")
	}
	if err := CheckTransition(s.State, to); err != nil {
		return nil, err
	}
	s.Move(to, at)
	c := *s
	return &c, nil
}

type recorder struct {
	states []State
	edits  []string
}

func (r *recorder) ShowStateChanged(_ context.Context, s *Show) { r.states = append(r.states, s.State) }
func (r *recorder) ShowChanged(_ context.Context, s *Show)      { r.edits = append(r.edits, s.Title) }

func (f *fakeStore) UpdateShow(_ context.Context, s *Show) error {
	old, ok := f.shows[s.ID]
	if !ok {
		return apperr.Errorf(apperr.NotFound, "show not found")
	}
	if err := CheckEdit(old, s); err != nil {
		return err
	}
	c := *s
	f.shows[s.ID] = &c
	return nil
}

type holds struct{ shows []uuid.UUID }

func (h *holds) ReleaseShow(_ context.Context, id uuid.UUID) (int, error) {
	h.shows = append(h.shows, id)
	return 1, nil
}

func TestService(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{shows: map[uuid.UUID]*Show{}}
	rec, hs := &recorder{}, &holds{}
	svc := &Service{Store: st, Zone: zone(t, "Asia/Shanghai"), Notifier: rec, Holds: hs}

	day := &Show{BrandID: uuid.New(), Title: " Night ", Kind: KindPavilionDay,
		StartsAt: time.Date(2030, 5, 1, 15, 0, 0, 0, time.UTC), EndsAt: time.Date(2030, 5, 1, 17, 0, 0, 0, time.UTC)}
	if err := svc.Schedule(ctx, day); err != nil {
		t.Fatal(err)
	}
	stored := st.shows[day.ID]
	if stored.State != Scheduled || stored.Title != "Night" || strings.Join(stored.Days, ",") != "2030-05-01,2030-05-02" || stored.HostIDs == nil {
		t.Fatalf("scheduled = %+v", stored)
	}
	bad := &Show{BrandID: uuid.New(), Title: "Backwards", StartsAt: day.EndsAt, EndsAt: day.StartsAt}
	if err := svc.Schedule(ctx, bad); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("end before start: %v", err)
	}
	if _, ok := st.shows[bad.ID]; ok {
		t.Fatal("an invalid show was stored")
	}

	// Every edit reaches the Notifier (the live room on every node); a
	// refused one does not.
	edit := *st.shows[day.ID]
	edit.Title = "Night (new hosts)"
	edit.HostIDs = []uuid.UUID{uuid.New()}
	if err := svc.Update(ctx, &edit); err != nil {
		t.Fatal(err)
	}
	edit.EndsAt = edit.StartsAt
	if err := svc.Update(ctx, &edit); err == nil {
		t.Fatal("an edit ending at its start was stored")
	}
	if len(rec.edits) != 1 || rec.edits[0] != "Night (new hosts)" {
		t.Fatalf("notifier heard edits %v", rec.edits)
	}

	if sh, err := svc.GoLive(ctx, day.ID); err != nil || sh.State != Live {
		t.Fatalf("GoLive = %v, %v", sh, err)
	}
	if _, err := svc.GoLive(ctx, day.ID); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("GoLive twice: %v", err)
	}
	if _, err := svc.Cancel(ctx, day.ID); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("cancelling a live show: %v", err)
	}
	if sh, err := svc.End(ctx, day.ID); err != nil || sh.State != Ended {
		t.Fatalf("End = %v, %v", sh, err)
	}
	other := &Show{BrandID: uuid.New(), Title: "Other", StartsAt: day.StartsAt, EndsAt: day.EndsAt}
	if err := svc.Schedule(ctx, other); err != nil {
		t.Fatal(err)
	}
	if len(st.shows[other.ID].Days) != 0 {
		t.Fatalf("an ordinary show holds days %v", st.shows[other.ID].Days)
	}
	if sh, err := svc.Cancel(ctx, other.ID); err != nil || sh.State != Cancelled {
		t.Fatalf("Cancel = %v, %v", sh, err)
	}
	if got := rec.states; len(got) != 3 || got[0] != Live || got[1] != Ended || got[2] != Cancelled {
		t.Fatalf("notifier heard %v", got)
	}
	if len(hs.shows) != 1 || hs.shows[0] != other.ID {
		t.Fatalf("holds released for %v", hs.shows)
	}
}

// lastShow keeps the last show a Notifier heard of.
type lastShow struct{ sh *Show }

func (l *lastShow) ShowStateChanged(_ context.Context, s *Show) { c := *s; l.sh = &c }
func (l *lastShow) ShowChanged(context.Context, *Show)          {}

// TestRealTimes: going live stamps when the show really went live, on the
// service's clock, and a publisher coming back (GoLive again) moves nothing;
// End stamps when it really ended; the live room hears both with the show.
// A show ended without going live has an end and no start.
func TestRealTimes(t *testing.T) {
	ctx := context.Background()
	st := &fakeStore{shows: map[uuid.UUID]*Show{}}
	heard := &lastShow{}
	clock := time.Date(2030, 5, 1, 20, 3, 0, 0, time.UTC)
	svc := &Service{Store: st, Notifier: heard, Now: func() time.Time { return clock }}
	sh := &Show{BrandID: uuid.New(), Title: "Evening", StartsAt: clock.Add(-3 * time.Minute), EndsAt: clock.Add(time.Hour)}
	if err := svc.Schedule(ctx, sh); err != nil {
		t.Fatal(err)
	}
	if sh.WentLiveAt != nil || sh.EndedAt != nil {
		t.Fatalf("a scheduled show went live at %v and ended at %v", sh.WentLiveAt, sh.EndedAt)
	}
	wentLive := clock
	live, err := svc.GoLive(ctx, sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if live.WentLiveAt == nil || !live.WentLiveAt.Equal(wentLive) || live.EndedAt != nil {
		t.Fatalf("live: went live at %v, ended at %v", live.WentLiveAt, live.EndedAt)
	}
	if heard.sh == nil || heard.sh.WentLiveAt == nil || !heard.sh.WentLiveAt.Equal(wentLive) {
		t.Fatalf("the live room heard %+v", heard.sh)
	}
	clock = clock.Add(5 * time.Minute) // the publisher drops and comes back
	if _, err := svc.GoLive(ctx, sh.ID); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("GoLive again: %v", err)
	}
	if got := st.shows[sh.ID].WentLiveAt; !got.Equal(wentLive) {
		t.Fatalf("after the publisher came back the show went live at %v, want %v", got, wentLive)
	}
	clock = clock.Add(40 * time.Minute)
	ended, err := svc.End(ctx, sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !ended.WentLiveAt.Equal(wentLive) || ended.EndedAt == nil || !ended.EndedAt.Equal(clock) {
		t.Fatalf("ended: went live at %v, ended at %v; want %v and %v", ended.WentLiveAt, ended.EndedAt, wentLive, clock)
	}
	if heard.sh.EndedAt == nil || !heard.sh.EndedAt.Equal(clock) {
		t.Fatalf("the live room heard the end as %+v", heard.sh)
	}
	if start, end := ended.Took(); !start.Equal(wentLive) || !end.Equal(clock) {
		t.Fatalf("the ended show took place %v–%v, want %v–%v", start, end, wentLive, clock)
	}

	unaired := &Show{BrandID: sh.BrandID, Title: "Unaired", StartsAt: clock, EndsAt: clock.Add(time.Hour)}
	if err := svc.Schedule(ctx, unaired); err != nil {
		t.Fatal(err)
	}
	got, err := svc.End(ctx, unaired.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.WentLiveAt != nil || got.EndedAt == nil || !got.EndedAt.Equal(clock) {
		t.Fatalf("ended unaired: went live at %v, ended at %v", got.WentLiveAt, got.EndedAt)
	}
	if start, end := got.Took(); !start.Equal(unaired.StartsAt) || !end.Equal(unaired.EndsAt) {
		t.Fatalf("a show that never aired took place %v–%v, not its schedule", start, end)
	}
}
