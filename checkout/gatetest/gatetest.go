// Package gatetest is the contract test suite for checkout.Gate. The
// in-process gate and the Redis gate run the same suite, so the embedded and
// cluster modes decide taps alike.
package gatetest

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// timeout bounds each subtest. It is a deadline against hangs, never a speed
// requirement.
const timeout = 60 * time.Second

// Run runs the contract suite, calling newGate once per subtest. Each call
// must return a gate with fresh, empty state that no other call sees (for
// Redis: a new key prefix), and register its cleanups on t.
func Run(t *testing.T, newGate func(t *testing.T) checkout.Gate) {
	tests := []struct {
		name string
		fn   func(t *testing.T, g checkout.Gate)
	}{
		{"UnknownBeforeLoad", testUnknownBeforeLoad},
		{"Holds", testHolds},
		{"LoadFillsOnlyWhenEmpty", testLoadFillsOnlyWhenEmpty},
		{"LoadOverwriteReplaces", testLoadOverwrite},
		{"LoadZeroIsSoldOutNotUnknown", testLoadZero},
		{"TakeUntilSoldOut", testTakeUntilSoldOut},
		{"PerCustomerLimit", testLimit},
		{"NoLimit", testNoLimit},
		{"LoadedCustomersCount", testLoadedCustomers},
		{"SoldOutBeforeLimit", testSoldOutBeforeLimit},
		{"GiveReturnsUnits", testGive},
		{"GiveNeverBelowZero", testGiveFloor},
		{"GiveUnloadedIsNoOp", testGiveUnloaded},
		{"OffersIsolated", testIsolated},
		{"RejectsBadInput", testBadInput},
		{"DoneContext", testDoneContext},
		{"Stampede", testStampede},
		{"TakeGiveChurn", testChurn},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newGate(t)) })
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

func load(t *testing.T, g checkout.Gate, offer uuid.UUID, available int, customers map[uuid.UUID]int, overwrite bool) {
	t.Helper()
	if err := g.Load(testCtx(t), offer, available, customers, overwrite); err != nil {
		t.Fatalf("Load(%d, overwrite=%v): %v", available, overwrite, err)
	}
}

// take asks for one tap and fails the test unless the verdict is want.
func take(t *testing.T, g checkout.Gate, tap checkout.Tap, want checkout.Verdict) {
	t.Helper()
	got, err := g.Take(testCtx(t), tap)
	if err != nil {
		t.Fatalf("Take(qty %d, limit %d): %v", tap.Quantity, tap.Limit, err)
	}
	if got != want {
		t.Fatalf("Take(qty %d, limit %d) = %v, want %v", tap.Quantity, tap.Limit, got, want)
	}
}

func give(t *testing.T, g checkout.Gate, offer, user uuid.UUID, qty int) {
	t.Helper()
	if err := g.Give(testCtx(t), offer, user, qty); err != nil {
		t.Fatalf("Give(%d): %v", qty, err)
	}
}

// wantAvailable fails the test unless the gate reports n units, or no state
// when present is false.
func wantAvailable(t *testing.T, g checkout.Gate, offer uuid.UUID, n int, present bool) {
	t.Helper()
	got, ok, err := g.Available(testCtx(t), offer)
	if err != nil {
		t.Fatalf("Available: %v", err)
	}
	if ok != present || got != n {
		t.Fatalf("Available = (%d, %v), want (%d, %v)", got, ok, n, present)
	}
}

func tap(offer, user uuid.UUID, qty, limit int) checkout.Tap {
	return checkout.Tap{OfferID: offer, UserID: user, Quantity: qty, Limit: limit}
}

func testUnknownBeforeLoad(t *testing.T, g checkout.Gate) {
	offer := uuid.New()
	wantAvailable(t, g, offer, 0, false)
	take(t, g, tap(offer, uuid.New(), 1, 0), checkout.Unknown)
	take(t, g, tap(offer, uuid.New(), 1, 1), checkout.Unknown)
	wantAvailable(t, g, offer, 0, false)
}

func testLoadFillsOnlyWhenEmpty(t *testing.T, g checkout.Gate) {
	offer, u := uuid.New(), uuid.New()
	load(t, g, offer, 5, map[uuid.UUID]int{u: 1}, false)
	wantAvailable(t, g, offer, 5, true)

	// A second fill, as another node racing on the first tap would send,
	// changes neither the count nor the customers.
	load(t, g, offer, 9, map[uuid.UUID]int{}, false)
	wantAvailable(t, g, offer, 5, true)
	take(t, g, tap(offer, u, 1, 1), checkout.LimitOver)

	take(t, g, tap(offer, uuid.New(), 2, 0), checkout.Taken)
	load(t, g, offer, 9, nil, false)
	wantAvailable(t, g, offer, 3, true)
}

func testLoadOverwrite(t *testing.T, g checkout.Gate) {
	offer, u, v := uuid.New(), uuid.New(), uuid.New()
	load(t, g, offer, 5, map[uuid.UUID]int{u: 1}, false)
	take(t, g, tap(offer, v, 2, 2), checkout.Taken)
	wantAvailable(t, g, offer, 3, true)

	// The correction replaces everything: u's count goes, v's comes from
	// the new map only.
	load(t, g, offer, 7, map[uuid.UUID]int{v: 1}, true)
	wantAvailable(t, g, offer, 7, true)
	take(t, g, tap(offer, u, 1, 1), checkout.Taken)
	take(t, g, tap(offer, v, 1, 2), checkout.Taken)
	take(t, g, tap(offer, v, 1, 2), checkout.LimitOver)
	wantAvailable(t, g, offer, 5, true)

	// Overwrite also fills an empty gate.
	other := uuid.New()
	load(t, g, other, 2, nil, true)
	wantAvailable(t, g, other, 2, true)
}

func testLoadZero(t *testing.T, g checkout.Gate) {
	offer := uuid.New()
	load(t, g, offer, 0, nil, false)
	wantAvailable(t, g, offer, 0, true)
	take(t, g, tap(offer, uuid.New(), 1, 0), checkout.SoldOut)
	load(t, g, offer, 4, nil, false) // state exists: no fill
	wantAvailable(t, g, offer, 0, true)
}

func testTakeUntilSoldOut(t *testing.T, g checkout.Gate) {
	offer := uuid.New()
	load(t, g, offer, 5, nil, false)
	take(t, g, tap(offer, uuid.New(), 2, 0), checkout.Taken)
	wantAvailable(t, g, offer, 3, true)
	take(t, g, tap(offer, uuid.New(), 2, 0), checkout.Taken)
	wantAvailable(t, g, offer, 1, true)
	// Two cannot be covered by one: refused whole, the one stays.
	take(t, g, tap(offer, uuid.New(), 2, 0), checkout.SoldOut)
	wantAvailable(t, g, offer, 1, true)
	take(t, g, tap(offer, uuid.New(), 1, 0), checkout.Taken)
	wantAvailable(t, g, offer, 0, true)
	take(t, g, tap(offer, uuid.New(), 1, 0), checkout.SoldOut)
	take(t, g, tap(offer, uuid.New(), 1, 0), checkout.SoldOut)
	wantAvailable(t, g, offer, 0, true)
}

func testLimit(t *testing.T, g checkout.Gate) {
	offer, u := uuid.New(), uuid.New()
	load(t, g, offer, 10, nil, false)
	take(t, g, tap(offer, u, 1, 2), checkout.Taken)
	take(t, g, tap(offer, u, 1, 2), checkout.Taken)
	take(t, g, tap(offer, u, 1, 2), checkout.LimitOver)
	wantAvailable(t, g, offer, 8, true)

	// A quantity over the limit is refused for a newcomer too, and a
	// quantity that would cross it is refused whole.
	take(t, g, tap(offer, uuid.New(), 3, 2), checkout.LimitOver)
	v := uuid.New()
	take(t, g, tap(offer, v, 1, 2), checkout.Taken)
	take(t, g, tap(offer, v, 2, 2), checkout.LimitOver)
	take(t, g, tap(offer, v, 1, 2), checkout.Taken)
	wantAvailable(t, g, offer, 6, true)
}

func testNoLimit(t *testing.T, g checkout.Gate) {
	offer, u := uuid.New(), uuid.New()
	load(t, g, offer, 10, map[uuid.UUID]int{u: 50}, false)
	for range 5 {
		take(t, g, tap(offer, u, 2, 0), checkout.Taken)
	}
	take(t, g, tap(offer, u, 1, 0), checkout.SoldOut)
	wantAvailable(t, g, offer, 0, true)
}

func testLoadedCustomers(t *testing.T, g checkout.Gate) {
	offer, u, v, w := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	load(t, g, offer, 10, map[uuid.UUID]int{u: 2, v: 1, w: 0}, false)
	take(t, g, tap(offer, u, 1, 2), checkout.LimitOver)
	take(t, g, tap(offer, u, 1, 3), checkout.Taken)
	take(t, g, tap(offer, u, 1, 3), checkout.LimitOver)
	take(t, g, tap(offer, v, 1, 1), checkout.LimitOver)
	take(t, g, tap(offer, w, 1, 1), checkout.Taken) // a zero count is no count
	wantAvailable(t, g, offer, 8, true)
}

// testSoldOutBeforeLimit pins the order of the checks: an offer without the
// units is sold out for everyone, which lets a gate answer sold out without
// reading customer counts.
func testSoldOutBeforeLimit(t *testing.T, g checkout.Gate) {
	offer, u := uuid.New(), uuid.New()
	load(t, g, offer, 1, map[uuid.UUID]int{u: 1}, false)
	take(t, g, tap(offer, uuid.New(), 1, 1), checkout.Taken)
	take(t, g, tap(offer, u, 1, 1), checkout.SoldOut)
}

func testGive(t *testing.T, g checkout.Gate) {
	offer, u := uuid.New(), uuid.New()
	load(t, g, offer, 2, nil, false)
	take(t, g, tap(offer, u, 2, 2), checkout.Taken)
	take(t, g, tap(offer, uuid.New(), 1, 0), checkout.SoldOut)
	wantAvailable(t, g, offer, 0, true)

	give(t, g, offer, u, 1)
	wantAvailable(t, g, offer, 1, true)
	// The units are back for anyone, and u is under the limit again.
	take(t, g, tap(offer, u, 1, 2), checkout.Taken)
	take(t, g, tap(offer, u, 1, 3), checkout.SoldOut)

	give(t, g, offer, u, 2)
	wantAvailable(t, g, offer, 2, true)
	take(t, g, tap(offer, u, 1, 1), checkout.Taken)
	take(t, g, tap(offer, u, 1, 1), checkout.LimitOver)
	wantAvailable(t, g, offer, 1, true)
}

func testGiveFloor(t *testing.T, g checkout.Gate) {
	offer, u, v := uuid.New(), uuid.New(), uuid.New()
	load(t, g, offer, 3, map[uuid.UUID]int{u: 1}, false)
	// More than u holds, and units for v who holds none: the count grows
	// by the full quantity, the customer counts stop at zero.
	give(t, g, offer, u, 3)
	give(t, g, offer, v, 2)
	wantAvailable(t, g, offer, 8, true)
	take(t, g, tap(offer, u, 1, 1), checkout.Taken)
	take(t, g, tap(offer, u, 1, 1), checkout.LimitOver)
	take(t, g, tap(offer, v, 1, 1), checkout.Taken)
	take(t, g, tap(offer, v, 1, 1), checkout.LimitOver)
	wantAvailable(t, g, offer, 6, true)
}

func testGiveUnloaded(t *testing.T, g checkout.Gate) {
	offer := uuid.New()
	give(t, g, offer, uuid.New(), 3)
	wantAvailable(t, g, offer, 0, false)
	take(t, g, tap(offer, uuid.New(), 1, 0), checkout.Unknown)
	// A later fill is not blocked by the ignored Give.
	load(t, g, offer, 4, nil, false)
	wantAvailable(t, g, offer, 4, true)
}

func testIsolated(t *testing.T, g checkout.Gate) {
	a, b, c, u := uuid.New(), uuid.New(), uuid.New(), uuid.New()
	load(t, g, a, 1, nil, false)
	load(t, g, b, 3, nil, false)
	take(t, g, tap(a, u, 1, 1), checkout.Taken)
	take(t, g, tap(a, uuid.New(), 1, 1), checkout.SoldOut)
	// u's count and a's sell-out stay on a.
	take(t, g, tap(b, u, 1, 1), checkout.Taken)
	take(t, g, tap(b, u, 1, 1), checkout.LimitOver)
	take(t, g, tap(c, u, 1, 1), checkout.Unknown)
	give(t, g, b, u, 1)
	wantAvailable(t, g, a, 0, true)
	wantAvailable(t, g, b, 3, true)
	wantAvailable(t, g, c, 0, false)
	load(t, g, b, 10, nil, true)
	take(t, g, tap(a, uuid.New(), 1, 0), checkout.SoldOut)
}

func testBadInput(t *testing.T, g checkout.Gate) {
	ctx := testCtx(t)
	offer, u := uuid.New(), uuid.New()
	load(t, g, offer, 5, nil, false)
	for _, bad := range []checkout.Tap{
		tap(offer, u, 0, 0),
		tap(offer, u, -1, 0),
		tap(offer, u, 1, -1),
	} {
		if v, err := g.Take(ctx, bad); err == nil {
			t.Errorf("Take(qty %d, limit %d) = %v, want an error", bad.Quantity, bad.Limit, v)
		}
	}
	for _, qty := range []int{0, -2} {
		if err := g.Give(ctx, offer, u, qty); err == nil {
			t.Errorf("Give(%d): want an error", qty)
		}
	}
	if err := g.Load(ctx, offer, -1, nil, true); err == nil {
		t.Error("Load(-1): want an error")
	}
	if err := g.Load(ctx, offer, 1, map[uuid.UUID]int{u: -1}, true); err == nil {
		t.Error("Load with a negative customer count: want an error")
	}
	wantAvailable(t, g, offer, 5, true)
	take(t, g, tap(offer, u, 1, 1), checkout.Taken)
}

func testDoneContext(t *testing.T, g checkout.Gate) {
	offer := uuid.New()
	load(t, g, offer, 5, nil, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if v, err := g.Take(ctx, tap(offer, uuid.New(), 1, 0)); err == nil {
		t.Errorf("Take with a done context = %v, want an error", v)
	}
	wantAvailable(t, g, offer, 5, true)
}

// testStampede is the flash drop: far more taps than units, many of them
// repeated by impatient customers, all at once. The gate must hand out
// exactly the stock, once per customer.
func testStampede(t *testing.T, g checkout.Gate) {
	const (
		units   = 100
		users   = 2000
		workers = 500
	)
	ctx := testCtx(t)
	offer := uuid.New()
	load(t, g, offer, units, nil, false)

	// 1,200 customers tap three times, 600 twice, 200 once: 5,000 taps.
	ids := make([]uuid.UUID, users)
	var taps []checkout.Tap
	for i := range ids {
		ids[i] = uuid.New()
		n := 1
		switch {
		case i < 1200:
			n = 3
		case i < 1800:
			n = 2
		}
		for range n {
			taps = append(taps, tap(offer, ids[i], 1, 1))
		}
	}
	if len(taps) != 5000 {
		t.Fatalf("built %d taps, want 5000", len(taps))
	}
	rand.Shuffle(len(taps), func(i, j int) { taps[i], taps[j] = taps[j], taps[i] })

	verdicts := stampede(ctx, t, g, taps, workers)

	won := map[uuid.UUID]int{}
	counts := map[checkout.Verdict]int{}
	for i, v := range verdicts {
		counts[v]++
		if v == checkout.Taken {
			won[taps[i].UserID]++
		}
	}
	if counts[checkout.Taken] != units {
		t.Errorf("%d taps taken, want exactly %d (verdicts %v)", counts[checkout.Taken], units, counts)
	}
	if counts[checkout.SoldOut]+counts[checkout.LimitOver]+counts[checkout.Taken] != len(taps) {
		t.Errorf("verdicts %v: every tap must be taken, sold out or over the limit", counts)
	}
	for u, n := range won {
		if n > 1 {
			t.Errorf("customer %s won %d times with a limit of 1", u, n)
		}
	}
	for i, v := range verdicts {
		if v == checkout.LimitOver && won[taps[i].UserID] == 0 {
			t.Errorf("customer %s over the limit without winning", taps[i].UserID)
			break
		}
	}
	wantAvailable(t, g, offer, 0, true)
	if t.Failed() {
		return
	}

	// Ten winners let go; a second crowd of newcomers gets exactly those ten.
	n := 0
	for u := range won {
		if n == 10 {
			break
		}
		give(t, g, offer, u, 1)
		n++
	}
	wantAvailable(t, g, offer, 10, true)
	again := make([]checkout.Tap, 1000)
	for i := range again {
		again[i] = tap(offer, uuid.New(), 1, 1)
	}
	taken := 0
	for _, v := range stampede(ctx, t, g, again, workers) {
		if v == checkout.Taken {
			taken++
		} else if v != checkout.SoldOut {
			t.Errorf("newcomer got %v, want taken or sold out", v)
		}
	}
	if taken != 10 {
		t.Errorf("%d newcomers won after 10 units came back, want exactly 10", taken)
	}
	wantAvailable(t, g, offer, 0, true)
}

// stampede sends taps from workers goroutines released together and returns
// the verdicts in the order of taps. Errors fail the test.
func stampede(ctx context.Context, t *testing.T, g checkout.Gate, taps []checkout.Tap, workers int) []checkout.Verdict {
	t.Helper()
	verdicts := make([]checkout.Verdict, len(taps))
	var next atomic.Int64
	var errs atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			<-start
			for {
				i := int(next.Add(1) - 1)
				if i >= len(taps) {
					return
				}
				v, err := g.Take(ctx, taps[i])
				if err != nil {
					if errs.Add(1) == 1 {
						t.Errorf("Take: %v", err)
					}
					continue
				}
				verdicts[i] = v
			}
		})
	}
	close(start)
	wg.Wait()
	if n := errs.Load(); n > 0 {
		t.Fatalf("%d taps failed", n)
	}
	return verdicts
}

// testChurn takes and gives back from many goroutines at once, as holds
// being placed and released during a drop. Whatever the interleaving, the
// count must stay within bounds and end where it began, and every customer's
// count must end at zero.
func testChurn(t *testing.T, g checkout.Gate) {
	const (
		units   = 24
		workers = 32
		rounds  = 60
	)
	ctx := testCtx(t)
	offer := uuid.New()
	load(t, g, offer, units, nil, false)

	users := make([]uuid.UUID, workers)
	for i := range users {
		users[i] = uuid.New()
	}
	done := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			n, ok, err := g.Available(ctx, offer)
			if err != nil || !ok || n < 0 || n > units {
				t.Errorf("during churn Available = (%d, %v, %v), want 0..%d", n, ok, err, units)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})

	var wg sync.WaitGroup
	var taken atomic.Int64
	for _, u := range users {
		wg.Go(func() {
			for range rounds {
				v, err := g.Take(ctx, tap(offer, u, 1, 1))
				if err != nil {
					t.Errorf("Take: %v", err)
					return
				}
				switch v {
				case checkout.Taken:
					taken.Add(1)
					if err := g.Give(ctx, offer, u, 1); err != nil {
						t.Errorf("Give: %v", err)
						return
					}
				case checkout.SoldOut:
				default:
					// Each customer gives back before tapping again, so
					// the limit of one is never reached.
					t.Errorf("Take = %v, want taken or sold out", v)
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	watcher.Wait()
	if t.Failed() {
		return
	}
	if taken.Load() == 0 {
		t.Error("no tap was taken during the churn")
	}
	wantAvailable(t, g, offer, units, true)
	for _, u := range users[:units] {
		take(t, g, tap(offer, u, 1, 1), checkout.Taken)
	}
	wantAvailable(t, g, offer, 0, true)
}

func testHolds(t *testing.T, g checkout.Gate) {
	ctx := context.Background()
	offer, a, b := uuid.New(), uuid.New(), uuid.New()
	if _, known, err := g.Holds(ctx, offer, a); err != nil || known {
		t.Fatalf("Holds on an unloaded offer: known=%v err=%v", known, err)
	}
	if err := g.Load(ctx, offer, 5, map[uuid.UUID]int{a: 2}, false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user uuid.UUID
		want int
	}{{a, 2}, {b, 0}} {
		n, known, err := g.Holds(ctx, offer, tc.user)
		if err != nil || !known || n != tc.want {
			t.Fatalf("Holds = %d %v %v, want %d", n, known, err, tc.want)
		}
	}
	if v, err := g.Take(ctx, checkout.Tap{OfferID: offer, UserID: b, Quantity: 1}); err != nil || v != checkout.Taken {
		t.Fatalf("Take = %v %v", v, err)
	}
	if n, _, _ := g.Holds(ctx, offer, b); n != 1 {
		t.Fatalf("Holds after a take = %d", n)
	}
	if err := g.Give(ctx, offer, b, 1); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := g.Holds(ctx, offer, b); n != 0 {
		t.Fatalf("Holds after a give = %d", n)
	}
}
