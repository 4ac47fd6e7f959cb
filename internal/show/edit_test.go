package show

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
)

func (f *fakeStore) Subscribe(_ context.Context, showID, userID uuid.UUID, _ time.Time) error {
	if f.subs == nil {
		f.subs = map[uuid.UUID][]uuid.UUID{}
	}
	f.subs[showID] = append(f.subs[showID], userID)
	return nil
}

type usersByID map[uuid.UUID]*account.User

func (m usersByID) UserByID(_ context.Context, id uuid.UUID) (*account.User, error) {
	if u, ok := m[id]; ok {
		return u, nil
	}
	return nil, apperr.Errorf(apperr.NotFound, "user not found")
}

type brandsByID map[uuid.UUID]*brand.Brand

func (m brandsByID) BrandByID(_ context.Context, id uuid.UUID) (*brand.Brand, error) {
	if b, ok := m[id]; ok {
		return b, nil
	}
	return nil, apperr.Errorf(apperr.NotFound, "brand not found")
}

func ptr[T any](v T) *T { return &v }

// editWorld is a service over a fake store with the people of newPeople,
// the brand they work for and a viewer-only account.
func editWorld() (*Service, *fakeStore, *people) {
	p := newPeople()
	p.host.DisplayName, p.viewer.DisplayName = "Host", "Viewer"
	users := usersByID{}
	for _, u := range p.everyone {
		if u != nil {
			users[u.ID] = u
		}
	}
	st := &fakeStore{shows: map[uuid.UUID]*Show{}}
	return &Service{Store: st, Users: users, Brands: brandsByID{p.b: {ID: p.b}}}, st, p
}

// TestCreateRules: every rule on a new show, whoever calls the service; a
// refused show is never stored.
func TestCreateRules(t *testing.T) {
	ctx := context.Background()
	svc, st, p := editWorld()
	start := time.Date(2031, 3, 1, 18, 0, 0, 0, time.UTC)
	ok := func() Edit {
		return Edit{BrandID: &p.b, Title: ptr("Spring runway"), StartsAt: &start, EndsAt: ptr(start.Add(time.Hour)), HostIDs: p.hostIDs}
	}
	with := func(change func(*Edit)) Edit { e := ok(); change(&e); return e }
	for _, tc := range []struct {
		name string
		u    *account.User
		e    Edit
		want apperr.Code
		msg  string
	}{
		{"no brand", p.brandAdmin, with(func(e *Edit) { e.BrandID = nil }), apperr.Invalid, "brand_id is required"},
		{"another brand's admin", p.rivalAdmin, ok(), apperr.Forbidden, "you do not administer this brand"},
		{"a host", p.host, ok(), apperr.Forbidden, ""},
		{"anonymous", nil, ok(), apperr.Forbidden, ""},
		{"missing brand", p.admin, with(func(e *Edit) { e.BrandID = ptr(uuid.New()) }), apperr.NotFound, ""},
		{"no title", p.brandAdmin, with(func(e *Edit) { e.Title = ptr("  ") }), apperr.Invalid, "title"},
		{"ends first", p.brandAdmin, with(func(e *Edit) { e.EndsAt = ptr(start.Add(-time.Hour)) }), apperr.Invalid, "ends_at"},
		{"host twice", p.brandAdmin, with(func(e *Edit) { e.HostIDs = []uuid.UUID{p.host.ID, p.host.ID} }), apperr.Invalid, "listed twice"},
		{"host no account", p.brandAdmin, with(func(e *Edit) { e.HostIDs = []uuid.UUID{uuid.New()} }), apperr.Invalid, "is not an account"},
		{"host no host", p.brandAdmin, with(func(e *Edit) { e.HostIDs = []uuid.UUID{p.viewer.ID} }), apperr.Invalid, "Viewer is not a host"},
	} {
		sh, err := svc.Create(ctx, tc.u, tc.e)
		if apperr.CodeOf(err) != tc.want || sh != nil || !strings.Contains(apperr.MessageOf(err), tc.msg) {
			t.Errorf("%s: Create = %v, %v; want %s %q", tc.name, sh, err, tc.want, tc.msg)
		}
	}
	if len(st.shows) != 0 {
		t.Fatalf("refused shows were stored: %d", len(st.shows))
	}
	sh, err := svc.Create(ctx, p.brandAdmin, ok())
	if err != nil {
		t.Fatal(err)
	}
	if stored := st.shows[sh.ID]; stored == nil || stored.State != Scheduled || stored.BrandID != p.b || stored.Kind != KindShow {
		t.Fatalf("stored %+v", stored)
	}
}

// TestChangeRules: a show keeps its brand, an ended or cancelled one is no
// longer edited, a live one changes only its words; cancelling and
// following need a scheduled show.
func TestChangeRules(t *testing.T) {
	ctx := context.Background()
	svc, st, p := editWorld()
	start := time.Date(2031, 3, 1, 18, 0, 0, 0, time.UTC)
	newShow := func(state State) *Show {
		sh := &Show{ID: uuid.New(), BrandID: p.b, Title: "Runway", Kind: KindShow, Visibility: Public, State: state,
			StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "UTC", HostIDs: p.hostIDs}
		st.shows[sh.ID] = sh
		c := *sh
		return &c
	}
	for _, tc := range []struct {
		name  string
		state State
		e     Edit
		want  apperr.Code
	}{
		{"another brand", Scheduled, Edit{BrandID: ptr(uuid.New())}, apperr.Invalid},
		{"same brand", Scheduled, Edit{BrandID: &p.b, Title: ptr("Runway II")}, ""},
		{"ended", Ended, Edit{Title: ptr("After")}, apperr.Conflict},
		{"cancelled", Cancelled, Edit{Title: ptr("After")}, apperr.Conflict},
		{"live, words", Live, Edit{Title: ptr("Live now"), Description: ptr("Look")}, ""},
		{"live, end time", Live, Edit{EndsAt: ptr(start.Add(2 * time.Hour))}, apperr.Conflict},
		{"live, audience", Live, Edit{Visibility: ptr(Members)}, apperr.Conflict},
		{"live, hosts", Live, Edit{HostIDs: p.hostIDs}, apperr.Conflict},
		{"scheduled, end time", Scheduled, Edit{EndsAt: ptr(start.Add(2 * time.Hour))}, ""},
		{"scheduled, a viewer as host", Scheduled, Edit{HostIDs: []uuid.UUID{p.viewer.ID}}, apperr.Invalid},
		{"scheduled, bad title", Scheduled, Edit{Title: ptr("")}, apperr.Invalid},
	} {
		sh := newShow(tc.state)
		got, err := svc.Change(ctx, p.brandAdmin, sh, tc.e)
		if tc.want != "" {
			if apperr.CodeOf(err) != tc.want || got != nil {
				t.Errorf("%s: Change = %v, %v; want %s", tc.name, got, err, tc.want)
			}
			if stored := st.shows[sh.ID]; stored.Title != "Runway" || !stored.EndsAt.Equal(sh.EndsAt) || stored.Visibility != Public {
				t.Errorf("%s: a refused change was stored: %+v", tc.name, stored)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: Change: %v", tc.name, err)
			continue
		}
		if stored := st.shows[sh.ID]; stored.Title != got.Title || !stored.EndsAt.Equal(got.EndsAt) {
			t.Errorf("%s: stored %+v, answered %+v", tc.name, stored, got)
		}
	}

	sh := newShow(Scheduled)
	for name, u := range p.everyone {
		if name == "admin" || name == "brand admin" {
			continue
		}
		if _, err := svc.Change(ctx, u, sh, Edit{Title: ptr("Mine now")}); apperr.CodeOf(err) != apperr.Forbidden || st.shows[sh.ID].Title != "Runway" {
			t.Errorf("%s changing the show: %v", name, err)
		}
	}

	for _, state := range []State{Live, Ended, Cancelled} {
		sh := newShow(state)
		if _, err := svc.Cancel(ctx, sh.ID); apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "only a scheduled show can be cancelled") {
			t.Errorf("cancelling a %s show: %v", state, err)
		}
		if err := svc.Subscribe(ctx, sh, p.viewer.ID); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("following a %s show: %v", state, err)
		}
		if len(st.subs[sh.ID]) != 0 || st.shows[sh.ID].State != state {
			t.Errorf("a refused cancel or follow of a %s show was stored", state)
		}
	}
	sh = newShow(Scheduled)
	if err := svc.Subscribe(ctx, sh, p.viewer.ID); err != nil || len(st.subs[sh.ID]) != 1 {
		t.Fatalf("following a scheduled show: %v, %v", err, st.subs[sh.ID])
	}
	if got, err := svc.Cancel(ctx, sh.ID); err != nil || got.State != Cancelled {
		t.Fatalf("cancelling a scheduled show: %v, %v", got, err)
	}
}
