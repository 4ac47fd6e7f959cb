package drawload

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/draw"
)

// honest is a run whose result is right: 40 entrants, 5 units, 3 viewers.
func honest() observed {
	seed := sha256.Sum256([]byte("drawload test seed"))
	entries := make([]string, 40)
	for i := range entries {
		entries[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
	}
	winners := draw.Winners(seed[:], entries, 5)
	rec := &record{ID: "d", Procedure: draw.Procedure, State: "drawn", Units: 5, Commitment: draw.Commitment(seed[:]),
		EntryCount: len(entries), Seed: hex.EncodeToString(seed[:]), Entries: entries, Winners: winners}
	closed := *rec
	closed.Entries, closed.Winners = slices.Clone(entries), slices.Clone(winners)
	views := make([]viewResult, 3)
	for i := range views {
		views[i] = viewResult{welcomed: true, got: true, after: 50 * time.Millisecond, winners: slices.Clone(winners), state: "drawn"}
	}
	return observed{units: 5, commitment: rec.Commitment, entered: slices.Clone(entries), closeAnswer: &closed, record: rec,
		views: views, holds: holdsReport{OfferHeld: 5, WinnersHolding: 5, Asked: 5}}
}

func failedChecks(v verifyReport) []string {
	var out []string
	for _, c := range v.Checks {
		if c.Result != "PASS" {
			out = append(out, c.Name)
		}
	}
	return out
}

// TestCheck: an honest result passes every check, and each way of getting
// it wrong fails the check that is about it.
func TestCheck(t *testing.T) {
	if v := check(honest()); !v.Pass || len(v.Checks) != 11 {
		t.Fatalf("the honest result: pass=%v, failed %v of %d checks", v.Pass, failedChecks(v), len(v.Checks))
	}
	for _, tc := range []struct {
		name   string
		tamper func(o *observed)
		want   []string
	}{
		{"winners swapped", func(o *observed) { w := o.record.Winners; w[0], w[1] = w[1], w[0] },
			[]string{"the verifier agrees", "the close answered the same result", "viewers saw the published winners"}},
		{"a winner short", func(o *observed) { o.record.Winners = o.record.Winners[:4]; o.closeAnswer.Winners = o.record.Winners },
			[]string{"winners = units exactly", "the verifier agrees", "viewers saw the published winners", "winners hold their units"}},
		{"a stranger wins", func(o *observed) {
			o.record.Winners[2] = "ffffffff-0000-4000-8000-000000000000"
			o.record.Entries[len(o.record.Entries)-1] = o.record.Winners[2]
			o.closeAnswer.Winners, o.views[0].winners = o.record.Winners, o.record.Winners
		}, []string{"entry list is the entrants", "every winner is an entrant", "the verifier agrees", "viewers saw the published winners"}},
		{"a winner twice", func(o *observed) { o.record.Winners[3] = o.record.Winners[0] },
			[]string{"no entrant wins twice", "the verifier agrees", "the close answered the same result", "viewers saw the published winners"}},
		{"another seed", func(o *observed) {
			other := sha256.Sum256([]byte("another"))
			o.record.Seed = hex.EncodeToString(other[:])
		}, []string{"seed opens the commitment made at open", "the verifier agrees", "the close answered the same result"}},
		{"the commitment replaced after open", func(o *observed) { o.commitment = strings.Repeat("0", 64) },
			[]string{"seed opens the commitment made at open", "the verifier agrees"}},
		{"an entry refused", func(o *observed) { o.entered[7] = "" }, []string{"every entry accepted", "entry list is the entrants"}},
		{"a viewer missed it", func(o *observed) { o.views[1] = viewResult{welcomed: true} }, []string{"every viewer got the result"}},
		{"a viewer never welcomed", func(o *observed) { o.views[2] = viewResult{} }, []string{"every viewer got the result"}},
		{"a hold missing", func(o *observed) { o.holds.OfferHeld, o.holds.WinnersHolding = 4, 4 }, []string{"winners hold their units"}},
		{"not drawn", func(o *observed) { o.record.State, o.record.Seed, o.record.Winners = "closing", "", nil },
			[]string{"entry list is the entrants", "winners = units exactly", "seed opens the commitment made at open", "the verifier agrees", "the close answered the same result", "viewers saw the published winners", "winners hold their units"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := honest()
			tc.tamper(&o)
			v := check(o)
			if v.Pass {
				t.Fatal("passed")
			}
			if got := failedChecks(v); !slices.Equal(got, tc.want) {
				t.Errorf("failed %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTarget: the < 1 s row is met only when every viewer got the result in time.
func TestTarget(t *testing.T) {
	if r := target(&closeReport{Viewers: 3, Got: 3, Within1s: 3}, 3); r.Check.Result != "PASS" {
		t.Errorf("all in time: %+v", r)
	}
	if r := target(&closeReport{Viewers: 3, Got: 3, Within1s: 2}, 3); r.Check.Result != "MISS" {
		t.Errorf("one late: %+v", r)
	}
	if r := target(&closeReport{Viewers: 2, Got: 2, Within1s: 2}, 3); r.Check.Result != "MISS" {
		t.Errorf("one viewer never welcomed: %+v", r)
	}
}
