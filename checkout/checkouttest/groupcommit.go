package checkouttest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// runGroupCommit adds the group-commit tests to the suite.
func runGroupCommit(t *testing.T, open func(t *testing.T) Env) {
	t.Run("GroupCommitLimits", func(t *testing.T) { testGroupCommitLimits(t, setup(t, open(t), 150, 2)) })
	t.Run("GroupCommitBatches", func(t *testing.T) { testGroupCommitBatches(t, setup(t, open(t), 100, 0)) })
	t.Run("GroupCommitFault", func(t *testing.T) { testGroupCommitFault(t, setup(t, open(t), 100, 0)) })
	t.Run("GroupCommitCancel", func(t *testing.T) { testGroupCommitCancel(t, setup(t, open(t), 100, 0)) })
	t.Run("GroupCommitReleases", func(t *testing.T) { testGroupCommitReleases(t, setup(t, open(t), 100, 0)) })
}

// heldLedger holds the first batch of holds written through it until
// released, so that the taps behind it queue; it counts the batches, and
// fails those it is told to without writing anything.
type heldLedger struct {
	checkout.Ledger
	entered chan struct{} // closed when the first batch arrives
	release chan struct{} // close to let the first batch through
	first   atomic.Bool
	fail    atomic.Bool
	mu      sync.Mutex
	sizes   []int
}

var errInjected = errors.New("injected ledger fault")

func newHeldLedger(l checkout.Ledger) *heldLedger {
	return &heldLedger{Ledger: l, entered: make(chan struct{}), release: make(chan struct{})}
}

func (h *heldLedger) ReserveBatch(ctx context.Context, holds []checkout.Hold) ([]error, error) {
	if h.first.CompareAndSwap(false, true) {
		close(h.entered)
		<-h.release
	}
	h.mu.Lock()
	h.sizes = append(h.sizes, len(holds))
	h.mu.Unlock()
	if h.fail.Load() {
		return nil, errInjected
	}
	return h.Ledger.ReserveBatch(ctx, holds)
}

func (h *heldLedger) batches() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.sizes...)
}

// holdFirstBatch wires a heldLedger into the world's service, makes one tap
// whose batch it holds, and returns it with a wait for that tap's answer.
func holdFirstBatch(t *testing.T, w *World) (*heldLedger, func() error) {
	hl := newHeldLedger(w.Svc.Ledger)
	w.Svc.Ledger = hl // before the service's first tap: its writer is made then
	first := w.Users(1)[0]
	done := make(chan error, 1)
	go func() {
		_, _, err := w.Svc.Reserve(context.Background(), first, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
		done <- err
	}()
	select {
	case <-hl.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the first tap never reached the ledger")
	}
	return hl, func() error { return <-done }
}

// waitGate waits until the gate counts avail units left: every tap meant
// to win has passed it and is on its way to the writer's queue.
func (w *World) waitGate(avail int) {
	w.t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		n, _, err := w.env.Gate.Available(context.Background(), w.Offer.ID)
		must(w.t, err)
		if n == avail {
			// A tap past the gate marshals its answer before it queues.
			time.Sleep(50 * time.Millisecond)
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("gate at %d units, want %d", n, avail)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// testGroupCommitLimits: 200 customers tap three times each (limit 2) on
// 150 units, each tap raced by a retry with the same key: exactly 150
// holds, no customer over the limit, and a key never has two holds.
func testGroupCommitLimits(t *testing.T, w *World) {
	ctx := context.Background()
	crowd := w.Users(200)
	type answer struct {
		key string
		r   *checkout.Reservation
	}
	var mu sync.Mutex
	var answers []answer
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, u := range crowd {
		for range 3 {
			key := uuid.NewString()
			for range 2 {
				wg.Go(func() {
					<-start
					r, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1, IdempotencyKey: key})
					switch {
					case err == nil:
						mu.Lock()
						answers = append(answers, answer{key, r})
						mu.Unlock()
					case errors.Is(err, checkout.ErrSoldOut), errors.Is(err, checkout.ErrLimitReached):
					default:
						t.Errorf("Reserve: %v", err)
					}
				})
			}
		}
	}
	close(start)
	wg.Wait()
	holdOf := map[string]uuid.UUID{}
	perUser := map[uuid.UUID]map[uuid.UUID]bool{}
	for _, a := range answers {
		if id, ok := holdOf[a.key]; ok && id != a.r.ID {
			t.Fatalf("key %s answered with two holds, %s and %s", a.key, id, a.r.ID)
		}
		holdOf[a.key] = a.r.ID
		if perUser[a.r.UserID] == nil {
			perUser[a.r.UserID] = map[uuid.UUID]bool{}
		}
		perUser[a.r.UserID][a.r.ID] = true
	}
	// A retry racing its first attempt takes a unit at the gate until the
	// ledger answers that its key is taken, which can send others away
	// "sold out": what is left goes to a second crowd.
	held := len(holdOf)
	if held > 150 {
		t.Fatalf("%d holds answered of 150 units", held)
	}
	for _, u := range crowd {
		n, err := w.env.Stores.Ledger.CustomerUnits(ctx, w.Offer.ID, u.ID)
		must(t, err)
		if n > 2 || n != len(perUser[u.ID]) {
			t.Fatalf("customer holds %d units in the ledger, %d answered; the limit is 2", n, len(perUser[u.ID]))
		}
	}
	w.Check(held, 0)
	if avail, _, err := w.env.Gate.Available(ctx, w.Offer.ID); err != nil || avail != 150-held {
		t.Fatalf("gate after the crowd: %d %v, want %d", avail, err, 150-held)
	}
	won, _, _ := w.wave(w.Users(100), 300)
	if n := count(won); held+n != 150 {
		t.Fatalf("second crowd: %d holds of the %d units left", n, 150-held)
	}
	w.Check(150, 0)
}

// testGroupCommitBatches: taps that arrive while a batch is being written
// go to the ledger together in the next one, not one transaction each.
func testGroupCommitBatches(t *testing.T, w *World) {
	hl, firstDone := holdFirstBatch(t, w)
	crowd := w.Users(40)
	var wg sync.WaitGroup
	var won atomic.Int64
	for _, u := range crowd {
		wg.Go(func() {
			if _, _, err := w.Svc.Reserve(context.Background(), u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); err != nil {
				t.Errorf("Reserve: %v", err)
				return
			}
			won.Add(1)
		})
	}
	w.waitGate(100 - 1 - len(crowd))
	close(hl.release)
	wg.Wait()
	must(t, firstDone())
	if won.Load() != int64(len(crowd)) {
		t.Fatalf("%d of %d taps won", won.Load(), len(crowd))
	}
	// The first batch, then the 40 queued behind it: allow a straggler batch.
	if b := hl.batches(); len(b) > 3 {
		t.Fatalf("40 taps queued behind one batch were written in %d batches %v, want them together", len(b), b)
	}
	w.Check(1+len(crowd), 0)
}

// testGroupCommitFault: a batch that fails answers every waiter in it with
// the error and writes nothing; their units go back to the gate, and the
// next batch writes normally.
func testGroupCommitFault(t *testing.T, w *World) {
	ctx := context.Background()
	hl, firstDone := holdFirstBatch(t, w)
	crowd := w.Users(30)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, u := range crowd {
		wg.Go(func() {
			_, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1, IdempotencyKey: uuid.NewString()})
			if errors.Is(err, errInjected) {
				failed.Add(1)
			} else {
				t.Errorf("Reserve in a failing batch: %v, want the injected fault", err)
			}
		})
	}
	w.waitGate(100 - 1 - len(crowd))
	hl.fail.Store(true) // the held first batch fails too
	close(hl.release)
	wg.Wait()
	if err := firstDone(); !errors.Is(err, errInjected) {
		t.Fatalf("first tap: %v, want the injected fault", err)
	}
	if failed.Load() != int64(len(crowd)) {
		t.Fatalf("%d of %d waiters got the fault", failed.Load(), len(crowd))
	}
	w.Check(0, 0)
	if avail, _, err := w.env.Gate.Available(ctx, w.Offer.ID); err != nil || avail != 100 {
		t.Fatalf("gate after a failed batch: %d %v, want 100", avail, err)
	}
	hl.fail.Store(false)
	for _, u := range crowd[:5] {
		if _, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); err != nil {
			t.Fatalf("Reserve after the fault: %v", err)
		}
	}
	w.Check(5, 0)
}

// testGroupCommitCancel: a waiter whose context ends while its hold is
// still queued gets its context's error, and nothing is written for it;
// the others in the queue are written.
func testGroupCommitCancel(t *testing.T, w *World) {
	ctx := context.Background()
	hl, firstDone := holdFirstBatch(t, w)
	crowd := w.Users(10)
	leaving, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, u := range crowd {
		wg.Go(func() {
			c := ctx
			if i%2 == 0 {
				c = leaving
			}
			r, _, err := w.Svc.Reserve(c, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
			switch {
			case i%2 == 0 && !errors.Is(err, context.Canceled):
				t.Errorf("a waiter that left: %v, %v; want canceled", r, err)
			case i%2 == 1 && err != nil:
				t.Errorf("a waiter that stayed: %v", err)
			}
		})
	}
	w.waitGate(100 - 1 - len(crowd))
	cancel()
	time.Sleep(50 * time.Millisecond) // the leavers see their context end
	close(hl.release)
	wg.Wait()
	must(t, firstDone())
	w.Check(1+len(crowd)/2, 0)
	for i, u := range crowd {
		n, err := w.env.Stores.Ledger.CustomerUnits(ctx, w.Offer.ID, u.ID)
		must(t, err)
		if want := i % 2; n != want {
			t.Fatalf("customer %d holds %d units, want %d", i, n, want)
		}
	}
	if avail, _, err := w.env.Gate.Available(ctx, w.Offer.ID); err != nil || avail != 100-1-len(crowd)/2 {
		t.Fatalf("gate after cancelled waiters: %d %v, want %d", avail, err, 100-1-len(crowd)/2)
	}
}

// releaseLedger holds the first batch of releases written through it until
// let go, so that the releases behind it queue, and counts the batches.
type releaseLedger struct {
	checkout.Ledger
	entered chan struct{}
	letGo   chan struct{}
	first   atomic.Bool
	mu      sync.Mutex
	sizes   []int
}

func (l *releaseLedger) ReleaseBatch(ctx context.Context, ids []uuid.UUID, to checkout.ReservationState, now time.Time) ([]*checkout.Reservation, []error, error) {
	if l.first.CompareAndSwap(false, true) {
		close(l.entered)
		<-l.letGo
	}
	l.mu.Lock()
	l.sizes = append(l.sizes, len(ids))
	l.mu.Unlock()
	return l.Ledger.ReleaseBatch(ctx, ids, to, now)
}

// testGroupCommitReleases: customers letting their holds go at once share
// the ledger's transactions; each hold is released exactly once, however
// many times it is released at once (the others are Gone), someone else's
// or a missing hold is NotFound, and every unit is back on the offer, the
// SKU and the gate.
func testGroupCommitReleases(t *testing.T, w *World) {
	ctx := context.Background()
	crowd := w.Users(41)
	holds := make([]*checkout.Reservation, len(crowd))
	for i, u := range crowd {
		r, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
		must(t, err)
		holds[i] = r
	}
	w.Check(len(crowd), 0)
	rl := &releaseLedger{Ledger: w.Svc.Ledger, entered: make(chan struct{}), letGo: make(chan struct{})}
	w.Svc.Ledger = rl // before the service's first release: its writer is made then

	// The first release's batch is held; the rest queue behind it.
	firstDone := make(chan error, 1)
	go func() {
		_, err := w.Svc.Release(ctx, crowd[0], holds[0].ID)
		firstDone <- err
	}()
	select {
	case <-rl.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the first release never reached the ledger")
	}
	var released, gone atomic.Int64
	var wg sync.WaitGroup
	for i := 1; i < len(crowd); i++ {
		for range 2 { // each hold released twice at once
			wg.Go(func() {
				r, err := w.Svc.Release(ctx, crowd[i], holds[i].ID)
				switch {
				case err == nil && r.ID == holds[i].ID && r.State == checkout.Released:
					released.Add(1)
				case apperr.CodeOf(err) == apperr.Gone:
					gone.Add(1)
				default:
					t.Errorf("Release: %+v, %v", r, err)
				}
			})
		}
	}
	for _, id := range []uuid.UUID{holds[1].ID, uuid.New()} { // someone else's, a missing one
		wg.Go(func() {
			if _, err := w.Svc.Release(ctx, crowd[2], id); apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("releasing a hold not the caller's: %v, want not found", err)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the releases queue behind the held batch
	close(rl.letGo)
	wg.Wait()
	must(t, <-firstDone)
	if released.Load() != int64(len(crowd)-1) || gone.Load() != int64(len(crowd)-1) {
		t.Fatalf("%d released and %d gone of %d holds released twice each", released.Load(), gone.Load(), len(crowd)-1)
	}
	w.Check(0, 0)
	if avail, _, err := w.env.Gate.Available(ctx, w.Offer.ID); err != nil || avail != 100 {
		t.Fatalf("gate after the releases: %d %v, want 100", avail, err)
	}
	rl.mu.Lock()
	sizes := append([]int(nil), rl.sizes...)
	rl.mu.Unlock()
	// The held batch, the 40 queued behind it, their 40 second tries (a
	// batch releases a hold once): allow stragglers.
	if len(sizes) > 8 {
		t.Fatalf("81 releases queued behind one batch were written in %d batches %v, want them grouped", len(sizes), sizes)
	}
}
