package checkout

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Group commit. Every winner of the gate must reach the ledger, and a
// ledger write costs a commit (an fsync on one file, a WAL flush in
// PostgreSQL) whatever it holds. So winners queue, and one writer per lane
// drains the queue: everything that arrived while the previous batch was
// being written goes into the next one, one transaction with one
// conditional update per offer and SKU (Ledger.ReserveBatch). Nobody waits
// for a window to fill: a lone tap is a batch of one, and a crowd fills
// batches by itself while a commit is under way.
//
// There is no goroutine while nothing is queued: the tap that finds its
// lane idle starts a writer, which returns once the lane is empty.
//
// A writer yields once (runtime.Gosched) before its first batch. The Go
// scheduler runs a goroutine just started ahead of everything else
// runnable; so on a server with one core the writer started by the first of
// the requests the network had just delivered took that hold alone and
// committed it before the other requests were even read: over HTTP batches
// averaged ~1.2 holds against 65–70 with the same crowd calling the service
// directly. Yielding puts the writer behind every request ready to run, so
// they queue first; it costs no wait when nothing else is runnable. Later
// batches do not yield: what arrived during a commit is already queued, and
// a yield sends the writer to the scheduler's global queue, behind all the
// work of a busy node (in cluster mode it cost batches and CPU a hold).

const (
	// maxHoldBatch bounds one batch: its statements' size, and how long its
	// first waiter waits behind the others' rows.
	maxHoldBatch = 256
	// holdBatchTimeout bounds one batch's transaction: its waiters have
	// given up on their own contexts long before.
	holdBatchTimeout = 30 * time.Second
)

// States of a queued hold.
const (
	holdQueued  int32 = iota
	holdTaken         // in a batch being written: its answer will come
	holdDropped       // its waiter left before a batch took it
)

type queuedHold struct {
	hold  Hold
	state atomic.Int32
	err   error // set before done is closed
	done  chan struct{}
}

type holdLane struct {
	mu      sync.Mutex
	queue   []*queuedHold
	writing bool
}

// holdWriter group-commits holds to a ledger.
type holdWriter struct {
	ledger  Ledger
	metrics *Metrics
	lanes   []holdLane
}

func newHoldWriter(l Ledger, m *Metrics, lanes int) *holdWriter {
	return &holdWriter{ledger: l, metrics: m, lanes: make([]holdLane, max(lanes, 1))}
}

// write queues h and waits for its answer: nil once the hold is written.
// A waiter whose ctx ends before a batch took its hold gets ctx's error and
// nothing is written for it; once taken, it waits for the batch, which is
// bounded in time.
func (w *holdWriter) write(ctx context.Context, h Hold) error {
	q := &queuedHold{hold: h, done: make(chan struct{})}
	// Holds of one offer always share a lane: one writer decides them in
	// arrival order.
	lane := &w.lanes[int(h.Reservation.OfferID[15])%len(w.lanes)]
	lane.mu.Lock()
	lane.queue = append(lane.queue, q)
	start := !lane.writing
	lane.writing = true
	lane.mu.Unlock()
	if start {
		go w.drain(context.WithoutCancel(ctx), lane)
	}
	select {
	case <-q.done:
		return q.err
	case <-ctx.Done():
		if q.state.CompareAndSwap(holdQueued, holdDropped) {
			return ctx.Err()
		}
		<-q.done
		return q.err
	}
}

// drain writes the lane's queue in batches until it is empty.
func (w *holdWriter) drain(ctx context.Context, lane *holdLane) {
	runtime.Gosched()
	for {
		lane.mu.Lock()
		batch := w.take(lane)
		if len(batch) == 0 && len(lane.queue) == 0 {
			lane.writing = false
			lane.mu.Unlock()
			return
		}
		lane.mu.Unlock()
		if len(batch) > 0 {
			w.commit(ctx, batch)
		}
	}
}

// take moves the next batch off the lane's queue (lane.mu held): up to
// maxHoldBatch holds in arrival order, leaving for a later batch any hold
// whose idempotency key is already in this one, so that a retry is decided
// after the first attempt's outcome, exactly as if they came one by one.
func (w *holdWriter) take(lane *holdLane) []*queuedHold {
	type keyID struct {
		user    uuid.UUID
		op, key string
	}
	var batch, rest []*queuedHold
	keys := map[keyID]bool{}
	for _, q := range lane.queue {
		if len(batch) == maxHoldBatch {
			rest = append(rest, q)
			continue
		}
		if k := q.hold.Key; k != nil {
			id := keyID{k.UserID, k.Op, k.Key}
			if keys[id] {
				rest = append(rest, q)
				continue
			}
			keys[id] = true
		}
		if !q.state.CompareAndSwap(holdQueued, holdTaken) {
			continue // its waiter left
		}
		batch = append(batch, q)
	}
	clear(lane.queue)
	lane.queue = append(lane.queue[:0], rest...)
	return batch
}

// commit writes one batch and answers each of its waiters. When the batch
// fails as a whole, nothing of it was written and every waiter gets the error.
func (w *holdWriter) commit(ctx context.Context, batch []*queuedHold) {
	ctx, cancel := context.WithTimeout(ctx, holdBatchTimeout)
	defer cancel()
	holds := make([]Hold, len(batch))
	for i, q := range batch {
		holds[i] = q.hold
	}
	w.metrics.holdBatch(len(holds))
	errs, err := w.ledger.ReserveBatch(ctx, holds)
	for i, q := range batch {
		if err != nil {
			q.err = err
		} else {
			q.err = errs[i]
		}
		close(q.done)
	}
}
