package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat/chattest"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

// chatFixture migrates a fresh database with a brand, two of its shows and three users.
func chatFixture(t *testing.T) (*DB, chattest.Fixture) {
	t.Helper()
	ctx := context.Background()
	db := fresh(t)
	at := time.Now().UTC().Truncate(time.Microsecond)
	b := &brand.Brand{ID: uuid.New(), Slug: "maison", Name: "Maison", CreatedAt: at, UpdatedAt: at}
	if err := db.CreateBrand(ctx, b); err != nil {
		t.Fatal(err)
	}
	f := chattest.Fixture{Store: db, Brand: b.ID}
	for i := range 2 {
		s := &show.Show{
			ID: uuid.New(), BrandID: b.ID, Title: "Show", Kind: show.KindShow, Visibility: show.Public,
			State: show.Scheduled, StartsAt: at, EndsAt: at.Add(time.Hour), TimeZone: "UTC",
			HostIDs: []uuid.UUID{}, CreatedAt: at, UpdatedAt: at,
		}
		if err := db.CreateShow(ctx, s); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			f.Show = s.ID
		} else {
			f.Show2 = s.ID
		}
	}
	for range 3 {
		u := &account.User{ID: uuid.New(), Email: uuid.NewString()[:8] + "@example.com", Roles: []account.Role{account.RoleViewer}, CreatedAt: at}
		if err := db.CreateUser(ctx, u, "hash"); err != nil {
			t.Fatal(err)
		}
		f.Users = append(f.Users, u.ID)
	}
	return db, f
}

func TestChatStore(t *testing.T) {
	chattest.Run(t, func(t *testing.T) chattest.Fixture {
		_, f := chatFixture(t)
		return f
	})
}

func TestChatStoreUnknownReferences(t *testing.T) {
	ctx := context.Background()
	_, f := chatFixture(t)
	s := f.Store
	until := time.Now().Add(time.Hour)
	for _, c := range []struct {
		err  error
		want string
	}{
		{s.SetBan(ctx, uuid.New(), f.Users[0], true), "show not found"},
		{s.SetBan(ctx, f.Show, uuid.New(), true), "user not found"},
		{s.SetMute(ctx, uuid.New(), f.Users[0], until), "show not found"},
		{s.SetMute(ctx, f.Show, uuid.New(), until), "user not found"},
		{s.SetBlockedWords(ctx, uuid.New(), []string{"fake"}), "brand not found"},
	} {
		if apperr.CodeOf(c.err) != apperr.NotFound || apperr.MessageOf(c.err) != c.want {
			t.Errorf("err = %v, want NotFound %q", c.err, c.want)
		}
	}
}
