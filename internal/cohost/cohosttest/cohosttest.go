// Package cohosttest is the contract every cohost.Store driver meets, run by
// the SQLite and PostgreSQL packages alike.
package cohosttest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// Fixture is a fresh store with two shows.
type Fixture struct {
	Store       cohost.Store
	Show, Show2 uuid.UUID
}

// NewFixture creates a brand and two shows through st.
func NewFixture(t testing.TB, store cohost.Store, st storetest.Stores) Fixture {
	t.Helper()
	f := Fixture{Store: store}
	f.Show, f.Show2 = storetest.TwoShows(t, st, "atelier")
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

func guest(show uuid.UUID, name, invite string, at time.Time) *cohost.Guest {
	return &cohost.Guest{ID: uuid.New(), ShowID: show, Name: name, InvitedBy: uuid.New(), CreatedAt: at,
		ExpiresAt: at.Add(time.Hour), InviteHash: invite}
}

// Run checks the contract; open returns a fresh fixture each time.
func Run(t *testing.T, open func(t *testing.T) Fixture) {
	ctx := context.Background()
	t.Run("InviteRedeemRemove", func(t *testing.T) {
		f := open(t)
		s := f.Store
		at := now()
		g := guest(f.Show, "Ana", "inv-a", at)
		must(t, s.AddGuest(ctx, g))
		// One guest at a time, per show.
		wantCode(t, s.AddGuest(ctx, guest(f.Show, "Bo", "inv-b", at)), apperr.Conflict)
		must(t, s.AddGuest(ctx, guest(f.Show2, "Cy", "inv-c", at)))
		wantCode(t, s.AddGuest(ctx, guest(uuid.New(), "Di", "inv-d", at)), apperr.NotFound)

		got, err := s.GuestByID(ctx, g.ID)
		must(t, err)
		if got.Name != "Ana" || got.ShowID != f.Show || !got.CreatedAt.Equal(at) || got.RedeemedAt != nil || got.KeyHash != "" {
			t.Fatalf("stored %+v", got)
		}
		// Another show's invite, an unknown one: not found; nothing changes.
		wantCode(t, errOf(s.RedeemInvite(ctx, f.Show2, "inv-a", "key-x", at)), apperr.NotFound)
		wantCode(t, errOf(s.RedeemInvite(ctx, f.Show, "nope", "key-x", at)), apperr.NotFound)
		red, err := s.RedeemInvite(ctx, f.Show, "inv-a", "key-a", at.Add(time.Second))
		must(t, err)
		if red.ID != g.ID || red.KeyHash != "key-a" || red.RedeemedAt == nil || red.Status(at) != cohost.Joined {
			t.Fatalf("redeemed %+v", red)
		}
		wantCode(t, errOf(s.RedeemInvite(ctx, f.Show, "inv-a", "key-b", at)), apperr.Gone)
		byKey, err := s.GuestByKey(ctx, "key-a")
		must(t, err)
		if byKey.ID != g.ID {
			t.Fatalf("by key: %+v", byKey)
		}
		wantCode(t, errOf(s.GuestByKey(ctx, "key-b")), apperr.NotFound)

		rm, err := s.RemoveGuest(ctx, g.ID, at.Add(time.Minute))
		must(t, err)
		if rm.RemovedAt == nil || !rm.RemovedAt.Equal(at.Add(time.Minute)) {
			t.Fatalf("removed %+v", rm)
		}
		again, err := s.RemoveGuest(ctx, g.ID, at.Add(time.Hour))
		must(t, err)
		if !again.RemovedAt.Equal(at.Add(time.Minute)) {
			t.Fatalf("a second removal moved the time: %v", again.RemovedAt)
		}
		wantCode(t, errOf(s.RemoveGuest(ctx, uuid.New(), at)), apperr.NotFound)
		// Removed: the show may invite again.
		g2 := guest(f.Show, "Bo", "inv-b", at.Add(2*time.Minute))
		must(t, s.AddGuest(ctx, g2))
		list, err := s.Guests(ctx, f.Show)
		must(t, err)
		if len(list) != 2 || list[0].ID != g2.ID || list[1].ID != g.ID {
			t.Fatalf("guests, newest first: %+v", list)
		}
		// A withdrawn invite and an expired one are Gone.
		_, err = s.RemoveGuest(ctx, g2.ID, at)
		must(t, err)
		wantCode(t, errOf(s.RedeemInvite(ctx, f.Show, "inv-b", "key-c", at)), apperr.Gone)
		g3 := guest(f.Show, "Ed", "inv-e", at)
		must(t, s.AddGuest(ctx, g3))
		wantCode(t, errOf(s.RedeemInvite(ctx, f.Show, "inv-e", "key-e", at.Add(2*time.Hour))), apperr.Gone)
	})

	t.Run("OneRedeemerWins", func(t *testing.T) {
		f := open(t)
		s := f.Store
		at := now()
		must(t, s.AddGuest(ctx, guest(f.Show, "Ana", "inv-a", at)))
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.RedeemInvite(ctx, f.Show, "inv-a", "key-"+string(rune('a'+i)), at)
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				} else if !errors.Is(err, apperr.E(apperr.Gone)) {
					t.Errorf("redeem: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d redeemers won, want 1", won)
		}
	})

	t.Run("Stage", func(t *testing.T) {
		f := open(t)
		s := f.Store
		at := now()
		st, err := s.Stage(ctx, f.Show)
		must(t, err)
		if st.Layout != cohost.SideBySide || st.GuestID != nil || st.Rev != 0 || st.ShowID != f.Show {
			t.Fatalf("default stage %+v", st)
		}
		st, err = s.SetLayout(ctx, f.Show, cohost.PiP, at)
		must(t, err)
		if st.Layout != cohost.PiP || st.Rev != 1 || !st.UpdatedAt.Equal(at) {
			t.Fatalf("after layout %+v", st)
		}
		wantCode(t, errOf(s.SetLayout(ctx, f.Show, "mosaic", at)), apperr.Invalid)
		wantCode(t, errOf(s.SetLayout(ctx, uuid.New(), cohost.PiP, at)), apperr.NotFound)

		g := guest(f.Show, "Ana", "inv-a", at)
		must(t, s.AddGuest(ctx, g))
		st, err = s.PutOnStage(ctx, f.Show, g.ID, at.Add(time.Second))
		must(t, err)
		if st.GuestID == nil || *st.GuestID != g.ID || st.GuestName != "Ana" || st.Layout != cohost.PiP || st.Rev != 2 {
			t.Fatalf("on stage %+v", st)
		}
		// Another guest is not on stage: nothing changes.
		st, changed, err := s.TakeOffStage(ctx, f.Show, uuid.New(), at)
		must(t, err)
		if changed || st.GuestID == nil || st.Rev != 2 {
			t.Fatalf("took the wrong guest off: %v %+v", changed, st)
		}
		st, changed, err = s.TakeOffStage(ctx, f.Show, g.ID, at.Add(2*time.Second))
		must(t, err)
		if !changed || st.GuestID != nil || st.GuestName != "" || st.Rev != 3 {
			t.Fatalf("off stage: %v %+v", changed, st)
		}
		other, err := s.Stage(ctx, f.Show2)
		must(t, err)
		if other.Rev != 0 {
			t.Fatalf("the other show's stage moved: %+v", other)
		}
	})
}

func errOf[T any](_ T, err error) error { return err }
