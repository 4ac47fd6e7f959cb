package account

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestChangeCursorWaitsForGaps: with concurrent writers (PostgreSQL) an
// entry may commit after a later-numbered one. The cursor applies every
// entry once, reads again from the first missing number until it comes,
// and passes over one that never does (rolled back) after gapWait.
func TestChangeCursorWaitsForGaps(t *testing.T) {
	users := make([]uuid.UUID, 8)
	for i := range users {
		users[i] = uuid.New()
	}
	entry := func(seq int64) LoggedChange { return LoggedChange{Seq: seq, UserID: users[seq]} }
	t0 := time.Now()
	c := changeCursor{started: true, safe: 1}
	step := func(at time.Duration, page []LoggedChange, wantUsers []int64, wantSafe int64) {
		t.Helper()
		got := c.take(page)
		c.advance(t0.Add(at))
		if len(got) != len(wantUsers) {
			t.Fatalf("at %v: applied %d users, want %v", at, len(got), wantUsers)
		}
		for _, s := range wantUsers {
			if !got[users[s]] {
				t.Fatalf("at %v: entry %d's user not applied", at, s)
			}
		}
		if c.safe != wantSafe {
			t.Fatalf("at %v: safe = %d, want %d", at, c.safe, wantSafe)
		}
	}
	step(0, []LoggedChange{entry(2), entry(4)}, []int64{2, 4}, 2)          // 3 is in flight
	step(time.Second, []LoggedChange{entry(4)}, nil, 2)                    // still missing; 4 not applied twice
	step(2*time.Second, []LoggedChange{entry(3), entry(4)}, []int64{3}, 4) // 3 committed late
	step(3*time.Second, []LoggedChange{entry(6)}, []int64{6}, 4)           // 5 missing
	step(3*time.Second+gapWait-time.Millisecond, []LoggedChange{entry(6)}, nil, 4)
	step(3*time.Second+gapWait, []LoggedChange{entry(6), entry(7)}, []int64{7}, 7) // 5 rolled back: passed over
}
