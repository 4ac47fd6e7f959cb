package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

// runSchedule is the contract of the scheduling rules (show.Store), the
// notify-me tables, offers across brands and releasing a show's holds.
func runSchedule(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("PavilionDay", func(t *testing.T) { testPavilionDay(t, open(t)) })
	t.Run("PavilionDayRace", func(t *testing.T) { testPavilionDayRace(t, open(t)) })
	t.Run("HostOverlap", func(t *testing.T) { testHostOverlap(t, open(t)) })
	t.Run("HostRace", func(t *testing.T) { testHostRace(t, open(t)) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, open(t)) })
	t.Run("RealTimes", func(t *testing.T) { testRealTimes(t, open(t)) })
	t.Run("NotifyMe", func(t *testing.T) { testNotifyMe(t, open(t)) })
	t.Run("Discovery", func(t *testing.T) { testDiscovery(t, open(t)) })
	t.Run("OfferOfAnotherBrand", func(t *testing.T) { testOfferBrand(t, newFixture(t, open(t))) })
	t.Run("ReleaseShow", func(t *testing.T) { testReleaseShow(t, newFixture(t, open(t))) })
	t.Run("Pins", func(t *testing.T) { testPins(t, newFixture(t, open(t))) })
}

// shanghai is the platform zone of these tests: its midnight is 16:00 UTC,
// so a booking across UTC and local midnight differ.
func shanghai(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	must(t, err)
	return loc
}

// pavilionDay is a Pavilion Day of brand b from start for d, holding the
// calendar days it touches in loc.
func pavilionDay(b uuid.UUID, title string, start time.Time, d time.Duration, loc *time.Location) *show.Show {
	s := newShow(b, title, start)
	s.Kind = show.KindPavilionDay
	s.EndsAt = start.Add(d)
	s.Days = show.CalendarDays(s.StartsAt, s.EndsAt, loc)
	return s
}

func wantMessage(t *testing.T, err error, code apperr.Code, parts ...string) {
	t.Helper()
	wantCode(t, err, code)
	msg := apperr.MessageOf(err)
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Fatalf("message %q does not name %q", msg, p)
		}
	}
}

func wantNoShow(t *testing.T, s show.Store, id uuid.UUID) {
	t.Helper()
	_, err := s.ShowByID(context.Background(), id)
	wantCode(t, err, apperr.NotFound)
}

func testPavilionDay(t *testing.T, st Stores) {
	ctx := context.Background()
	loc := shanghai(t)
	a, b := newBrand("maison-a"), newBrand("maison-b")
	must(t, st.Brands.CreateBrand(ctx, a))
	must(t, st.Brands.CreateBrand(ctx, b))
	// 2030-05-01 20:00 to 02:00 in Shanghai: across local midnight, so it
	// holds the 1st and the 2nd there (in UTC it is all the 1st).
	start := time.Date(2030, 5, 1, 20, 0, 0, 0, loc).UTC()
	held := pavilionDay(a.ID, "Night of A", start, 6*time.Hour, loc)
	if strings.Join(held.Days, ",") != "2030-05-01,2030-05-02" {
		t.Fatalf("days = %v", held.Days)
	}
	must(t, st.Shows.CreateShow(ctx, held))
	got, err := st.Shows.ShowByID(ctx, held.ID)
	must(t, err)
	if strings.Join(got.Days, ",") != "2030-05-01,2030-05-02" {
		t.Fatalf("stored days = %v", got.Days)
	}

	// The morning of the 2nd, local time: taken by A, whatever the hour.
	morning := pavilionDay(b.ID, "Morning of B", time.Date(2030, 5, 2, 9, 0, 0, 0, loc).UTC(), 3*time.Hour, loc)
	wantMessage(t, st.Shows.CreateShow(ctx, morning), apperr.Conflict, "2030-05-02", a.Name)
	wantNoShow(t, st.Shows, morning.ID)
	// A refused multi-day booking holds none of its days: the 3rd stays free.
	two := pavilionDay(b.ID, "Two days of B", time.Date(2030, 5, 2, 12, 0, 0, 0, loc).UTC(), 20*time.Hour, loc)
	wantMessage(t, st.Shows.CreateShow(ctx, two), apperr.Conflict, a.Name)
	third := pavilionDay(b.ID, "Third of B", time.Date(2030, 5, 3, 0, 0, 0, 0, loc).UTC(), 24*time.Hour, loc)
	must(t, st.Shows.CreateShow(ctx, third))
	if len(third.Days) != 1 || third.Days[0] != "2030-05-03" {
		t.Fatalf("a day ending at midnight holds %v", third.Days)
	}
	// The same brand cannot hold a day twice either.
	wantMessage(t, st.Shows.CreateShow(ctx, pavilionDay(a.ID, "Again", start, time.Hour, loc)), apperr.Conflict, a.Name)
	// Ordinary shows are not Pavilion Days: any number per day.
	must(t, st.Shows.CreateShow(ctx, newShow(b.ID, "Ordinary", time.Date(2030, 5, 2, 9, 0, 0, 0, loc).UTC())))
	// A Pavilion Day must say which days it holds.
	bare := pavilionDay(b.ID, "Bare", start.AddDate(0, 1, 0), time.Hour, loc)
	bare.Days = nil
	wantCode(t, st.Shows.CreateShow(ctx, bare), apperr.Invalid)

	// Moving a Pavilion Day onto a held day is refused and changes nothing.
	third.StartsAt, third.EndsAt = morning.StartsAt, morning.EndsAt
	third.Days = show.CalendarDays(third.StartsAt, third.EndsAt, loc)
	wantMessage(t, st.Shows.UpdateShow(ctx, third), apperr.Conflict, a.Name)
	got, err = st.Shows.ShowByID(ctx, third.ID)
	must(t, err)
	if strings.Join(got.Days, ",") != "2030-05-03" || got.StartsAt.Equal(morning.StartsAt) {
		t.Fatalf("after a refused move: %+v", got)
	}

	// Cancelling frees the days; B then takes the 2nd.
	if _, err := st.Shows.Transition(ctx, held.ID, show.Cancelled, now()); err != nil {
		t.Fatal(err)
	}
	got, err = st.Shows.ShowByID(ctx, held.ID)
	must(t, err)
	if got.State != show.Cancelled || len(got.Days) != 0 {
		t.Fatalf("cancelled: %+v", got)
	}
	morning.ID = uuid.New()
	must(t, st.Shows.CreateShow(ctx, morning))

	// An ended Pavilion Day keeps its day: it happened.
	if _, err := st.Shows.Transition(ctx, morning.ID, show.Ended, now()); err != nil {
		t.Fatal(err)
	}
	wantMessage(t, st.Shows.CreateShow(ctx, pavilionDay(a.ID, "Late", morning.StartsAt, time.Hour, loc)), apperr.Conflict, b.Name)
}

// testPavilionDayRace: brands booking the same day at the same instant;
// exactly one wins and the others hear who.
func testPavilionDayRace(t *testing.T, st Stores) {
	ctx := context.Background()
	loc := shanghai(t)
	const n = 8
	brands := make([]*brand.Brand, n)
	for i := range brands {
		brands[i] = newBrand(fmt.Sprintf("racer-%d", i))
		must(t, st.Brands.CreateBrand(ctx, brands[i]))
	}
	start := time.Date(2031, 1, 1, 10, 0, 0, 0, loc).UTC()
	var (
		wg      sync.WaitGroup
		gate    = make(chan struct{})
		results = make([]error, n)
		shows   = make([]*show.Show, n)
	)
	for i := range n {
		// Half of them also claim the day before, so multi-day bookings race too.
		d := 8 * time.Hour
		if i%2 == 1 {
			shows[i] = pavilionDay(brands[i].ID, "Race", start.Add(-18*time.Hour), 20*time.Hour, loc)
		} else {
			shows[i] = pavilionDay(brands[i].ID, "Race", start, d, loc)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			results[i] = st.Shows.CreateShow(ctx, shows[i])
		}()
	}
	close(gate)
	wg.Wait()
	winner := -1
	for i, err := range results {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("both %d and %d hold 2031-01-01", winner, i)
			}
			winner = i
			continue
		}
		wantCode(t, err, apperr.Conflict)
	}
	if winner < 0 {
		t.Fatalf("nobody won: %v", results)
	}
	for i, err := range results {
		if i != winner && !strings.Contains(apperr.MessageOf(err), brands[winner].Name) {
			t.Fatalf("loser %d was told %q, not the winner %q", i, apperr.MessageOf(err), brands[winner].Name)
		}
		if i != winner {
			wantNoShow(t, st.Shows, shows[i].ID)
		}
	}
}

func hostUser(t *testing.T, st Stores, name string) *account.User {
	u := newUser(name+"@hosts.example", account.RoleHost)
	u.DisplayName = name
	must(t, st.Accounts.CreateUser(context.Background(), u, "h"))
	return u
}

func testHostOverlap(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("hosts")
	must(t, st.Brands.CreateBrand(ctx, b))
	ada, bo := hostUser(t, st, "Ada"), hostUser(t, st, "Bo")
	base := time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)
	first := newShow(b.ID, "Morning runway", base, ada.ID) // 10:00-11:00
	must(t, st.Shows.CreateShow(ctx, first))

	clash := newShow(b.ID, "Clash", base.Add(30*time.Minute), bo.ID, ada.ID)
	wantMessage(t, st.Shows.CreateShow(ctx, clash), apperr.Conflict, "Ada", "Morning runway")
	wantNoShow(t, st.Shows, clash.ID)
	// Back to back is no overlap; another host at the same time is fine.
	next := newShow(b.ID, "Noon", base.Add(time.Hour), ada.ID)
	must(t, st.Shows.CreateShow(ctx, next))
	other := newShow(b.ID, "Other host", base.Add(30*time.Minute), bo.ID)
	must(t, st.Shows.CreateShow(ctx, other))
	// Adding Ada to Bo's show, or moving Noon into the morning, is refused and changes nothing.
	other.HostIDs = []uuid.UUID{bo.ID, ada.ID}
	wantMessage(t, st.Shows.UpdateShow(ctx, other), apperr.Conflict, "Ada")
	next.StartsAt, next.EndsAt = base.Add(15*time.Minute), base.Add(45*time.Minute)
	wantMessage(t, st.Shows.UpdateShow(ctx, next), apperr.Conflict, "Morning runway")
	got, err := st.Shows.ShowByID(ctx, next.ID)
	must(t, err)
	if !got.StartsAt.Equal(base.Add(time.Hour)) {
		t.Fatalf("refused move was stored: %+v", got)
	}
	got, err = st.Shows.ShowByID(ctx, other.ID)
	must(t, err)
	if len(got.HostIDs) != 1 {
		t.Fatalf("refused host change was stored: %v", got.HostIDs)
	}
	// A show may be edited in place without clashing with itself.
	first.Title = "Morning runway, revised"
	first.EndsAt = base.Add(time.Hour)
	must(t, st.Shows.UpdateShow(ctx, first))

	// Cancelled and ended shows no longer hold their hosts.
	if _, err := st.Shows.Transition(ctx, first.ID, show.Cancelled, now()); err != nil {
		t.Fatal(err)
	}
	// Bo is on "Other host" at that time, Ada on Noon from 11:00.
	clash.HostIDs, clash.EndsAt = []uuid.UUID{ada.ID}, base.Add(time.Hour)
	must(t, st.Shows.CreateShow(ctx, clash))
	if _, err := st.Shows.Transition(ctx, clash.ID, show.Ended, now()); err != nil {
		t.Fatal(err)
	}
	after := newShow(b.ID, "After the end", base.Add(20*time.Minute), ada.ID)
	after.EndsAt = base.Add(50 * time.Minute)
	must(t, st.Shows.CreateShow(ctx, after))

	// A host that is no user.
	wantCode(t, st.Shows.CreateShow(ctx, newShow(b.ID, "Ghost host", base.AddDate(0, 0, 1), uuid.New())), apperr.NotFound)
}

// testHostRace: one host booked on overlapping shows at the same instant.
func testHostRace(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("race-hosts")
	must(t, st.Brands.CreateBrand(ctx, b))
	ada := hostUser(t, st, "Ada")
	base := time.Date(2030, 7, 1, 10, 0, 0, 0, time.UTC)
	const n = 6
	var (
		wg      sync.WaitGroup
		gate    = make(chan struct{})
		results = make([]error, n)
	)
	for i := range n {
		sh := newShow(b.ID, fmt.Sprintf("Race %d", i), base.Add(time.Duration(i)*10*time.Minute), ada.ID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			results[i] = st.Shows.CreateShow(ctx, sh)
		}()
	}
	close(gate)
	wg.Wait()
	wins := 0
	for _, err := range results {
		if err == nil {
			wins++
		} else {
			wantCode(t, err, apperr.Conflict)
		}
	}
	if wins != 1 {
		t.Fatalf("%d overlapping shows booked the same host: %v", wins, results)
	}
}

func testLifecycle(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("life")
	must(t, st.Brands.CreateBrand(ctx, b))
	ada, bo := hostUser(t, st, "Ada"), hostUser(t, st, "Bo")
	sh := newShow(b.ID, "Lifecycle", time.Date(2030, 8, 1, 10, 0, 0, 0, time.UTC), ada.ID)
	must(t, st.Shows.CreateShow(ctx, sh))

	at := now()
	live, err := st.Shows.Transition(ctx, sh.ID, show.Live, at)
	must(t, err)
	if live.State != show.Live || !live.UpdatedAt.Equal(at) {
		t.Fatalf("live = %+v", live)
	}
	_, err = st.Shows.Transition(ctx, sh.ID, show.Live, now())
	wantCode(t, err, apperr.Conflict)
	_, err = st.Shows.Transition(ctx, sh.ID, show.Cancelled, now())
	wantCode(t, err, apperr.Conflict)
	_, err = st.Shows.Transition(ctx, uuid.New(), show.Live, now())
	wantCode(t, err, apperr.NotFound)

	// A live show keeps its start, kind and hosts; its words may change.
	for name, edit := range map[string]func(s *show.Show){
		"start": func(s *show.Show) { s.StartsAt = s.StartsAt.Add(time.Minute) },
		"kind": func(s *show.Show) {
			s.Kind = show.KindPavilionDay
			s.Days = show.CalendarDays(s.StartsAt, s.EndsAt, time.UTC)
		},
		"hosts":    func(s *show.Show) { s.HostIDs = []uuid.UUID{bo.ID} },
		"state":    func(s *show.Show) { s.State = show.Scheduled },
		"to brand": func(s *show.Show) { s.BrandID = uuid.New() },
	} {
		s := *live
		edit(&s)
		if err := st.Shows.UpdateShow(ctx, &s); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("editing the %s of a live show: %v", name, err)
		}
	}
	s := *live
	s.Title = "Lifecycle (now live)"
	s.EndsAt = s.EndsAt.Add(30 * time.Minute)
	must(t, st.Shows.UpdateShow(ctx, &s))

	ended, err := st.Shows.Transition(ctx, sh.ID, show.Ended, now())
	must(t, err)
	if ended.State != show.Ended || ended.Title != "Lifecycle (now live)" {
		t.Fatalf("ended = %+v", ended)
	}
	for _, to := range []show.State{show.Live, show.Scheduled, show.Cancelled, show.Ended} {
		_, err := st.Shows.Transition(ctx, sh.ID, to, now())
		wantCode(t, err, apperr.Conflict)
	}
	s = *ended
	s.EndsAt = s.EndsAt.Add(time.Hour)
	wantCode(t, st.Shows.UpdateShow(ctx, &s), apperr.Conflict)
}

// sameTime reports whether a stored real time is want (nil: none).
func sameTime(got, want *time.Time) bool {
	if got == nil || want == nil {
		return got == nil && want == nil
	}
	return got.Equal(*want)
}

// testRealTimes: a show keeps when it really went live and really ended,
// beside its schedule: none before, the first move to live (a refused
// second one moves nothing), kept through edits, the end; a show ended
// without going live has an end and no start; a cancelled one neither. Every
// read (by id, listed, subscribed) has them.
func testRealTimes(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("realtimes")
	must(t, st.Brands.CreateBrand(ctx, b))
	sh := newShow(b.ID, "Real times", time.Date(2030, 9, 1, 10, 0, 0, 0, time.UTC))
	must(t, st.Shows.CreateShow(ctx, sh))
	check := func(what string, s *show.Show, live, ended *time.Time) {
		t.Helper()
		if !sameTime(s.WentLiveAt, live) || !sameTime(s.EndedAt, ended) {
			t.Fatalf("%s: went live %v, ended %v; want %v and %v", what, s.WentLiveAt, s.EndedAt, live, ended)
		}
	}
	got, err := st.Shows.ShowByID(ctx, sh.ID)
	must(t, err)
	check("scheduled", got, nil, nil)

	wentLive := now().Add(-time.Hour) // not the schedule, not the clock: the time given
	live, err := st.Shows.Transition(ctx, sh.ID, show.Live, wentLive)
	must(t, err)
	check("live", live, &wentLive, nil)
	// The publisher comes back: going live again is refused and moves nothing.
	_, err = st.Shows.Transition(ctx, sh.ID, show.Live, wentLive.Add(10*time.Minute))
	wantCode(t, err, apperr.Conflict)
	// An edit while live (the caller's copy says nothing of the real times) keeps them.
	edit := *live
	edit.Title, edit.WentLiveAt, edit.EndedAt = "Real times (live)", nil, &wentLive
	must(t, st.Shows.UpdateShow(ctx, &edit))
	got, err = st.Shows.ShowByID(ctx, sh.ID)
	must(t, err)
	check("edited while live", got, &wentLive, nil)

	endedAt := wentLive.Add(47*time.Minute + 3*time.Second + 123456*time.Microsecond)
	ended, err := st.Shows.Transition(ctx, sh.ID, show.Ended, endedAt)
	must(t, err)
	check("ended", ended, &wentLive, &endedAt)
	got, err = st.Shows.ShowByID(ctx, sh.ID)
	must(t, err)
	check("ended, read again", got, &wentLive, &endedAt)
	if !got.StartsAt.Equal(sh.StartsAt) || !got.EndsAt.Equal(sh.EndsAt) {
		t.Fatalf("the schedule moved: %v–%v, want %v–%v", got.StartsAt, got.EndsAt, sh.StartsAt, sh.EndsAt)
	}
	listed, err := st.Shows.ListShows(ctx, show.Filter{BrandID: b.ID})
	must(t, err)
	if len(listed) != 1 {
		t.Fatalf("listed %d shows", len(listed))
	}
	check("listed", &listed[0], &wentLive, &endedAt)
	u := newUser("realtimes@example.com")
	must(t, st.Accounts.CreateUser(ctx, u, "h"))
	must(t, st.Shows.Subscribe(ctx, sh.ID, u.ID, now()))
	subs, err := st.Shows.Subscribed(ctx, u.ID)
	must(t, err)
	if len(subs) != 1 {
		t.Fatalf("subscribed to %d shows", len(subs))
	}
	check("subscribed", &subs[0], &wentLive, &endedAt)

	// Ended straight from the schedule: an end, no start.
	never := newShow(b.ID, "Never aired", time.Date(2030, 9, 2, 10, 0, 0, 0, time.UTC))
	must(t, st.Shows.CreateShow(ctx, never))
	at := now()
	got, err = st.Shows.Transition(ctx, never.ID, show.Ended, at)
	must(t, err)
	check("ended unaired", got, nil, &at)
	// Cancelled: neither.
	off := newShow(b.ID, "Called off", time.Date(2030, 9, 3, 10, 0, 0, 0, time.UTC))
	must(t, st.Shows.CreateShow(ctx, off))
	got, err = st.Shows.Transition(ctx, off.ID, show.Cancelled, now())
	must(t, err)
	check("cancelled", got, nil, nil)
}

func testNotifyMe(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("notify")
	must(t, st.Brands.CreateBrand(ctx, b))
	sh := newShow(b.ID, "Spring drop", now().Add(time.Hour))
	must(t, st.Shows.CreateShow(ctx, sh))
	later := newShow(b.ID, "Later", now().Add(48*time.Hour))
	must(t, st.Shows.CreateShow(ctx, later))
	u1, u2, u3 := newUser("n1@example.com"), newUser("n2@example.com"), newUser("n3@example.com")
	for _, u := range []*account.User{u1, u2, u3} {
		must(t, st.Accounts.CreateUser(ctx, u, "h"))
	}
	must(t, st.Shows.Subscribe(ctx, sh.ID, u1.ID, now()))
	must(t, st.Shows.Subscribe(ctx, sh.ID, u1.ID, now())) // twice: still one
	must(t, st.Shows.Subscribe(ctx, later.ID, u1.ID, now()))
	must(t, st.Shows.Subscribe(ctx, sh.ID, u2.ID, now()))
	must(t, st.Shows.Unsubscribe(ctx, sh.ID, u2.ID))
	must(t, st.Shows.Unsubscribe(ctx, sh.ID, u3.ID)) // none: fine
	wantCode(t, st.Shows.Subscribe(ctx, uuid.New(), u1.ID, now()), apperr.NotFound)

	subs, err := st.Shows.Subscribed(ctx, u1.ID)
	must(t, err)
	if len(subs) != 2 || subs[0].ID != sh.ID || subs[1].ID != later.ID {
		t.Fatalf("Subscribed = %v", titles(subs))
	}
	if ok, err := st.Shows.IsSubscribed(ctx, sh.ID, u2.ID); err != nil || ok {
		t.Fatalf("IsSubscribed after unsubscribing = %v %v", ok, err)
	}
	if ok, err := st.Shows.IsSubscribed(ctx, sh.ID, u1.ID); err != nil || !ok {
		t.Fatalf("IsSubscribed = %v %v", ok, err)
	}

	at := now()
	_, err = st.Shows.Transition(ctx, sh.ID, show.Live, at)
	must(t, err)
	notices, err := st.Shows.Notices(ctx, u1.ID, 0)
	must(t, err)
	if len(notices) != 1 || notices[0].ShowID != sh.ID || notices[0].Kind != show.NoticeLive ||
		!strings.Contains(notices[0].Text, "Spring drop") || !notices[0].CreatedAt.Equal(at) || notices[0].ID == uuid.Nil {
		t.Fatalf("notices = %+v", notices)
	}
	for _, u := range []*account.User{u2, u3} {
		if n, err := st.Shows.Notices(ctx, u.ID, 0); err != nil || len(n) != 0 {
			t.Fatalf("not subscribed, yet notices = %+v %v", n, err)
		}
	}
	// Ending tells nobody; a second show going live adds a second notice, newest first.
	_, err = st.Shows.Transition(ctx, sh.ID, show.Ended, now())
	must(t, err)
	_, err = st.Shows.Transition(ctx, later.ID, show.Live, now().Add(time.Second))
	must(t, err)
	notices, err = st.Shows.Notices(ctx, u1.ID, 0)
	must(t, err)
	if len(notices) != 2 || notices[0].ShowID != later.ID {
		t.Fatalf("notices = %+v", notices)
	}
}

func testDiscovery(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("discover")
	must(t, st.Brands.CreateBrand(ctx, b))
	base := now().Add(time.Hour)
	past := newShow(b.ID, "Past", base.Add(-72*time.Hour))
	soon := newShow(b.ID, "Soon", base)
	day := pavilionDay(b.ID, "Pavilion Day", base.Add(48*time.Hour), 6*time.Hour, time.UTC)
	members := newShow(b.ID, "Members", base.Add(time.Hour))
	members.Visibility = show.Members
	for _, s := range []*show.Show{past, soon, day, members} {
		must(t, st.Shows.CreateShow(ctx, s))
	}
	list, err := st.Shows.ListShows(ctx, show.Filter{States: []show.State{show.Scheduled}, EndsAfter: now(), PavilionDayFirst: true})
	must(t, err)
	if got := strings.Join(titles(list), ","); got != "Pavilion Day,Soon" {
		t.Fatalf("upcoming, Pavilion Day first = %s", got)
	}
	list, err = st.Shows.ListShows(ctx, show.Filter{EndsAfter: now(), PavilionDayFirst: true, IncludeMembers: true, Offset: 1, Limit: 2})
	must(t, err)
	if got := strings.Join(titles(list), ","); got != "Soon,Members" {
		t.Fatalf("upcoming page 2 = %s", got)
	}
	list, err = st.Shows.ListShows(ctx, show.Filter{Newest: true, IncludeMembers: true})
	must(t, err)
	if got := strings.Join(titles(list), ","); got != "Pavilion Day,Members,Soon,Past" {
		t.Fatalf("newest first = %s", got)
	}
}

func testOfferBrand(t *testing.T, f *fixture) {
	ctx := context.Background()
	rival := newBrand("rival")
	must(t, f.Brands.CreateBrand(ctx, rival))
	p := newProduct(rival.ID, "Rival bag", checkout.SKU{Code: "RB", Currency: "EUR", PriceMinor: 1000, OnHand: 10})
	must(t, f.Catalog.CreateProduct(ctx, p))
	o := &checkout.Offer{ID: uuid.New(), ShowID: f.show, SKUID: p.SKUs[0].ID, PriceMinor: 900, Currency: "EUR", Allocated: 1, CreatedAt: now()}
	wantCode(t, f.Catalog.CreateOffer(ctx, o), apperr.Invalid)
	offers, err := f.Catalog.OffersByShow(ctx, f.show)
	must(t, err)
	if len(offers) != 1 {
		t.Fatalf("a refused offer was stored: %d offers", len(offers))
	}
	// Over stock on hand (10), for the show's own brand.
	o = &checkout.Offer{ID: uuid.New(), ShowID: f.show, SKUID: f.sku.ID, PriceMinor: 900, Currency: "EUR", Allocated: 11, CreatedAt: now()}
	wantCode(t, f.Catalog.CreateOffer(ctx, o), apperr.Conflict)
	o.ShowID = uuid.New()
	wantCode(t, f.Catalog.CreateOffer(ctx, o), apperr.NotFound)
}

func testReleaseShow(t *testing.T, f *fixture) {
	ctx := context.Background()
	second := f.newOffer(3, 0)
	r1 := f.res(f.offer, f.users[0], 2, time.Hour)
	r2 := f.res(second, f.users[1], 1, time.Hour)
	r3 := f.res(f.offer, f.users[2], 1, time.Hour)
	for _, r := range []*checkout.Reservation{r1, r2, r3} {
		must(t, f.Ledger.Reserve(ctx, r, 0, nil))
	}
	// r3 is being ordered: a payment in flight is left alone.
	must(t, f.Ledger.BeginOrder(ctx, &checkout.Order{ID: uuid.New(), UserID: r3.UserID, ReservationID: r3.ID, OfferID: r3.OfferID,
		ShowID: r3.ShowID, SKUID: r3.SKUID, BrandID: f.brand, Quantity: 1, UnitPriceMinor: r3.PriceMinor, TotalMinor: r3.PriceMinor,
		Currency: "EUR", State: checkout.Pending, CreatedAt: now(), UpdatedAt: now()}, now()))
	f.counts(f.offer, 3, 0, 4, 0)

	released, err := f.Ledger.ReleaseShow(ctx, f.show, now())
	must(t, err)
	if len(released) != 2 {
		t.Fatalf("released %d reservations, want 2", len(released))
	}
	for _, r := range released {
		if r.State != checkout.Released || (r.ID != r1.ID && r.ID != r2.ID) {
			t.Fatalf("released %+v", r)
		}
	}
	f.counts(f.offer, 1, 0, 1, 0)
	f.counts(second, 0, 0, 1, 0)
	again, err := f.Ledger.ReleaseShow(ctx, f.show, now())
	must(t, err)
	if len(again) != 0 {
		t.Fatalf("second ReleaseShow released %d", len(again))
	}
}
