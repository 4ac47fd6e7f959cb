// Package chattest is the contract for chat.Store implementations.
package chattest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
)

// Fixture gives the suite a store and a show, brand and users that exist in it.
type Fixture struct {
	Store chat.Store
	Show  uuid.UUID
	Show2 uuid.UUID
	Brand uuid.UUID
	Users []uuid.UUID // at least 3
}

// Run checks the contract; open returns a fresh fixture.
func Run(t *testing.T, open func(t *testing.T) Fixture) {
	ctx := context.Background()
	t.Run("BansAndMutes", func(t *testing.T) {
		f := open(t)
		s := f.Store
		now := time.Now().UTC().Truncate(time.Microsecond)
		must(t, s.SetBan(ctx, f.Show, f.Users[0], true))
		must(t, s.SetBan(ctx, f.Show, f.Users[0], true)) // idempotent
		must(t, s.SetMute(ctx, f.Show, f.Users[1], now.Add(time.Hour)))
		must(t, s.SetMute(ctx, f.Show, f.Users[2], now.Add(-time.Minute))) // already over
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
		must(t, s.SetBan(ctx, f.Show, f.Users[0], false))
		must(t, s.SetMute(ctx, f.Show, f.Users[1], time.Time{}))
		banned, muted, err = s.Moderation(ctx, f.Show, now)
		must(t, err)
		if len(banned) != 0 || len(muted) != 0 {
			t.Fatalf("after lifting: %v %v", banned, muted)
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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
