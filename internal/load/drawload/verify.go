package drawload

import (
	"fmt"
	"slices"

	"github.com/pavilion-live/pavilion/internal/draw"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// observed is everything the run saw that the checks judge: what it asked
// for, what the server answered each entrant and the close, the published
// record, what each viewer got, and the holds.
type observed struct {
	units       int
	commitment  string   // as the open answered, before any entry
	entered     []string // entry IDs the server answered, by entrant ("" for none)
	closeAnswer *record
	record      *record // GET, from the last node
	views       []viewResult
	holds       holdsReport
}

// verifyReport is the checks on the result.
type verifyReport struct {
	Pass    bool            `json:"pass"`
	Winners int             `json:"winners"`
	Entries int             `json:"entries"` // in the published record
	Seed    string          `json:"seed"`
	Holds   holdsReport     `json:"holds"`
	Checks  []measure.Check `json:"checks"`
}

// check judges a run's result. Each check says what it compared, so that a
// FAIL can be read without the JSON.
func check(o observed) verifyReport {
	v := verifyReport{Pass: true, Holds: o.holds}
	add := func(name string, ok bool, detail string, args ...any) {
		res := "PASS"
		if !ok {
			res, v.Pass = "FAIL", false
		}
		v.Checks = append(v.Checks, measure.Check{Name: name, Result: res, Detail: fmt.Sprintf(detail, args...)})
	}
	rec := o.record
	if rec == nil {
		add("published record", false, "no record was read")
		return v
	}
	v.Winners, v.Entries, v.Seed = len(rec.Winners), len(rec.Entries), rec.Seed

	ours := map[string]bool{}
	for _, e := range o.entered {
		if e != "" {
			ours[e] = true
		}
	}
	add("every entry accepted", len(ours) == len(o.entered), "%d of %d entrants got an entry (%d distinct IDs)", countSet(o.entered), len(o.entered), len(ours))
	listed := 0
	for _, e := range rec.Entries {
		if ours[e] {
			listed++
		}
	}
	add("entry list is the entrants", rec.State == "drawn" && listed == len(ours) && len(rec.Entries) == len(ours) && rec.EntryCount == len(rec.Entries),
		"state %s; the record lists %d entries (counts %d), %d of them this run's %d", rec.State, len(rec.Entries), rec.EntryCount, listed, len(ours))

	want := min(o.units, len(rec.Entries))
	add("winners = units exactly", len(rec.Winners) == want && rec.Units == want && len(rec.Unheld) == 0,
		"%d winners, record units %d, %d unheld; want %d = min(%d units, %d entries)", len(rec.Winners), rec.Units, len(rec.Unheld), want, o.units, len(rec.Entries))
	strangers := 0
	for _, w := range rec.Winners {
		if !ours[w] {
			strangers++
		}
	}
	add("every winner is an entrant", strangers == 0, "%d of %d winners are not entries this run made", strangers, len(rec.Winners))
	dup := ""
	seen := map[string]bool{}
	for _, w := range rec.Winners {
		if seen[w] && dup == "" {
			dup = w
		}
		seen[w] = true
	}
	add("no entrant wins twice", dup == "", "repeated winner: %s", cmpOr(dup, "none"))
	add("seed opens the commitment made at open", rec.Commitment == o.commitment && rec.Seed != "" && seedMatches(rec.Seed, o.commitment),
		"open committed %.16s…, record says %.16s…, SHA-256(seed) %s", o.commitment, rec.Commitment, seedVerdict(rec.Seed, o.commitment))
	_, err := draw.Verify(draw.Result{Procedure: rec.Procedure, Commitment: o.commitment, Seed: rec.Seed, Units: rec.Units, Entries: rec.Entries, Winners: rec.Winners})
	add("the verifier agrees", err == nil, "internal/draw.Verify (pavilion verify-draw's procedure) on the published record: %s", errText(err))
	closeSame := o.closeAnswer != nil && o.closeAnswer.Seed == rec.Seed && slices.Equal(o.closeAnswer.Winners, rec.Winners)
	add("the close answered the same result", closeSame, "close answer and the record read back agree on seed and winners: %v", closeSame)

	welcomed, got, differ := 0, 0, 0
	for _, r := range o.views {
		if !r.welcomed {
			continue
		}
		welcomed++
		if r.got {
			got++
			if !slices.Equal(r.winners, rec.Winners) {
				differ++
			}
		}
	}
	add("every viewer got the result", got == welcomed && welcomed == len(o.views), "%d of %d viewers (%d welcomed) got the drawn event", got, len(o.views), welcomed)
	add("viewers saw the published winners", differ == 0, "%d viewers' events list other winners than the record", differ)

	h := o.holds
	add("winners hold their units", h.Error == "" && h.OfferHeld+h.OfferSold == len(rec.Winners) && h.WinnersHolding == len(rec.Winners),
		"offer holds %d and sold %d; %d of %d winners' entries name a hold%s", h.OfferHeld, h.OfferSold, h.WinnersHolding, len(rec.Winners), errSuffix(h.Error))
	return v
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func countSet(list []string) int {
	n := 0
	for _, s := range list {
		if s != "" {
			n++
		}
	}
	return n
}

func seedMatches(seedHex, commitment string) bool {
	return seedVerdict(seedHex, commitment) == "matches"
}

func seedVerdict(seedHex, commitment string) string {
	_, err := draw.Verify(draw.Result{Procedure: draw.Procedure, Commitment: commitment, Seed: seedHex})
	switch {
	case err == nil:
		return "matches" // no entries, no units: only the seed and commitment were checked
	case seedHex == "":
		return "no seed published"
	default:
		return "does not match: " + err.Error()
	}
}

func errText(err error) string {
	if err == nil {
		return "verified"
	}
	return err.Error()
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// targetReport is issue 15's row: the result at every viewer < 1 s after the close.
type targetReport struct {
	Check measure.Check `json:"check"`
}

func target(c *closeReport, viewers int) targetReport {
	ok := c != nil && viewers > 0 && c.Within1s == viewers
	detail := "no close"
	if c != nil {
		detail = fmt.Sprintf("%d of %d viewers got the result < 1 s after the close's send (p50 %.0f ms, p99 %.0f ms, max %.0f ms; close answered in %.0f ms)",
			c.Within1s, viewers, c.Latency.P50Ms, c.Latency.P99Ms, c.Latency.MaxMs, c.AnswerMs)
	}
	res := "PASS"
	if !ok {
		res = "MISS"
	}
	return targetReport{Check: measure.Check{Name: "result at every viewer < 1 s", Result: res, Detail: detail}}
}
