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
)

// runGroupCommit adds the group-commit tests to the suite.
func runGroupCommit(t *testing.T, open func(t *testing.T) Env) {
	t.Run("GroupCommitLimits", func(t *testing.T) { testGroupCommitLimits(t, setup(t, open(t), 150, 2)) })
	t.Run("GroupCommitBatches", func(t *testing.T) { testGroupCommitBatches(t, setup(t, open(t), 100, 0)) })
	t.Run("GroupCommitFault", func(t *testing.T) { testGroupCommitFault(t, setup(t, open(t), 100, 0)) })
	t.Run("GroupCommitCancel", func(t *testing.T) { testGroupCommitCancel(t, setup(t, open(t), 100, 0)) })
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
