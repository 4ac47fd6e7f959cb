// Package chattest is the contract for chat.Store implementations.
package chattest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// Fixture gives the suite a store and a show, brand and users that exist in it.
type Fixture struct {
	Store chat.Store
	// Archive is the driver's chat.Archive, for RunArchive.
	Archive chat.Archive
	Show    uuid.UUID
	Show2   uuid.UUID
	Brand   uuid.UUID
	Users   []uuid.UUID // at least 3
}

// NewFixture creates, through the driver's own stores, a brand with two
// shows and three users next to store.
func NewFixture(t testing.TB, store chat.Store, st storetest.Stores) Fixture {
	t.Helper()
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Microsecond)
	b := &brand.Brand{ID: uuid.New(), Slug: "maison", Name: "Maison", CreatedAt: at, UpdatedAt: at}
	must(t, st.Brands.CreateBrand(ctx, b))
	f := Fixture{Store: store, Brand: b.ID}
	for i := range 2 {
		s := &show.Show{ID: uuid.New(), BrandID: b.ID, Title: "Show", Kind: show.KindShow, Visibility: show.Public,
			State: show.Scheduled, StartsAt: at, EndsAt: at.Add(time.Hour), TimeZone: "UTC", HostIDs: []uuid.UUID{}, CreatedAt: at, UpdatedAt: at}
		must(t, st.Shows.CreateShow(ctx, s))
		if i == 0 {
			f.Show = s.ID
		} else {
			f.Show2 = s.ID
		}
	}
	for range 3 {
		u := &account.User{ID: uuid.New(), Email: uuid.NewString()[:8] + "@example.com", Roles: []account.Role{account.RoleViewer}, CreatedAt: at}
		must(t, st.Accounts.CreateUser(ctx, u, "hash"))
		f.Users = append(f.Users, u.ID)
	}
	return f
}

// Run checks the contract; open returns a fresh fixture.
func Run(t *testing.T, open func(t *testing.T) Fixture) {
	ctx := context.Background()
	t.Run("BansAndMutes", func(t *testing.T) {
		f := open(t)
		s := f.Store
		mod := f.Users[2] // the moderator who issues them
		now := time.Now().UTC().Truncate(time.Microsecond)
		must(t, s.SetBan(ctx, f.Show, f.Users[0], mod, true))
		must(t, s.SetBan(ctx, f.Show, f.Users[0], mod, true)) // idempotent
		must(t, s.SetMute(ctx, f.Show, f.Users[1], mod, now.Add(time.Hour)))
		must(t, s.SetMute(ctx, f.Show, f.Users[2], mod, now.Add(-time.Minute))) // already over
		banned, muted, err := s.Moderation(ctx, f.Show, now)
		must(t, err)
		if !slices.Equal(banned, []uuid.UUID{f.Users[0]}) {
			t.Fatalf("banned = %v", banned)
		}
		if len(muted) != 1 || !muted[f.Users[1]].Equal(now.Add(time.Hour)) {
			t.Fatalf("muted = %v", muted)
		}
		// Another show is untouched.
		banned, muted, err = s.Moderation(ctx, f.Show2, now)
		must(t, err)
		if len(banned) != 0 || len(muted) != 0 {
			t.Fatalf("other show: %v %v", banned, muted)
		}
		must(t, s.SetBan(ctx, f.Show, f.Users[0], mod, false))
		must(t, s.SetMute(ctx, f.Show, f.Users[1], mod, time.Time{}))
		banned, muted, err = s.Moderation(ctx, f.Show, now)
		must(t, err)
		if len(banned) != 0 || len(muted) != 0 {
			t.Fatalf("after lifting: %v %v", banned, muted)
		}
	})
	t.Run("Sanctions", func(t *testing.T) {
		f := open(t)
		s := f.Store
		mod := f.Users[2] // the moderator who issues them
		now := time.Now().UTC().Truncate(time.Microsecond)
		list, err := s.Sanctions(ctx, f.Show, now)
		must(t, err)
		if list == nil || len(list) != 0 {
			t.Fatalf("no sanctions yet: %#v", list)
		}
		must(t, s.SetBan(ctx, f.Show, f.Users[0], mod, true))
		must(t, s.SetMute(ctx, f.Show, f.Users[0], mod, now.Add(time.Hour)))
		must(t, s.SetMute(ctx, f.Show, f.Users[1], mod, now.Add(2*time.Hour)))
		must(t, s.SetMute(ctx, f.Show, f.Users[2], mod, now.Add(-time.Minute))) // over: not listed
		must(t, s.SetBan(ctx, f.Show2, f.Users[2], mod, true))                  // another show
		list, err = s.Sanctions(ctx, f.Show, now)
		must(t, err)
		if len(list) != 2 {
			t.Fatalf("sanctions = %+v", list)
		}
		// The fixture's users share a display name: then by user ID.
		want := map[uuid.UUID]chat.Sanction{}
		for _, x := range list {
			want[x.UserID] = x
		}
		if !slices.IsSortedFunc(list, func(a, b chat.Sanction) int { return strings.Compare(a.UserID.String(), b.UserID.String()) }) {
			t.Errorf("not ordered by user ID: %+v", list)
		}
		banned, muted := want[f.Users[0]], want[f.Users[1]]
		// Who issued each: banning again keeps the first ban and its
		// issuer; muting again takes the new mute's.
		must(t, s.SetBan(ctx, f.Show, f.Users[0], f.Users[1], true))
		must(t, s.SetMute(ctx, f.Show, f.Users[0], f.Users[1], now.Add(time.Hour)))
		list, err = s.Sanctions(ctx, f.Show, now)
		must(t, err)
		for _, x := range list {
			if x.UserID == f.Users[0] {
				if x.BannedBy == nil || *x.BannedBy != mod || x.MutedBy == nil || *x.MutedBy != f.Users[1] {
					t.Errorf("issuers of the ban and the mute = %v, %v; want %s, %s", x.BannedBy, x.MutedBy, mod, f.Users[1])
				}
			}
		}
		if muted.BannedBy != nil || muted.MutedBy == nil || *muted.MutedBy != mod {
			t.Errorf("issuers of the mute only = %v, %v", muted.BannedBy, muted.MutedBy)
		}
		if !banned.Banned || banned.BannedAt == nil || banned.BannedAt.Before(now.Add(-time.Minute)) ||
			banned.MutedUntil == nil || !banned.MutedUntil.Equal(now.Add(time.Hour)) {
			t.Errorf("banned and muted user = %+v", banned)
		}
		if muted.Banned || muted.BannedAt != nil || muted.MutedUntil == nil || !muted.MutedUntil.Equal(now.Add(2*time.Hour)) {
			t.Errorf("muted user = %+v", muted)
		}
		// Lifted: gone from the list.
		must(t, s.SetBan(ctx, f.Show, f.Users[0], mod, false))
		must(t, s.SetMute(ctx, f.Show, f.Users[0], mod, time.Time{}))
		list, err = s.Sanctions(ctx, f.Show, now)
		must(t, err)
		if len(list) != 1 || list[0].UserID != f.Users[1] {
			t.Fatalf("after lifting = %+v", list)
		}
	})
	t.Run("UnknownReferences", func(t *testing.T) {
		f := open(t)
		s := f.Store
		mod := f.Users[2] // the moderator who issues them
		until := time.Now().Add(time.Hour)
		for _, c := range []struct {
			err  error
			want string
		}{
			{s.SetBan(ctx, uuid.New(), f.Users[0], mod, true), "show not found"},
			{s.SetBan(ctx, f.Show, uuid.New(), mod, true), "user not found"},
			{s.SetMute(ctx, uuid.New(), f.Users[0], mod, until), "show not found"},
			{s.SetMute(ctx, f.Show, uuid.New(), mod, until), "user not found"},
			{s.SetBlockedWords(ctx, uuid.New(), []string{"fake"}), "brand not found"},
		} {
			if apperr.CodeOf(c.err) != apperr.NotFound || apperr.MessageOf(c.err) != c.want {
				t.Errorf("err = %v, want NotFound %q", c.err, c.want)
			}
		}
	})
	t.Run("BlockedWords", func(t *testing.T) {
		f := open(t)
		s := f.Store
		words, err := s.BlockedWords(ctx, f.Brand)
		must(t, err)
		if words == nil || len(words) != 0 {
			t.Fatalf("no list yet: %#v", words)
		}
		must(t, s.SetBlockedWords(ctx, f.Brand, []string{"fake", "replica"}))
		words, err = s.BlockedWords(ctx, f.Brand)
		must(t, err)
		if !slices.Equal(words, []string{"fake", "replica"}) {
			t.Fatalf("words = %v", words)
		}
		must(t, s.SetBlockedWords(ctx, f.Brand, []string{}))
		words, err = s.BlockedWords(ctx, f.Brand)
		must(t, err)
		if len(words) != 0 {
			t.Fatalf("cleared list = %v", words)
		}
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
