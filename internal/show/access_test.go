package show

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

func (f *fakeStore) ShowByID(_ context.Context, id uuid.UUID) (*Show, error) {
	s, ok := f.shows[id]
	if !ok {
		return nil, apperr.Errorf(apperr.NotFound, "show not found")
	}
	c := *s
	return &c, nil
}

func (f *fakeStore) SetStreamKey(_ context.Context, id uuid.UUID, hash string) error {
	if f.keys == nil {
		f.keys = map[uuid.UUID]string{}
	}
	f.keys[id] = hash
	return nil
}

func (f *fakeStore) StreamKeyHash(_ context.Context, id uuid.UUID) (string, error) {
	return f.keys[id], nil
}

// people are one user of each kind around a show of brand b hosted by host.
type people struct {
	b                                    uuid.UUID
	admin, brandAdmin, rivalAdmin, host  *account.User
	otherHost, member, viewer, anonymous *account.User
	everyone                             map[string]*account.User
	hostIDs                              []uuid.UUID
}

func newPeople() *people {
	p := &people{b: uuid.New()}
	user := func(roles ...account.Role) *account.User { return &account.User{ID: uuid.New(), Roles: roles} }
	p.admin = user(account.RoleAdmin)
	p.brandAdmin = user(account.RoleBrandAdmin)
	p.brandAdmin.BrandIDs = []uuid.UUID{p.b}
	p.rivalAdmin = user(account.RoleBrandAdmin)
	p.rivalAdmin.BrandIDs = []uuid.UUID{uuid.New()}
	p.host = user(account.RoleHost)
	p.otherHost = user(account.RoleHost)
	p.member = user(account.RoleMember)
	p.viewer = user(account.RoleViewer)
	p.hostIDs = []uuid.UUID{p.host.ID}
	p.everyone = map[string]*account.User{"admin": p.admin, "brand admin": p.brandAdmin, "rival admin": p.rivalAdmin,
		"host": p.host, "other host": p.otherHost, "member": p.member, "viewer": p.viewer, "anonymous": nil}
	return p
}

func TestCheckHost(t *testing.T) {
	p := newPeople()
	for _, vis := range []Visibility{Public, Members} {
		sh := &Show{ID: uuid.New(), BrandID: p.b, Visibility: vis, HostIDs: p.hostIDs}
		want := map[string]apperr.Code{"admin": "", "brand admin": "", "host": "",
			"rival admin": apperr.Forbidden, "other host": apperr.Forbidden, "member": apperr.Forbidden,
			"viewer": apperr.Forbidden, "anonymous": apperr.Forbidden}
		if vis == Members {
			// Who may not see a members-only show must not learn it exists.
			want["rival admin"], want["other host"], want["viewer"], want["anonymous"] =
				apperr.NotFound, apperr.NotFound, apperr.NotFound, apperr.NotFound
		}
		for name, u := range p.everyone {
			err := CheckHost(u, sh)
			if got := codeOf(err); got != want[name] {
				t.Errorf("%s show, %s: CheckHost = %v, want code %q", vis, name, err, want[name])
			}
		}
	}
}

func TestCheckSee(t *testing.T) {
	p := newPeople()
	sh := &Show{ID: uuid.New(), BrandID: p.b, Visibility: Members, HostIDs: p.hostIDs}
	for name, u := range p.everyone {
		want := apperr.Code("")
		switch name {
		case "rival admin", "other host", "viewer", "anonymous":
			want = apperr.NotFound
		}
		if got := codeOf(CheckSee(u, sh)); got != want {
			t.Errorf("members-only show, %s: CheckSee code %q, want %q", name, got, want)
		}
	}
	sh.Visibility = Public
	for name, u := range p.everyone {
		if err := CheckSee(u, sh); err != nil {
			t.Errorf("public show, %s: CheckSee = %v", name, err)
		}
	}
}

func codeOf(err error) apperr.Code {
	if err == nil {
		return ""
	}
	return apperr.CodeOf(err)
}

// TestPublish: the right key or one of the show's hosts may put it on air,
// once; an ended or cancelled show stays off air whoever asks.
func TestPublish(t *testing.T) {
	ctx := context.Background()
	p := newPeople()
	st := &fakeStore{shows: map[uuid.UUID]*Show{}}
	svc := &Service{Store: st}
	sh := &Show{ID: uuid.New(), BrandID: p.b, Visibility: Public, State: Scheduled, HostIDs: p.hostIDs}
	st.shows[sh.ID] = sh
	key, err := RotateStreamKey(ctx, st, sh.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []State{Scheduled, Live, Ended, Cancelled} {
		sh.State = state
		offAir := state == Ended || state == Cancelled
		ok, err := svc.PublishWithKey(ctx, sh.ID, key)
		if offAir && (ok || apperr.CodeOf(err) != apperr.Conflict) || !offAir && (!ok || err != nil) {
			t.Errorf("%s show, right key: PublishWithKey = %v, %v", state, ok, err)
		}
		if ok, err := svc.PublishWithKey(ctx, sh.ID, key+"x"); ok || err != nil {
			t.Errorf("%s show, wrong key: PublishWithKey = %v, %v", state, ok, err)
		}
		for name, u := range p.everyone {
			runs := name == "admin" || name == "brand admin" || name == "host"
			ok, err := svc.PublishAsHost(ctx, u, sh.ID)
			switch {
			case runs && offAir:
				if ok || apperr.CodeOf(err) != apperr.Conflict {
					t.Errorf("%s show, %s: PublishAsHost = %v, %v; want a Conflict", state, name, ok, err)
				}
			case ok != runs || err != nil:
				t.Errorf("%s show, %s: PublishAsHost = %v, %v; want %v", state, name, ok, err, runs)
			}
		}
	}
	if ok, err := svc.PublishAsHost(ctx, p.admin, uuid.New()); ok || err != nil {
		t.Errorf("missing show: PublishAsHost = %v, %v; want false so a key can still be tried", ok, err)
	}
	if ok, err := svc.PublishWithKey(ctx, uuid.New(), key); ok || err != nil {
		t.Errorf("missing show: PublishWithKey = %v, %v", ok, err)
	}
}
