package chat

import (
	"strconv"
	"sync"
	"time"
)

// Ticks and lanes. A room does not write each event to each viewer: it
// gathers what happened during a short tick and hands every viewer the same
// tick, whose frames are encoded once (lazily, per protocol version and per
// form) and written from that one shared buffer. A viewer's writer takes all
// the ticks waiting for it in one write.
//
// Events travel in two lanes. Commerce and state events (pin, stock,
// sold_out, drop, show, show_state, moderation, viewer counts) are never
// left out and never wait behind chat: one ends the current tick at once,
// in a room of any size (Room.run: no sooner than stateGapAfter the last
// hand-over ended), and the chat gathered so far goes with it; the chat
// tick then starts again, so a state event costs no extra write per viewer
// unless state events come faster than the chat tick. Chat and reactions
// wait for the tick; a viewer whose writer finds a tick older than chatLag
// (it fell behind) gets that tick's lean form: its state events only, and
// the number of chat lines it skipped.
// A room with more than Hub.BigRoom viewers on this node sends each viewer at
// most Hub.BigRoomChat chat lines a second (the newest; the show's staff's
// always): the rest are left out of every viewer's frame and counted, and
// it writes to its viewers in turn (roomtick.go: the ring), each viewer
// once a round, rather than to all of them every tick.

// lane is how an event travels.
type lane uint8

const (
	laneState lane = iota // commerce and state: at once, never shed
	laneChat              // chat and reactions: per tick, sampled
)

// TypeBatch is the frame of a v2 connection's room traffic.
const TypeBatch = "batch"

// laneOf tells an event's lane by its type.
func laneOf(typ string) lane {
	switch typ {
	case EvChat, "reactions", EvBought:
		// A "just bought" notice is social proof, not stock: in a stampede
		// it is sampled like chat (the offer it carries is merged by as_of,
		// so a later event or the welcome brings the counts back).
		return laneChat
	}
	return laneState
}

// Tick tunables.
const (
	minTick = 20 * time.Millisecond
	maxTick = 100 * time.Millisecond
	// stateGap is the least time between the end of a hand-over and a
	// state event's tick (the commerce lane): state events arriving
	// together go in one tick, and the node's other work (reading frames,
	// the bus) gets the core in between when hand-overs take long.
	stateGap    = 10 * time.Millisecond
	maxStateGap = 50 * time.Millisecond // Room.run: half the last hand-over, up to this
	// maxAdaptiveTick bounds a tick stretched by the time handing the
	// previous one over took (Room.run).
	maxAdaptiveTick = 250 * time.Millisecond
	// viewersPerTickMs sets the tick by the room's size: a room of 60
	// viewers per millisecond of tick (1,200 at 20 ms, 6,000 and more at
	// 100 ms). A tick costs one write per viewer, so a big room ticks less
	// often and writes more per tick.
	viewersPerTickMs = 60
	// chatLag is how old a tick's chat may be when a viewer's writer gets
	// to it: older, and the viewer gets the tick's lean form.
	chatLag = 200 * time.Millisecond
	// maxTickChat bounds the chat lines of one tick (the staff's aside): a
	// flood past it is sampled for everyone, the newest kept, so a tick's
	// frame stays small enough to write at once.
	maxTickChat = 64
	// maxPendingTicks bounds the ticks waiting for one viewer's writer;
	// past it the viewer is disconnected as too slow.
	maxPendingTicks = 512
)

// Defaults of the big-room chat cap.
const (
	defaultBigRoom     = 8000
	defaultBigRoomChat = 10
)

// tickEvery is the tick for a room of n viewers on this node.
func tickEvery(n int) time.Duration {
	return min(max(time.Duration(n/viewersPerTickMs)*time.Millisecond, minTick), maxTick)
}

// tickItem is one event of a tick.
type tickItem struct {
	seq    uint64 // 0: unsequenced (reactions, viewers)
	data   []byte // the event's JSON object
	pm     frame  // the event as a text frame of its own (v1)
	lane   lane
	staff  bool // chat by the show's staff: never capped
	capped bool // left out: by the big room's chat cap, or shed as too late (Room.receive)
}

// Forms of a tick.
const (
	formV1Full = iota // every event, each its own text frame
	formV1Lean        // state events only, each its own text frame
	formV2Full        // one batch frame of every event
	formV2Lean        // one batch frame of the state events, "skipped" counting the chat left out
	numForms
)

// tick is what a room hands each of its viewers: the events of one tick, in
// sequence. Its frames are built once, on first use, and shared.
type tick struct {
	at          time.Time
	first, last uint64 // the sequenced events' range; 0: none
	items       []tickItem
	state       int // state-lane items
	chat        int // sequenced chat-lane items
	capped      int // items left out by the chat cap or shed as too late
	// keep marks a replay for one viewer: written whole, and before the
	// ticks it overlaps; trailer is a frame to write after it ("resumed").
	keep    bool
	trailer []byte

	once   [numForms]sync.Once
	frames [numForms]frame
}

func newTick(at time.Time, items []tickItem) *tick {
	t := &tick{at: at, items: items}
	for _, it := range items {
		if it.seq != 0 {
			if t.first == 0 {
				t.first = it.seq
			}
			t.last = it.seq
		}
		switch {
		case it.lane == laneState:
			t.state++
		case it.seq != 0:
			t.chat++
		}
	}
	return t
}

// frame returns the shared frame of a form.
func (t *tick) frame(form int) frame {
	t.once[form].Do(func() { t.frames[form] = t.encode(form, 0) })
	return t.frames[form]
}

// encode builds a form, leaving out sequenced events up to seq after (a
// viewer who joined during the tick has them from its welcome or replay).
func (t *tick) encode(form int, after uint64) frame {
	lean := form == formV1Lean || form == formV2Lean
	in := func(it *tickItem) bool {
		return (it.seq == 0 || it.seq > after) && !(lean && it.lane == laneChat) && !it.capped
	}
	var out frame
	switch form {
	case formV1Full, formV1Lean:
		for i := range t.items {
			if it := &t.items[i]; in(it) {
				out = append(out, it.pm...)
			}
		}
	default:
		var skipped int
		b := make([]byte, 0, 64+len(t.items)*160)
		b = append(b, `{"type":"batch"`...)
		if t.last > after {
			b = append(b, `,"seq":`...)
			b = strconv.AppendUint(b, t.last, 10)
		}
		n := 0
		b = append(b, `,"events":[`...)
		for i := range t.items {
			it := &t.items[i]
			if it.seq != 0 && it.seq <= after {
				continue
			}
			if !in(it) {
				if it.seq != 0 {
					skipped++
				}
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, it.data...)
			n++
		}
		b = append(b, ']')
		if skipped > 0 {
			b = append(b, `,"skipped":`...)
			b = strconv.AppendInt(b, int64(skipped), 10)
		}
		b = append(b, '}')
		if n > 0 || skipped > 0 || t.last > after {
			out = textFrame(b)
		}
	}
	if t.trailer != nil {
		out = append(out, textFrame(t.trailer)...)
	}
	return out
}

// skippedIn counts the chat lines a form leaves out.
func (t *tick) skippedIn(lean bool) int {
	if lean {
		return t.chat
	}
	return t.capped
}

// capFlood marks the chat lines of items past maxTickChat as capped, the
// oldest first, and returns how many it capped.
func capFlood(items []tickItem) int {
	kept, capped := 0, 0
	for i := len(items) - 1; i >= 0; i-- {
		it := &items[i]
		if it.lane != laneChat || it.seq == 0 || it.staff || it.capped {
			continue
		}
		if kept < maxTickChat {
			kept++
			continue
		}
		it.capped = true
		capped++
	}
	return capped
}

// chatCap is a room's budget of chat lines a second for each viewer, once
// the room is big: a token bucket refilled by time.
type chatCap struct {
	tokens float64
	at     time.Time
}

// apply marks the chat lines of items past the budget as capped, keeping
// the newest and the staff's, and returns how many it capped.
func (cc *chatCap) apply(items []tickItem, now time.Time, perSec float64) int {
	if !cc.at.IsZero() {
		cc.tokens = min(cc.tokens+now.Sub(cc.at).Seconds()*perSec, perSec)
	} else {
		cc.tokens = perSec
	}
	cc.at = now
	capped := 0
	for i := len(items) - 1; i >= 0; i-- {
		it := &items[i]
		if it.lane != laneChat || it.seq == 0 || it.staff || it.capped {
			continue
		}
		if cc.tokens >= 1 {
			cc.tokens--
			continue
		}
		it.capped = true
		capped++
	}
	return capped
}
