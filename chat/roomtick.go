package chat

import (
	"context"
	"runtime"
	"time"
)

// The room's ticker: pending events go to every viewer as one tick, at a
// cadence set by the room's size and the time the last tick took.

// flushSoon ends the current tick for a state event (the commerce lane):
// the room's ticker hands the pending tick over at once, in a room of any
// size, without waiting for the chat tick. The chat pending so far rides
// along (one frame per viewer, as a tick), and the chat tick starts again
// from there, so a state event now and then costs no extra write.
func (r *Room) flushSoon() {
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

// run ticks the room until ctx ends: every chat tick (by the room's size,
// stretched when handing ticks over takes long), or soon after a state
// event is waiting (the commerce lane: stateGap after the last hand-over
// ended). A panic in a tick is logged and counted, and the room ticks on.
func (r *Room) run(ctx context.Context) {
	tm := time.NewTimer(minTick)
	defer tm.Stop()
	var (
		ended time.Time     // when the last hand-over ended
		took  time.Duration // how long it took
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tm.C:
		case <-r.flushNow:
			// A state event does not wait for the chat tick, however big
			// the room: only for a short gap after the last hand-over,
			// which lets state events arriving together (stock of several
			// offers, a pin and its stock) share a tick, and keeps some of
			// the core for the node's other work (reading frames, the bus)
			// when hand-overs take long.
			if gap := stateGapAfter(took) - time.Since(ended); gap > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(gap):
				}
			}
		}
		began := time.Now()
		r.hub.guard.Do("chat_tick", r.flush, "show", r.showID)
		ended = time.Now()
		took = ended.Sub(began)
		// The next chat tick is due a tick after this one began (handing a
		// big tick over takes a while, and must not stretch the cadence),
		// and no sooner than twice the time this one took: when writes
		// cost more than the room's size suggests (a busy CPU), chat ticks
		// come less often instead of falling behind. State events do not
		// wait for it (flushNow).
		every := max(r.tickEvery(), min(took*2, maxAdaptiveTick))
		tm.Reset(max(every-took, time.Millisecond))
	}
}

// stateGapAfter is the least time between a hand-over that took took and
// the next state event's tick: half the hand-over, within [stateGap,
// maxStateGap]. A room whose hand-overs take 100 ms (20,000 viewers on a
// busy core) hands state events over at most two-thirds of the time.
func stateGapAfter(took time.Duration) time.Duration {
	return min(max(took/2, stateGap), maxStateGap)
}

// tickEvery is the room's chat tick: the hub's, or by the room's size.
func (r *Room) tickEvery() time.Duration {
	if r.hub.Tick > 0 {
		return r.hub.Tick
	}
	n := 0
	if v := r.view.Load(); v != nil {
		n = len(*v)
	}
	return tickEvery(n)
}

// refreshViewLocked rebuilds the viewer list ticks are handed to.
func (r *Room) refreshViewLocked() {
	list := make([]*conn, 0, len(r.conns))
	for c := range r.conns {
		list = append(list, c)
	}
	r.view.Store(&list)
}
