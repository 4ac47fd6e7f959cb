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

// States of a queued write.
const (
	writeQueued  int32 = iota
	writeTaken         // in a batch being written: its answer will come
	writeDropped       // its waiter left before a batch took it
)

type queuedWrite[T any] struct {
	item  T
	state atomic.Int32
	err   error // set before done is closed
	done  chan struct{}
}

type writeLane[T any] struct {
	mu      sync.Mutex
	queue   []*queuedWrite[T]
	writing bool
}

// groupWriter group-commits items of one kind (holds, releases) through
// commit, which writes a batch in one transaction and answers each item.
type groupWriter[T any] struct {
	lanes []writeLane[T]
	// lane picks an item's lane: items that must be decided in arrival
	// order share one.
	lane func(T) int
	// key, when it returns non-nil, names what no two items of one batch
	// may share: the later one waits for the next batch, so it is decided
	// after the first one's outcome, exactly as if they came one by one.
	key func(T) any
	// commit writes the batch: errs[i] is items[i]'s answer; err, the
	// batch's failure as a whole (nothing of it written).
	commit func(ctx context.Context, items []T) (errs []error, err error)
}

// write queues item and waits for its answer: nil once it is written.
// A waiter whose ctx ends before a batch took its item gets ctx's error and
// nothing is written for it; once taken, it waits for the batch, which is
// bounded in time.
func (w *groupWriter[T]) write(ctx context.Context, item T) error {
	q := &queuedWrite[T]{item: item, done: make(chan struct{})}
	lane := &w.lanes[w.lane(item)%len(w.lanes)]
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
		if q.state.CompareAndSwap(writeQueued, writeDropped) {
			return ctx.Err()
		}
		<-q.done
		return q.err
	}
}

// drain writes the lane's queue in batches until it is empty.
func (w *groupWriter[T]) drain(ctx context.Context, lane *writeLane[T]) {
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
			w.write1(ctx, batch)
		}
	}
}

// take moves the next batch off the lane's queue (lane.mu held): up to
// maxHoldBatch items in arrival order, leaving for a later batch any item
// whose key is already in this one.
func (w *groupWriter[T]) take(lane *writeLane[T]) []*queuedWrite[T] {
	var batch, rest []*queuedWrite[T]
	keys := map[any]bool{}
	for _, q := range lane.queue {
		if len(batch) == maxHoldBatch {
			rest = append(rest, q)
			continue
		}
		if k := w.key(q.item); k != nil {
			if keys[k] {
				rest = append(rest, q)
				continue
			}
			keys[k] = true
		}
		if !q.state.CompareAndSwap(writeQueued, writeTaken) {
			continue // its waiter left
		}
		batch = append(batch, q)
	}
	clear(lane.queue)
	lane.queue = append(lane.queue[:0], rest...)
	return batch
}

// write1 writes one batch and answers each of its waiters. When the batch
// fails as a whole, nothing of it was written and every waiter gets the error.
func (w *groupWriter[T]) write1(ctx context.Context, batch []*queuedWrite[T]) {
	ctx, cancel := context.WithTimeout(ctx, holdBatchTimeout)
	defer cancel()
	items := make([]T, len(batch))
	for i, q := range batch {
		items[i] = q.item
	}
	errs, err := w.commit(ctx, items)
	for i, q := range batch {
		if err != nil {
			q.err = err
		} else {
			q.err = errs[i]
		}
		close(q.done)
	}
}

// holdWriter group-commits holds to a ledger (Ledger.ReserveBatch). Holds
// of one offer always share a lane: one writer decides them in arrival
// order. A batch holds an idempotency key once.
type holdWriter = groupWriter[Hold]

// holdKey is what no two holds of one batch may share.
type holdKey struct {
	user    uuid.UUID
	op, key string
}

func newHoldWriter(l Ledger, m *Metrics, lanes int) *holdWriter {
	return &holdWriter{
		lanes: make([]writeLane[Hold], max(lanes, 1)),
		lane:  func(h Hold) int { return int(h.Reservation.OfferID[15]) },
		key: func(h Hold) any {
			if k := h.Key; k != nil {
				return holdKey{k.UserID, k.Op, k.Key}
			}
			return nil
		},
		commit: func(ctx context.Context, holds []Hold) ([]error, error) {
			m.holdBatch(len(holds))
			return l.ReserveBatch(ctx, holds)
		},
	}
}

// release is one customer's release waiting for the group commit; the
// batch fills in the reservation as it ended.
type release struct {
	id  uuid.UUID
	now time.Time
	r   *Reservation
}

// releaseWriter group-commits releases (Ledger.ReleaseBatch): a drop's
// customers letting holds go at once share commits as their taps do. A
// batch releases a reservation once (a second release of it waits, and
// finds it no longer held).
type releaseWriter = groupWriter[*release]

func newReleaseWriter(l Ledger, lanes int) *releaseWriter {
	return &releaseWriter{
		lanes: make([]writeLane[*release], max(lanes, 1)),
		lane:  func(r *release) int { return int(r.id[15]) },
		key:   func(r *release) any { return r.id },
		commit: func(ctx context.Context, rs []*release) ([]error, error) {
			// One time per batch, its latest release's: they end together.
			ids := make([]uuid.UUID, len(rs))
			now := rs[0].now
			for i, r := range rs {
				ids[i] = r.id
				if r.now.After(now) {
					now = r.now
				}
			}
			ended, errs, err := l.ReleaseBatch(ctx, ids, Released, now)
			if err != nil {
				return nil, err
			}
			for i, r := range rs {
				r.r = ended[i]
			}
			return errs, nil
		},
	}
}
