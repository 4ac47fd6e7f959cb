package chat

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// The keeper writes this node's chat lines to the Archive, off the live
// path: a room hands a line over without waiting (a full queue drops it and
// counts it, the room never stalls on the database), and one goroutine
// writes what gathered every keepEvery, or at once when keepBatch lines
// wait, in one statement. Only the node a line was sent on keeps it, under
// the epoch and seq the bus gave it, so a batch retried after an error
// cannot double a line. On shutdown the queue is drained before the
// database closes (Hub.Close).

// Keeper tunables.
const (
	keepEvery = 200 * time.Millisecond
	keepBatch = 256
	// defaultKeepQueue is the lines that may wait for the writer.
	defaultKeepQueue = 8192
	// retentionSweep is how often the retention sweep runs (and once at start).
	retentionSweep = time.Hour
	// drainWait bounds the last flush when the context is already done.
	drainWait = 5 * time.Second
	// writeWait bounds one batch's write: a hung database is retried on
	// the next tick rather than holding the writer.
	keepWriteWait = 10 * time.Second
)

type keeper struct {
	archive   Archive
	log       *slog.Logger
	retention time.Duration // 0: lines are kept for ever

	q        chan Line
	stop     chan struct{}
	stopOnce sync.Once
	started  atomic.Bool
	done     chan struct{}

	kept, full, failed, swept prometheus.Counter
	// guard recovers a panic in a write or a sweep: the writer goes on.
	guard *crashguard.Guard
}

func newKeeper(a Archive, queue int, retention time.Duration, log *slog.Logger, reg prometheus.Registerer) *keeper {
	if queue <= 0 {
		queue = defaultKeepQueue
	}
	k := &keeper{archive: a, log: log, retention: retention, q: make(chan Line, queue), stop: make(chan struct{}), done: make(chan struct{}),
		kept:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_kept_total", Help: "Chat lines this node wrote to the chat archive."}),
		full:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_keep_dropped_total", Help: "Chat lines not archived because the archive writer's queue was full (the room went on)."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_keep_failed_total", Help: "Chat lines not archived because the database refused them until they had to go."}),
		swept:  prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_swept_total", Help: "Chat lines deleted by the retention sweep."}),
	}
	if reg != nil {
		reg.MustRegister(k.kept, k.full, k.failed, k.swept)
	}
	return k
}

// add hands a line to the writer without waiting.
func (k *keeper) add(l Line) {
	select {
	case k.q <- l:
	default:
		k.full.Inc()
	}
}

// run writes lines until ctx ends or close is called, then drains the queue.
func (k *keeper) run(ctx context.Context) {
	if !k.started.CompareAndSwap(false, true) {
		return
	}
	defer close(k.done)
	tick := time.NewTicker(keepEvery)
	defer tick.Stop()
	var sweep <-chan time.Time
	if k.retention > 0 {
		k.guard.Do("chat_keeper", func() { k.sweep(ctx) })
		t := time.NewTicker(retentionSweep)
		defer t.Stop()
		sweep = t.C
	}
	var (
		pending []Line
		// failing: the last write failed; the next waits for the tick
		// instead of following every line.
		failing bool
	)
	flush := func() {
		var err error
		if k.guard.Do("chat_keeper", func() { pending, err = k.flush(ctx, pending) }) {
			// The batch made the write panic, and would again: it goes,
			// counted, and the writer goes on with the next lines.
			k.failed.Add(float64(len(pending)))
			pending, err = nil, nil
		}
		failing = err != nil
	}
	for {
		select {
		case <-ctx.Done():
			k.drain(pending)
			return
		case <-k.stop:
			k.drain(pending)
			return
		case l := <-k.q:
			pending = append(pending, l)
			if len(pending) >= keepBatch && !failing {
				flush()
			}
		case <-tick.C:
			flush()
		case <-sweep:
			k.guard.Do("chat_keeper", func() { k.sweep(ctx) })
		}
	}
}

// flush writes pending and returns what is left to retry: on an error the
// batch waits for the next tick, bounded by the queue's size (the oldest
// lines go first, counted).
func (k *keeper) flush(ctx context.Context, pending []Line) ([]Line, error) {
	for len(pending) > 0 {
		n := min(len(pending), keepBatch)
		wctx, cancel := context.WithTimeout(ctx, keepWriteWait)
		err := k.archive.KeepLines(wctx, pending[:n])
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				k.log.Warn("archiving chat lines; will retry", "lines", len(pending), "err", err)
			}
			if over := len(pending) - cap(k.q); over > 0 {
				k.failed.Add(float64(over))
				pending = pending[over:]
			}
			return pending, err
		}
		k.kept.Add(float64(n))
		pending = pending[n:]
	}
	return pending[:0], nil
}

// drain writes what is pending and queued, with a context of its own: the
// node's has ended.
func (k *keeper) drain(pending []Line) {
	ctx, cancel := context.WithTimeout(context.Background(), drainWait)
	defer cancel()
	for more := true; more; {
		select {
		case l := <-k.q:
			pending = append(pending, l)
		default:
			more = false
		}
	}
	if left, _ := k.flush(ctx, pending); len(left) > 0 {
		k.failed.Add(float64(len(left)))
		k.log.Error("chat lines not archived at shutdown", "lines", len(left))
	}
}

// close stops the writer and waits until the queue is written (or ctx ends).
func (k *keeper) close(ctx context.Context) error {
	k.stopOnce.Do(func() { close(k.stop) })
	if k.started.CompareAndSwap(false, true) {
		// Never run: drain here.
		k.drain(nil)
		close(k.done)
	}
	select {
	case <-k.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sweep deletes the lines older than the retention.
func (k *keeper) sweep(ctx context.Context) {
	n, err := k.archive.ForgetLines(ctx, time.Now().UTC().Add(-k.retention))
	if err != nil {
		if ctx.Err() == nil {
			k.log.Warn("sweeping old chat lines", "err", err)
		}
		return
	}
	k.swept.Add(float64(n))
	if n > 0 {
		k.log.Info("swept old chat lines", "lines", n, "retention", k.retention)
	}
}
