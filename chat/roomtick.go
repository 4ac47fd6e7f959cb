package chat

import (
	"context"
	"runtime"
	"time"
)

// The room's ticker: pending events go to every viewer as one tick, at a
// cadence set by the room's size and the time the last tick took.

// flushSoon ends the current tick at once, in a room that ticks at the
// shortest tick. A bigger room's state events ride its next tick (100 ms
// at most): each extra tick costs a write per viewer, and commerce events
// at the rate of a busy sale would double a big room's writes.
func (r *Room) flushSoon() {
	if v := r.view.Load(); v != nil && tickEvery(len(*v)) > minTick {
		return
	}
	select {
	case r.flushNow <- struct{}{}:
	default:
	}
}

// flush ends the current tick: its events go to every viewer as one tick,
// encoded once per form. It runs on the room's ticker goroutine only, so
// ticks reach every viewer in sequence. Handing a tick over is an append
// per viewer; no lock of the room is held meanwhile.
func (r *Room) flush() {
	now := time.Now()
	r.mu.Lock()
	items := r.pending
	r.pending = nil
	if r.viewDirty {
		r.refreshViewLocked()
		r.viewDirty = false
	}
	viewers := r.view.Load()
	n := 0
	if viewers != nil {
		n = len(*viewers)
	}
	// Lines shed as too late (receive) are left out already: counted as
	// skipped, not as capped.
	late := 0
	for i := range items {
		if items[i].capped {
			late++
		}
	}
	capped := 0
	if big, perSec := r.hub.bigRoom(); len(items) > 0 && big >= 0 && n > big {
		capped = r.chatCap.apply(items, now, perSec)
	}
	capped += capFlood(items)
	r.mu.Unlock()
	if len(items) == 0 || n == 0 {
		return
	}
	t := newTick(now, items)
	t.capped = capped + late
	if capped > 0 {
		r.hub.metrics.capped(capped)
	}
	for i, c := range *viewers {
		c.deliver(t)
		if i%256 == 255 {
			// A big room's hand-over is thousands of writes: let the
			// node's other work (requests, the bus, the stock flush) in
			// between, as a node with one core must.
			runtime.Gosched()
		}
	}
}

// run ticks the room until ctx ends: every tickEvery (by the room's size),
// or at once when a state event is waiting. A panic in a tick is logged and
// counted, and the room ticks on.
func (r *Room) run(ctx context.Context) {
	tm := time.NewTimer(minTick)
	defer tm.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tm.C:
		case <-r.flushNow:
		}
		began := time.Now()
		r.hub.guard.Do("chat_tick", r.flush, "show", r.showID)
		took := time.Since(began)
		n := 0
		if v := r.view.Load(); v != nil {
			n = len(*v)
		}
		// The next tick is due a tick after this one began (handing a big
		// tick over takes a while, and must not stretch the cadence), and
		// no sooner than twice the time this one took: when writes
		// cost more than the room's size suggests (a busy CPU), the room
		// ticks less often instead of falling behind.
		every := min(max(tickEvery(n), took*2), maxAdaptiveTick)
		tm.Reset(max(every-took, time.Millisecond))
	}
}

// refreshViewLocked rebuilds the viewer list ticks are handed to.
func (r *Room) refreshViewLocked() {
	list := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		list = append(list, c)
	}
	r.view.Store(&list)
}
