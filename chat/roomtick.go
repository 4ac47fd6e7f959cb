package chat

import (
	"context"
	"runtime"
	"time"
)

// The room's ticker: pending events are cut into ticks, kept in the room's
// log until every viewer has them, and written to the viewers: to all of
// them each tick in a room up to Hub.BigRoom viewers, in turn past it (the
// ring, below). Every viewer remembers the last tick it was handed, so one
// write takes everything it has not had, however many ticks that is.

// Big-room cadence.
const (
	// defaultBigRoomCadence is how often a big room writes to each viewer
	// while only chat and reactions wait (Hub.BigRoomCadence): every viewer
	// is handed its share of the room once per round, and a round takes
	// this long. A tick costs one write per viewer, so a big room writes to
	// each viewer in turn, spread over the round, rather than to all of
	// them every tick.
	defaultBigRoomCadence = 200 * time.Millisecond
	// ringStep is how often a big room's ring takes its next share of
	// viewers while only chat waits.
	ringStep = 10 * time.Millisecond
	// ringChunk is how many viewers a ring writes to between two looks at
	// what is pending (a state event that came meanwhile rides the rest of
	// the round) and two yields of the core to the node's other work.
	ringChunk = 256
	// ringRest is the share of a step's writing time the ring rests after
	// it (a third: writes take at most three quarters of a core; at most
	// maxStateGap), so the node's other work (reading frames, the bus, the
	// stock flush) keeps some of the core when a round is all writes.
	ringRest = 3
)

// roomLog is the room's ticks that some viewer has not been handed yet, and
// where the ring is. Only the room's ticker goroutine uses it.
type roomLog struct {
	ticks []*tick
	base  uint64 // the id of ticks[0]; ids count from 1
	last  uint64 // the id of the newest tick cut; 0: none yet
	// merged caches, per last tick handed, the tick of everything after it
	// (a viewer's catch-up): viewers written in turn share one.
	merged map[uint64]*tick

	pos       int       // the ring's next viewer
	passStart uint64    // the newest tick when the ring's current pass began
	owed      float64   // viewers due a write by the cadence, not written yet
	stateLeft int       // writes before the newest state event reached every viewer
	stepAt    time.Time // when the ring last counted what is owed
}

// newest is the id of the newest tick cut; 0: none yet.
func (l *roomLog) newest() uint64 { return l.last }

// add appends a tick to the log.
func (l *roomLog) add(t *tick) {
	l.last++
	if len(l.ticks) == 0 {
		l.base = l.last
	}
	l.ticks = append(l.ticks, t)
	clear(l.merged)
}

// since is the tick of everything after tick id sent: the newest tick
// itself when the viewer had the one before it, else the ticks merged into
// one (their frames encoded once, for every viewer at the same place).
func (l *roomLog) since(sent uint64) *tick {
	i := 0
	if sent >= l.base {
		i = int(sent - l.base + 1)
	}
	if i == len(l.ticks)-1 {
		return l.ticks[i]
	}
	if t, ok := l.merged[sent]; ok {
		return t
	}
	var items []tickItem
	capped := 0
	for _, t := range l.ticks[i:] {
		items = append(items, t.items...)
		capped += t.capped
	}
	t := newTick(l.ticks[len(l.ticks)-1].at, items)
	t.capped = capped
	if l.merged == nil {
		l.merged = map[uint64]*tick{}
	}
	l.merged[sent] = t
	return t
}

// trim drops the ticks every viewer has had: those up to id upTo.
func (l *roomLog) trim(upTo uint64) {
	if len(l.ticks) == 0 || upTo < l.base {
		return
	}
	n := min(int(upTo-l.base+1), len(l.ticks))
	clear(l.ticks[:n])
	l.ticks = l.ticks[n:]
	l.base += uint64(n)
	if len(l.ticks) == 0 {
		l.ticks = nil
	}
}

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

// cut ends the current tick: its events become the log's newest tick. It
// returns the viewers ticks are handed to, and whether the tick holds a
// state event. It runs on the room's ticker goroutine only, so ticks are
// cut in sequence.
func (r *Room) cut(now time.Time) (viewers []*conn, state bool) {
	r.mu.Lock()
	items := r.pending
	r.pending = nil
	if r.viewDirty {
		r.refreshViewLocked()
		r.viewDirty = false
	}
	if v := r.view.Load(); v != nil {
		viewers = *v
	}
	n := len(viewers)
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
	if len(items) == 0 {
		return viewers, false
	}
	t := newTick(now, items)
	t.capped = capped + late
	if capped > 0 {
		r.hub.metrics.capped(capped)
	}
	r.log.add(t)
	return viewers, t.state > 0
}

// handTo hands c what it has not had of the log.
func (r *Room) handTo(c *conn) {
	if newest := r.log.newest(); c.sent < newest {
		c.deliver(r.log.since(c.sent))
		c.sent = newest
	}
}

// flush ends the current tick and hands it to every viewer, encoded once
// per form. Handing a tick over is an append per viewer; no lock of the
// room is held meanwhile.
func (r *Room) flush() {
	viewers, _ := r.cut(time.Now())
	if len(r.log.ticks) == 0 {
		return
	}
	for i, c := range viewers {
		r.handTo(c)
		if i%ringChunk == ringChunk-1 {
			// A big room's hand-over is thousands of writes: let the
			// node's other work (requests, the bus, the stock flush) in
			// between, as a node with one core must.
			runtime.Gosched()
		}
	}
	// Every viewer has every tick now.
	r.log.trim(r.log.newest())
	r.log.passStart = r.log.newest()
	r.log.stateLeft = 0
}

// sweep is one step of a big room's ring. The viewers are written to in
// turn: each write hands one viewer everything it has not had, and each
// viewer is written to once a round. While only chat waits, a round takes
// Hub.BigRoomCadence, in steps of a share of the viewers; a state event starts
// writing at once, as fast as the node can, until the ring has gone round
// every viewer from where it was when the event came. Between chunks it
// cuts what came meanwhile, so a state event arriving mid-round is carried
// by the round's remaining writes. It returns how long to rest.
func (r *Room) sweep() time.Duration {
	l := &r.log
	began := time.Now()
	viewers, state := r.cut(began)
	n := len(viewers)
	if !l.stepAt.IsZero() {
		l.owed += float64(n) * float64(began.Sub(l.stepAt)) / float64(r.hub.bigRoomCadence())
	}
	l.stepAt = began
	// A step writes one round at most: state events coming faster than a
	// round (a stock change every 100 ms in a room of 20,000) keep the
	// ring going, resting between rounds.
	for done := 0; ; {
		if state {
			l.stateLeft = n
		}
		l.owed = min(l.owed, float64(n))
		todo := min(max(int(l.owed), l.stateLeft), n-done)
		if todo <= 0 {
			break
		}
		k := min(todo, ringChunk)
		done += k
		for range k {
			if l.pos >= n {
				r.wrap()
			}
			r.handTo(viewers[l.pos])
			l.pos++
		}
		l.owed = max(l.owed-float64(k), 0)
		l.stateLeft = max(l.stateLeft-k, 0)
		if todo == k {
			break
		}
		runtime.Gosched()
		viewers, state = r.cut(time.Now())
		n = len(viewers)
	}
	// The rest is bounded like a state event's gap (maxStateGap): on a
	// core other processes take, a step's wall time is long, and resting
	// longer would only delay the next state event.
	return min(max(ringStep, time.Since(began)/ringRest), maxStateGap)
}

// wrap starts the ring's next pass: every viewer has had the ticks up to
// where the pass that ended began (those joining meanwhile started later).
func (r *Room) wrap() {
	r.log.pos = 0
	r.log.trim(r.log.passStart)
	r.log.passStart = r.log.newest()
}

// big tells whether the room writes to its viewers in turn (the ring).
func (r *Room) big() bool {
	if r.hub.Tick > 0 {
		return false
	}
	big, _ := r.hub.bigRoom()
	v := r.view.Load()
	return big >= 0 && v != nil && len(*v) > big
}

// run ticks the room until ctx ends: every chat tick (by the room's size,
// stretched when handing ticks over takes long), or soon after a state
// event is waiting (the commerce lane: stateGap after the last hand-over
// ended); past Hub.BigRoom viewers, a step of the ring (sweep) each
// ringStep or after a rest. A panic in a tick is logged and counted, and
// the room ticks on.
func (r *Room) run(ctx context.Context) {
	tm := time.NewTimer(minTick)
	defer tm.Stop()
	var (
		ended time.Time     // when the last hand-over ended
		took  time.Duration // how long it took
		rest  time.Time     // a big room's ring rests until then
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
			// when hand-overs take long. A ring waits for its rest.
			gap := stateGapAfter(took) - time.Since(ended)
			if r.big() {
				gap = time.Until(rest)
			}
			if gap > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(gap):
				}
			}
		}
		if r.big() {
			var pause time.Duration
			r.hub.guard.Do("chat_tick", func() { pause = r.sweep() }, "show", r.showID)
			pause = max(pause, ringStep)
			rest = time.Now().Add(pause)
			ended, took = time.Now(), 0
			tm.Reset(pause)
			continue
		}
		r.log.stepAt = time.Time{}
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

// refreshViewLocked updates the viewer list ticks are handed to, keeping
// its order (the ring goes round it): viewers who left are taken out, the
// ring's place moving back by those it had passed, and viewers who joined
// are added at the end, handed the ticks from the one being cut on (their
// welcome or replay had what came before).
func (r *Room) refreshViewLocked() {
	var old []*conn
	if v := r.view.Load(); v != nil {
		old = *v
	}
	list := make([]*conn, 0, len(r.conns))
	pos := r.log.pos
	for i, c := range old {
		if _, ok := r.conns[c]; ok {
			list = append(list, c)
		} else if i < r.log.pos {
			pos--
		}
	}
	r.log.pos = pos
	for c := range r.conns {
		if !c.inView {
			c.inView = true
			c.sent = r.log.newest()
			list = append(list, c)
		}
	}
	r.view.Store(&list)
}
