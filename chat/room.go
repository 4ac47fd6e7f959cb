package chat

import (
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// entry is one sequenced event in a room's history, encoded once.
type entry struct {
	seq  uint64
	data []byte
	pm   frame
	ev   roomEvent
}

// Room is one show's live room on this node. Its events travel through the
// bus, numbered there, so every node's copy of the room sees the same
// sequence; each node keeps the recent history for resume.
type Room struct {
	hub     *Hub
	showID  uuid.UUID
	channel string
	sub     Subscription
	cancel  context.CancelFunc

	// view is the viewer list a tick is handed to, rebuilt by the tick
	// after viewers joined or left (viewDirty), not on every join.
	view atomic.Pointer[[]*conn]
	// flushNow ends the tick at once: a state event is waiting.
	flushNow chan struct{}

	mu sync.Mutex
	// show is the show as last edited: every node's room applies each edit
	// (show events through the bus), so that welcomes and chat go by the
	// current hosts and visibility. Privileged frames read the show afresh.
	show   ShowView
	conns  map[*conn]struct{}
	people map[string]int        // sockets per person (conn.who): the viewer count is its size
	byUser map[uuid.UUID][]*conn // signed-in viewers' connections, for their order updates
	// pending is the current tick's events (tick.go); viewDirty says the
	// viewer list changed since the last tick.
	pending   []tickItem
	viewDirty bool
	chatCap   chatCap
	epoch     string
	last      uint64  // highest seq seen
	history   []entry // ascending seq, contiguous, at most hub.History long
	// kept holds chat lines older than history, oldest first, at most
	// recentChat: read from the archive when the room opened, and history's
	// lines when a gap or a new numbering emptied it. Welcomes show them
	// after history's own.
	kept []keptLine
	// offers holds the one copy of each offer's live state; pin, stock,
	// sold_out and drop events replace it when newer (OfferView.AsOf).
	offers map[uuid.UUID]*OfferView
	pinned uuid.UUID // uuid.Nil: nothing pinned
	pins   uint64    // pin events applied, so a read of the stored pin older than one is not kept
	// draws holds each offer's latest fair draw (draws.go), from the store
	// when the room opened and draw events since.
	draws map[uuid.UUID]*checkout.DrawRecord
	// stored is the show as last read from the store for a privileged
	// frame, at storedAt; a show event drops it.
	stored   *show.Show
	storedAt time.Time
	edits    uint64 // show events applied, so a read older than one is not kept
	muted    map[uuid.UUID]time.Time
	banned   map[uuid.UUID]bool
	slow     time.Duration
	words    []string
	lastChat map[uuid.UUID]time.Time
	limits   map[uuid.UUID]*rate.Limiter
	reacts   map[string]int // this node's reactions since the last tick
	viewers  int
	idleAt   time.Time // when the last viewer left; zero while anyone is here
}

// join registers c and sends its first frames: a welcome snapshot, or the
// events it missed when it resumes within history. Registering and reading
// the history happen under one lock, so nothing falls between them.
func (r *Room) join(c *conn, epoch string, after uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns[c] = struct{}{}
	if c.user != nil {
		r.byUser[c.user.ID] = append(r.byUser[c.user.ID], c)
	}
	r.people[c.who]++
	r.viewDirty = true
	r.idleAt = time.Time{}
	// Events up to r.last reach c through its welcome or its replay; the
	// current tick (handed to c too) may hold some of them.
	c.tickMu.Lock()
	c.skipThrough = r.last
	c.tickMu.Unlock()
	if epoch != "" {
		// A replay must fit what a viewer may have waiting, or a snapshot
		// is the cheaper answer.
		if missed, ok := r.missedLocked(epoch, after); ok && len(missed) < queueCap {
			items := make([]tickItem, len(missed))
			for i, e := range missed {
				items[i] = tickItem{seq: e.seq, data: e.data, pm: e.pm, lane: laneState}
			}
			t := newTick(time.Now(), items)
			t.keep = true
			// "resumed" closes the replay, so it travels with it: own
			// results overtake room traffic.
			t.trailer = mustJSON(map[string]any{"type": "resumed", "epoch": r.epoch, "seq": r.last, "replayed": len(missed)})
			c.deliver(t)
			return
		}
	}
	c.reply(r.welcomeLocked(c.user, epoch != ""))
}

// missedLocked returns the events after seq "after", if the history still
// reaches back that far in the same epoch.
func (r *Room) missedLocked(epoch string, after uint64) ([]entry, bool) {
	if epoch != r.epoch || after > r.last {
		return nil, false
	}
	if after == r.last {
		return nil, true
	}
	if len(r.history) == 0 || r.history[0].seq > after+1 {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(r.history, after+1, func(e entry, s uint64) int { return int(e.seq - s) })
	return slices.Clone(r.history[i:]), true
}

// recentChat is how many chat messages a welcome carries.
const recentChat = 50

// keptLine is a chat line a room holds outside its history.
type keptLine struct {
	epoch   string
	seq     uint64
	id      string
	data    []byte // the chat event with its seq, as viewers got it
	deleted bool
}

// keptFrom turns archived lines, newest first, into kept lines, oldest first.
func keptFrom(lines []Line) []keptLine {
	out := make([]keptLine, 0, len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		out = append(out, keptLineOf(&lines[i]))
	}
	return out
}

// keptLineOf is an archived line as the chat event viewers got.
func keptLineOf(l *Line) keptLine {
	at := l.At
	ev := roomEvent{Type: EvChat, ID: l.ID.String(), User: &Author{ID: l.Author.ID, Name: l.Author.Name}, Text: l.Text, At: &at, Staff: l.Staff}
	return keptLine{epoch: l.Epoch, seq: l.Seq, id: ev.ID, data: withSeq(l.Seq, mustJSON(ev))}
}

// fillWait is how long a room waits before it reads the chat lines its bus
// lost from the archive: their writers flush every keepEvery.
const fillWait = 3 * keepEvery

// fillLater reads, after fillWait, the chat lines of epoch numbered between
// after and before (a gap: the bus lost them on the way to this node) from
// the archive, for later welcomes. The viewers here already got newer
// events, so the lines are not sent to them: a client that saw the gap
// resumes, and its fresh welcome has them.
func (r *Room) fillLater(epoch string, after, before uint64) {
	a := r.hub.Archive
	if a == nil || before <= after+1 {
		return
	}
	time.AfterFunc(fillWait, func() {
		defer r.hub.guard.Recover("chat_timer", "show", r.showID)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lines, err := a.LinesBetween(ctx, r.showID, epoch, after, before)
		if err != nil {
			r.hub.log().Warn("reading the chat a room missed from the archive", "show", r.showID, "err", err)
			return
		}
		r.mu.Lock()
		r.insertKeptLocked(epoch, lines)
		r.mu.Unlock()
	})
}

// insertKeptLocked puts lines of epoch, in seq order, among the kept ones:
// before any later line of the epoch, after the rest (history is newer).
func (r *Room) insertKeptLocked(epoch string, lines []Line) {
	have := map[string]bool{}
	for _, k := range r.kept {
		have[k.id] = true
	}
	for _, e := range r.history {
		have[e.ev.ID] = true
	}
	var add []keptLine
	for i := range lines {
		if k := keptLineOf(&lines[i]); !have[k.id] {
			add = append(add, k)
		}
	}
	if len(add) == 0 {
		return
	}
	last := add[len(add)-1].seq
	at := slices.IndexFunc(r.kept, func(k keptLine) bool { return k.epoch == epoch && k.seq > last })
	if at < 0 {
		at = len(r.kept)
	}
	r.kept = slices.Insert(r.kept, at, add...)
	if n := len(r.kept) - recentChat; n > 0 {
		r.kept = slices.Delete(r.kept, 0, n)
	}
}

// keepHistoryLocked moves history's chat lines into kept before history is
// emptied (a gap, a new numbering), so welcomes still show them.
func (r *Room) keepHistoryLocked() {
	for _, e := range r.history {
		if e.ev.Type == EvChat {
			r.kept = append(r.kept, keptLine{epoch: r.epoch, seq: e.seq, id: e.ev.ID, data: e.data})
		}
	}
	if n := len(r.kept) - recentChat; n > 0 {
		r.kept = slices.Delete(r.kept, 0, n)
	}
}

// recentLocked is a welcome's recent chat, oldest first: history's lines,
// then the kept ones before them.
func (r *Room) recentLocked() []json.RawMessage {
	var recent []json.RawMessage
	seen := map[string]bool{}
	for i := len(r.history) - 1; i >= 0 && len(recent) < recentChat; i-- {
		if r.history[i].ev.Type == EvChat {
			recent = append(recent, r.history[i].data)
			seen[r.history[i].ev.ID] = true
		}
	}
	for i := len(r.kept) - 1; i >= 0 && len(recent) < recentChat; i-- {
		// A line can be both archived and in history: the room opened as
		// it was on its way.
		if k := &r.kept[i]; !k.deleted && !seen[k.id] {
			recent = append(recent, k.data)
		}
	}
	slices.Reverse(recent)
	return recent
}

func (r *Room) welcomeLocked(u *account.User, reset bool) []byte {
	recent := r.recentLocked()
	offers := make([]*OfferView, 0, len(r.offers))
	for _, o := range r.offers {
		offers = append(offers, o)
	}
	slices.SortFunc(offers, func(a, b *OfferView) int { return strings.Compare(a.ID.String(), b.ID.String()) })
	you := map[string]any{"signed_in": u != nil}
	if u != nil {
		you["id"], you["name"] = u.ID, u.DisplayName
		you["can_moderate"] = account.CanHost(u, r.show.BrandID, r.show.HostIDs)
		if until, ok := r.muted[u.ID]; ok && time.Now().Before(until) {
			you["muted_until"] = until
		}
	}
	// The pinned offer is the room's live copy of it, not the copy the pin
	// event carried: a late joiner sees the stock and drop window of now.
	var pinned *OfferView
	if r.pinned != uuid.Nil {
		pinned = r.offers[r.pinned]
	}
	now := time.Now().UTC()
	return mustJSON(map[string]any{
		"type": "welcome", "reset": reset, "epoch": r.epoch, "seq": r.last,
		"show":   r.show,
		"pinned": pinned, "offers": offers, "draws": r.drawsLocked(now), "recent": nonNilRaw(recent), "viewers": r.viewers,
		"slow_mode_seconds": int(r.slow / time.Second), "you": you, "server_time": now,
	})
}

func nonNilRaw(s []json.RawMessage) []json.RawMessage {
	if s == nil {
		return []json.RawMessage{}
	}
	return s
}

func (r *Room) leave(c *conn) {
	r.mu.Lock()
	if _, ok := r.conns[c]; ok {
		if r.people[c.who]--; r.people[c.who] <= 0 {
			delete(r.people, c.who)
		}
	}
	delete(r.conns, c)
	if c.user != nil {
		list := slices.DeleteFunc(r.byUser[c.user.ID], func(x *conn) bool { return x == c })
		if len(list) == 0 {
			delete(r.byUser, c.user.ID)
		} else {
			r.byUser[c.user.ID] = list
		}
	}
	r.viewDirty = true
	if len(r.conns) == 0 {
		r.idleAt = time.Now()
	}
	r.mu.Unlock()
}

// receive handles one bus message: a numbered room event, or (unnumbered)
// another node's reaction counts.
func (r *Room) receive(msg []byte) {
	seq, payload, err := Unframe(msg)
	if err != nil {
		r.fanout(msg, laneChat) // another node's reaction counts
		return
	}
	var ev roomEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		r.hub.log().Warn("undecodable room event", "show", r.showID, "err", err)
		return
	}
	data := withSeq(seq, payload)
	pm := textFrame(data)
	// Chat that waited too long behind an overloaded node is shed for the
	// whole room: late chat is noise, and skipping it lets the room catch up.
	// It stays in history for welcomes and resumes.
	ln := laneOf(ev.Type)
	shed := ln == laneChat && ev.At != nil && time.Since(*ev.At) > staleChat
	if shed {
		r.hub.metrics.dropped()
	}
	// A shed line still rides the tick, left out of every form like capped
	// chat: a v2 viewer's batch counts it as skipped, so nothing is left
	// out without a count, however late the line came.
	item := tickItem{seq: seq, data: data, pm: pm, lane: ln, staff: ev.Staff, capped: shed}
	if !r.record(seq, data, pm, ev, item, true) {
		return // already seen
	}
	if ln == laneState {
		r.flushSoon()
	}
}

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

// record enters a numbered event into the room's history and state, and
// into the current tick when deliver; false: the event was seen before.
// The lock is released by defer, so a panic on an event's content (which
// receiveGuarded recovers) cannot leave the room locked for good.
func (r *Room) record(seq uint64, data []byte, pm frame, ev roomEvent, item tickItem, deliver bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		restarted bool
		epoch     string
	)
	if seq <= r.last {
		// Seen before, or numbered anew below where the old numbering had
		// got to (its first events, 1 included, may have been lost on the
		// way): the epoch tells. Seeing an event twice is rare.
		epoch = r.busEpochLocked()
		restarted = seq == 1 || (epoch != "" && epoch != r.epoch)
	}
	switch {
	case restarted:
		// The numbering restarted (a Redis that lost its data): a new epoch.
		r.keepHistoryLocked()
		if epoch != "" {
			r.epoch = epoch
		}
		r.history = r.history[:0]
		r.fillLater(r.epoch, 0, seq)
		// What viewers were told they had ("up to r.last") counted in the
		// old numbering: kept, it would hide every new event numbered below it.
		for c := range r.conns {
			c.tickMu.Lock()
			c.skipThrough = 0
			c.tickMu.Unlock()
		}
		go r.resync()
	case seq <= r.last:
		return false
	case r.last != 0 && seq != r.last+1:
		// The bus dropped something on the way here: history no longer
		// reaches back without a hole, so resumes before this get a snapshot,
		// and the room reads what the lost events may have changed.
		r.keepHistoryLocked()
		r.history = r.history[:0]
		r.fillLater(r.epoch, r.last, seq)
		go r.resync()
	}
	r.last = seq
	r.history = append(r.history, entry{seq: seq, data: data, pm: pm, ev: ev})
	if n := len(r.history) - r.hub.history(); n > 0 {
		r.history = slices.Delete(r.history, 0, n)
	}
	r.applyLocked(&ev)
	if deliver {
		r.pending = append(r.pending, item)
	}
	return true
}

// busEpochLocked reads the numbering's epoch from the bus; "" when the bus
// cannot say.
func (r *Room) busEpochLocked() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	epoch, err := r.hub.Bus.Epoch(ctx, r.channel)
	if err != nil {
		return ""
	}
	return epoch
}

// staleChat is how old a chat message may be when it reaches this node and
// still be shown.
const staleChat = 2 * time.Second

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

// applyLocked keeps the room's state in step with its events, on every node.
func (r *Room) applyLocked(ev *roomEvent) {
	// Recovered here, under the lock the caller holds, so a panic on an
	// event's content cannot leave the room locked.
	defer r.hub.guard.Recover("chat_bus", "show", r.showID, "event", ev.Type)
	if ev.Offer != nil {
		r.mergeOfferLocked(ev.Offer)
	}
	switch ev.Type {
	case EvPin:
		r.pinned = uuid.Nil
		if ev.OfferID != nil {
			r.pinned = *ev.OfferID
		}
		r.pins++
	case EvStock, EvSoldOut:
		// An event without the whole offer (from an older node) still moves
		// the count.
		if ev.Offer == nil && ev.OfferID != nil && ev.Avail != nil {
			if o, ok := r.offers[*ev.OfferID]; ok {
				o.Available = *ev.Avail
			}
		}
	case EvShowState:
		r.show.State = ev.State
		if ev.State == string(show.Ended) || ev.State == string(show.Cancelled) {
			// A show that is over features nothing (the store unpinned it
			// as it ended).
			r.pinned = uuid.Nil
			r.pins++
		}
	case EvShow:
		if ev.Show != nil {
			r.setShowLocked(ev.Show)
		}
	case EvDrop:
		if ev.OfferID != nil {
			if o, ok := r.offers[*ev.OfferID]; ok && ev.Offer == nil {
				o.Drop, o.DropOpensAt, o.DropClosesAt = true, ev.Opens, ev.Closes
			}
			// Every node's checkout must see the new window at once, not when
			// its offer cache runs out.
			if r.hub.Checkout != nil {
				r.hub.Checkout.ForgetShow(r.showID)
			}
		}
	case EvDraw:
		if ev.Draw != nil {
			r.mergeDrawLocked(ev.Draw)
		}
	case EvModeration:
		switch ev.Action {
		case ActMute:
			if ev.Subject != nil && ev.Until != nil {
				r.muted[*ev.Subject] = *ev.Until
			}
		case ActUnmute:
			if ev.Subject != nil {
				delete(r.muted, *ev.Subject)
			}
		case ActBan:
			if ev.Subject != nil {
				r.banned[*ev.Subject] = true
			}
		case ActUnban:
			if ev.Subject != nil {
				delete(r.banned, *ev.Subject)
			}
		case ActSlow:
			r.slow = time.Duration(ev.Seconds) * time.Second
		case ActWords:
			r.words = ev.Words
		case ActDelete:
			for i := range r.history {
				if r.history[i].seq == ev.Target && r.history[i].ev.Type == EvChat {
					// Gone from what welcomes and resumes show; clients that
					// saw it remove it on the moderation event.
					r.history[i].ev.Type = "deleted"
				}
			}
			for i := range r.kept {
				if k := &r.kept[i]; k.seq == ev.Target && k.epoch == r.epoch {
					k.deleted = true
				}
			}
		}
	}
	if ev.Type == EvModeration && ev.Action == ActBan && ev.Subject != nil {
		for c := range r.conns {
			if c.user != nil && c.user.ID == *ev.Subject {
				c.stop(4003, "banned from this show")
			}
		}
	}
}

// mergeOfferLocked keeps v as the offer's state unless the room holds a
// newer copy. The room's copies are its own: v is not kept.
func (r *Room) mergeOfferLocked(v *OfferView) {
	if cur := r.offers[v.ID]; v.newer(cur) {
		cp := *v
		r.offers[v.ID] = &cp
	}
}

// setShowLocked takes v as the room's show unless the room holds a later
// edit, and lets go of viewers who may no longer see it (a show switched to
// members-only). Checkout's cached copy of the show goes too.
func (r *Room) setShowLocked(v *ShowView) {
	if v.UpdatedAt.Before(r.show.UpdatedAt) {
		return
	}
	r.show = *v
	r.stored = nil
	r.edits++
	if r.hub.Checkout != nil {
		r.hub.Checkout.ForgetShow(r.showID)
	}
	for c := range r.conns {
		if !account.CanSeeShow(c.user, v.Visibility == string(show.Members), v.BrandID, v.HostIDs) {
			c.stop(CloseHidden, "this show is no longer open to you")
		}
	}
}

// CloseHidden closes the connections of viewers who may no longer see the
// show (it became members-only); a new connection gets HTTP 404.
const CloseHidden = 4004

// observeShow takes a show just read from the store if it is a later edit
// than the room holds: a bus event that was lost or is still on its way
// does not leave the room behind what a new viewer was admitted by.
func (r *Room) observeShow(sh *show.Show) {
	r.mu.Lock()
	if sh.UpdatedAt.After(r.show.UpdatedAt) {
		r.setShowLocked(showView(sh))
	}
	r.mu.Unlock()
}

// resync reads the show, its offers, its pin and its draws again after the
// room missed events.
func (r *Room) resync() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if sh, err := r.hub.Shows.ShowByID(ctx, r.showID); err == nil {
		r.observeShow(sh)
	}
	if fresh, err := r.hub.offerViews(ctx, r.showID); err == nil {
		r.mu.Lock()
		for _, v := range fresh {
			r.mergeOfferLocked(v)
		}
		r.mu.Unlock()
	}
	if err := r.loadPin(ctx); err != nil {
		r.hub.log().Warn("reading the show's pin", "show", r.showID, "err", err)
	}
	if err := r.loadDraws(ctx); err != nil {
		r.hub.log().Warn("reading the show's draws", "show", r.showID, "err", err)
	}
}

// loadPin takes the show's pin as stored, unless a pin event was applied
// while it was read (the event is newer). A pinned offer the room does not
// know yet (added to the show since the room read its offers) is read too.
func (r *Room) loadPin(ctx context.Context) error {
	r.mu.Lock()
	pins := r.pins
	r.mu.Unlock()
	id, err := r.hub.Shows.Pinned(ctx, r.showID)
	if err != nil {
		return err
	}
	if id != uuid.Nil && !r.hasOffer(ctx, id) {
		id = uuid.Nil // no longer the show's
	}
	r.mu.Lock()
	if r.pins == pins {
		r.pinned = id
	}
	r.mu.Unlock()
	return nil
}

// showView is the room's view of a stored show.
func showView(sh *show.Show) *ShowView {
	return &ShowView{ID: sh.ID, BrandID: sh.BrandID, Title: sh.Title, State: string(sh.State), Visibility: string(sh.Visibility),
		StartsAt: sh.StartsAt, EndsAt: sh.EndsAt, HostIDs: append([]uuid.UUID{}, sh.HostIDs...), UpdatedAt: sh.UpdatedAt}
}

// fanout sends unnumbered traffic (reactions, viewer counts) to this
// node's viewers, in the current tick: reactions in the chat lane, viewer
// counts in the state lane.
func (r *Room) fanout(data []byte, ln lane) {
	r.mu.Lock()
	r.pending = append(r.pending, tickItem{data: data, pm: textFrame(data), lane: ln})
	r.mu.Unlock()
	if ln == laneState {
		r.flushSoon()
	}
}

// append numbers ev through the bus; every node's room receives it.
func (r *Room) append(ctx context.Context, ev *roomEvent) error {
	return r.hub.append(ctx, r.showID, ev)
}

// handle runs one client frame.
func (r *Room) handle(ctx context.Context, c *conn, f *ClientFrame) {
	var err error
	switch f.Type {
	case TypeChat:
		err = r.chat(ctx, c, f)
	case TypeReact:
		err = r.react(c, f)
	case TypeTap:
		err = r.tap(ctx, c, f)
	case TypeReserve, TypeRelease:
		err = r.buy(ctx, c, f)
	case TypeResume:
		r.leave(c)
		r.join(c, f.Epoch, f.After)
	case TypeModerate:
		err = r.moderate(ctx, c, f)
	case TypePin:
		err = r.pin(ctx, c, f)
	case TypeDrop:
		err = r.drop(ctx, c, f)
	case TypeEnd:
		err = r.end(ctx, c)
	}
	if err != nil {
		c.replyError(f.ID, err)
	}
}

func signedIn(c *conn, what string) error {
	if c.user == nil {
		return apperr.Errorf(apperr.Unauthorized, "sign in to %s", what)
	}
	return nil
}

// allow applies the per-user rate limit: 5 frames (chat and reactions)
// a second, in bursts of 10.
func (r *Room) allowLocked(u *account.User) bool {
	l, ok := r.limits[u.ID]
	if !ok {
		if len(r.limits) > 100_000 {
			r.limits = map[uuid.UUID]*rate.Limiter{}
		}
		l = rate.NewLimiter(5, 10)
		r.limits[u.ID] = l
	}
	return l.Allow()
}

// mayChat applies the room's rules to u's message at now, and counts it
// against slow mode when it passes.
func (r *Room) mayChat(u *account.User, text string, now time.Time) (staff bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	isStaff := account.CanHost(u, r.show.BrandID, r.show.HostIDs)
	switch {
	case r.banned[u.ID]:
		return false, apperr.Errorf(apperr.Forbidden, "you are banned from this show")
	case now.Before(r.muted[u.ID]):
		return false, apperr.Errorf(apperr.Forbidden, "you are muted until %s", r.muted[u.ID].UTC().Format(time.RFC3339))
	case !r.allowLocked(u):
		return false, apperr.Errorf(apperr.RateLimited, "slow down")
	case !isStaff && r.slow > 0 && now.Sub(r.lastChat[u.ID]) < r.slow:
		return false, apperr.Errorf(apperr.RateLimited, "slow mode: one message every %d seconds", int(r.slow/time.Second))
	case !isStaff && containsWord(text, r.words):
		return false, apperr.Errorf(apperr.Invalid, "your message contains a word this show does not allow")
	}
	r.lastChat[u.ID] = now
	return isStaff, nil
}

func (r *Room) chat(ctx context.Context, c *conn, f *ClientFrame) error {
	if err := signedIn(c, "chat"); err != nil {
		return err
	}
	u := c.user
	now := time.Now()
	staff, err := r.mayChat(u, f.Text, now)
	if err != nil {
		return err
	}
	// Microseconds, as the archive keeps times: a line read back from it
	// is the line viewers got.
	at := now.UTC().Truncate(time.Microsecond)
	id := uuid.New()
	seq, epoch, err := r.hub.appendNumbered(ctx, r.showID, &roomEvent{Type: EvChat, ID: id.String(), User: &Author{ID: u.ID, Name: u.DisplayName}, Text: f.Text, At: &at, Staff: staff})
	if err != nil {
		return err
	}
	// This node numbered the line, so this node keeps it: once, under the
	// name the bus gave it, whether or not it ever comes back to this room.
	if k := r.hub.keeper; k != nil {
		k.add(Line{ShowID: r.showID, Epoch: epoch, Seq: seq, ID: id, Author: Author{ID: u.ID, Name: u.DisplayName}, Staff: staff, Text: f.Text, At: at})
	}
	if r.hub.Analytics != nil {
		r.hub.Analytics.Chat(r.showID, c.who)
	}
	return nil
}

// containsWord matches blocked words case-insensitively, as whole words or
// inside longer ones: evading a filter by gluing words together should not work.
func containsWord(text string, words []string) bool {
	if len(words) == 0 {
		return false
	}
	lower := strings.ToLower(text)
	for _, w := range words {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

func (r *Room) react(c *conn, f *ClientFrame) error {
	if err := signedIn(c, "react"); err != nil {
		return err
	}
	r.mu.Lock()
	if !r.allowLocked(c.user) {
		r.mu.Unlock()
		return apperr.Errorf(apperr.RateLimited, "slow down")
	}
	r.reacts[f.Emoji]++
	r.mu.Unlock()
	if r.hub.Analytics != nil {
		r.hub.Analytics.Reaction(r.showID, c.who, 1)
	}
	return nil
}

// tap counts a viewer opening an offer's product card. Anyone may tap,
// signed in or not; each connection is held to the chat rate, which also
// bounds the reads an unknown offer ID costs.
func (r *Room) tap(ctx context.Context, c *conn, f *ClientFrame) error {
	if c.taps == nil {
		c.taps = rate.NewLimiter(5, 10)
	}
	if !c.taps.Allow() {
		return apperr.Errorf(apperr.RateLimited, "slow down")
	}
	if !r.hasOffer(ctx, f.OfferID) {
		return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", f.OfferID)
	}
	if r.hub.Analytics != nil {
		r.hub.Analytics.CardTap(r.showID, f.OfferID, c.who)
		if cause := r.unsellable(f.OfferID, time.Now()); cause != "" {
			r.hub.Analytics.LostIntent(r.showID, f.OfferID, cause)
		} else if c.user != nil && r.hub.Checkout != nil && r.limited(f.OfferID) {
			// Still on sale, but perhaps not to this viewer: the player
			// disables the button at their own limit, which the room does not
			// know and checkout's gate does.
			if _, err := r.hub.Checkout.CountLimitTap(ctx, c.user, f.OfferID); err != nil {
				r.hub.log().Debug("counting a tap at the customer's limit", "offer", f.OfferID, "err", err)
			}
		}
	}
	return nil
}

// limited reports whether the offer has a per-customer limit, as the room
// knows it.
func (r *Room) limited(id uuid.UUID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.offers[id]
	return v != nil && v.PerCustomerLimit > 0
}

// unsellable names why the offer cannot sell now, as the room knows it: it
// is sold out, or its drop window has closed (a drop still to open is not
// a loss: the viewer can come back). "" when it can sell. The player's buy
// button is disabled then, so a tap on the card is the only sign of a
// buyer turned away (the "3,000 taps left unanswered" of a sold-out bag).
func (r *Room) unsellable(id uuid.UUID, now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.offers[id]
	switch {
	case v == nil:
		return ""
	case v.Drop && v.DropClosesAt != nil && !now.Before(*v.DropClosesAt):
		return checkout.LostDropClosed
	case v.Available <= 0:
		return checkout.LostSoldOut
	}
	return ""
}

// flushReactions publishes this node's reaction counts since the last tick,
// once, for every node to show: a storm of taps becomes one small frame.
func (r *Room) flushReactions(ctx context.Context) {
	r.mu.Lock()
	if len(r.reacts) == 0 {
		r.mu.Unlock()
		return
	}
	counts := r.reacts
	r.reacts = map[string]int{}
	r.mu.Unlock()
	_ = r.hub.Bus.Publish(ctx, r.channel, mustJSON(map[string]any{"type": "reactions", "counts": counts}))
}

func (r *Room) buy(ctx context.Context, c *conn, f *ClientFrame) error {
	if err := signedIn(c, "buy"); err != nil {
		return err
	}
	if r.hub.Checkout == nil {
		return apperr.Errorf(apperr.Unavailable, "buying is not available")
	}
	if f.Type == TypeRelease {
		res, err := r.hub.Checkout.Release(ctx, c.user, f.ReservationID)
		if err != nil {
			return err
		}
		c.reply(mustJSON(map[string]any{"type": "released", "id": f.ID, "reservation": res}))
		return nil
	}
	// A room sells its own show's offers only: an offer of another show
	// is as unknown here as one that does not exist.
	if !r.hasOffer(ctx, f.OfferID) {
		return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", f.OfferID)
	}
	// The frame's id is the Idempotency-Key itself, not a key of its own
	// kind: one intent to buy is one key whether it travels over this socket
	// or falls back to POST /api/reservations.
	res, replayed, err := r.hub.Checkout.Reserve(ctx, c.user, checkout.ReserveRequest{OfferID: f.OfferID, Quantity: f.Quantity, IdempotencyKey: f.ID})
	if err != nil {
		return err
	}
	c.reply(mustJSON(map[string]any{"type": "reservation", "id": f.ID, "replayed": replayed, "reservation": res}))
	return nil
}

// staff checks that the sender may run the show, against the show as
// stored now (not as it was when the room or the connection opened: a host
// taken off the show loses its powers at once, on every node), and returns
// that show.
func (r *Room) staff(ctx context.Context, c *conn) (*show.Show, error) {
	if err := signedIn(c, "moderate"); err != nil {
		return nil, err
	}
	sh, err := r.storedShow(ctx)
	if err != nil {
		return nil, err
	}
	return sh, show.CheckHost(c.user, sh)
}

// storedFor is how long a read of the show answers privileged frames: a
// burst of them (a host pinning in a hurry) costs one read, and a host
// taken off the show is refused well within a second even on a node whose
// bus lost the show event.
const storedFor = 200 * time.Millisecond

// storedShow returns the show as stored, read at most storedFor ago and
// not before the last show event.
func (r *Room) storedShow(ctx context.Context) (*show.Show, error) {
	r.mu.Lock()
	sh, edits := r.stored, r.edits
	fresh := sh != nil && time.Since(r.storedAt) < storedFor
	r.mu.Unlock()
	if fresh {
		return sh, nil
	}
	at := time.Now()
	sh, err := r.hub.Shows.ShowByID(ctx, r.showID)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	if r.edits == edits {
		r.stored, r.storedAt = sh, at
	}
	r.mu.Unlock()
	return sh, nil
}

func (r *Room) moderate(ctx context.Context, c *conn, f *ClientFrame) error {
	sh, err := r.staff(ctx, c)
	if err != nil {
		return err
	}
	ev := &roomEvent{Type: EvModeration, Action: f.Action}
	switch f.Action {
	case ActDelete:
		if !r.hasLine(ctx, f.Seq) {
			return apperr.Errorf(apperr.NotFound, "there is no chat message %d in this room's current numbering", f.Seq)
		}
		ev.Target = f.Seq
	case ActMute:
		until := time.Now().UTC().Add(time.Duration(f.Seconds) * time.Second)
		ev.Subject, ev.Until = &f.UserID, &until
	case ActUnmute, ActBan, ActUnban:
		ev.Subject = &f.UserID
	case ActSlow:
		ev.Seconds = f.Seconds
	case ActWords:
		ev.Words = f.Words
		if ev.Words == nil {
			ev.Words = []string{}
		}
	}
	if ev.Subject != nil && *ev.Subject == c.user.ID {
		return apperr.Errorf(apperr.Invalid, "you cannot %s yourself", f.Action)
	}
	if ev.Subject != nil {
		if err := r.hub.mayModerate(ctx, c.user, *ev.Subject, sh); err != nil {
			return err
		}
	}
	if err := r.persist(ctx, c.user.ID, ev); err != nil {
		return err
	}
	return r.append(ctx, ev)
}

// hasLine reports whether seq names a chat line of the current numbering:
// in history, among the kept lines, or in the archive. A deletion is stored
// under the current epoch, so one naming a line of an earlier numbering (a
// welcome's older lines) or a seq not given yet would hide the current
// numbering's line of that number, now or when it comes.
func (r *Room) hasLine(ctx context.Context, seq uint64) bool {
	r.mu.Lock()
	epoch := r.epoch
	// Deleting a deleted line again is no error.
	found := slices.ContainsFunc(r.history, func(e entry) bool { return e.seq == seq && (e.ev.Type == EvChat || e.ev.Type == "deleted") })
	found = found || slices.ContainsFunc(r.kept, func(k keptLine) bool { return k.epoch == epoch && k.seq == seq })
	r.mu.Unlock()
	if found || r.hub.Archive == nil || seq == 0 {
		return found
	}
	lines, err := r.hub.Archive.LinesBetween(ctx, r.showID, epoch, seq-1, seq+1)
	return err == nil && len(lines) == 1
}

// persist records a ban, mute, word list or deleted line before it is announced, so it
// holds on nodes whose room opens later and after this room closes.
func (r *Room) persist(ctx context.Context, by uuid.UUID, ev *roomEvent) error {
	if ev.Action == ActDelete {
		if a := r.hub.Archive; a != nil {
			// The seq names a line of the current numbering.
			r.mu.Lock()
			epoch := r.epoch
			r.mu.Unlock()
			return a.DeleteLine(ctx, Deletion{ShowID: r.showID, Epoch: epoch, Seq: ev.Target, By: by, At: time.Now().UTC().Truncate(time.Microsecond)})
		}
		return nil
	}
	st := r.hub.Store
	if st == nil {
		return nil
	}
	switch ev.Action {
	case ActBan, ActUnban:
		return st.SetBan(ctx, r.showID, *ev.Subject, by, ev.Action == ActBan)
	case ActMute:
		return st.SetMute(ctx, r.showID, *ev.Subject, by, *ev.Until)
	case ActUnmute:
		return st.SetMute(ctx, r.showID, *ev.Subject, by, time.Time{})
	case ActWords:
		r.mu.Lock()
		brand := r.show.BrandID
		r.mu.Unlock()
		return st.SetBlockedWords(ctx, brand, ev.Words)
	}
	return nil
}

// pin pins an offer for everyone. The event carries the room's copy of the
// offer, which stock, drop and earlier pin events keep current (and which
// carries its own as_of, so it never passes for newer than it is).
func (r *Room) pin(ctx context.Context, c *conn, f *ClientFrame) error {
	if _, err := r.staff(ctx, c); err != nil {
		return err
	}
	ev := &roomEvent{Type: EvPin}
	if f.OfferID != uuid.Nil {
		if !r.hasOffer(ctx, f.OfferID) {
			return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", f.OfferID)
		}
		r.mu.Lock()
		cp := *r.offers[f.OfferID]
		r.mu.Unlock()
		ev.Offer, ev.OfferID = &cp, &cp.ID
	}
	return r.hub.pin(ctx, r.showID, ev)
}

// hasOffer reports whether the offer belongs to the room's show, reading it
// when the room does not know it yet (added after the room opened).
func (r *Room) hasOffer(ctx context.Context, id uuid.UUID) bool {
	r.mu.Lock()
	_, ok := r.offers[id]
	r.mu.Unlock()
	if ok {
		return true
	}
	asOf := time.Now().UTC()
	o, err := r.hub.Catalog.OfferByID(ctx, id)
	if err != nil || o.ShowID != r.showID {
		return false
	}
	v, err := r.hub.offerView(ctx, o, asOf)
	if err != nil {
		return false
	}
	r.mu.Lock()
	r.mergeOfferLocked(v)
	r.mu.Unlock()
	return true
}

func (r *Room) drop(ctx context.Context, c *conn, f *ClientFrame) error {
	if err := signedIn(c, "run a drop"); err != nil {
		return err
	}
	if r.hub.Checkout == nil {
		return apperr.Errorf(apperr.Unavailable, "buying is not available")
	}
	if !r.hasOffer(ctx, f.OfferID) {
		return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", f.OfferID)
	}
	o, err := r.hub.Checkout.SetDrop(ctx, c.user, f.OfferID, f.Action, f.Seconds)
	if err != nil {
		return err
	}
	c.reply(mustJSON(map[string]any{"type": "drop_set", "id": f.ID, "offer_id": o.ID, "drop_opens_at": o.DropOpensAt, "drop_closes_at": o.DropClosesAt}))
	return nil
}

func (r *Room) end(ctx context.Context, c *conn) error {
	if _, err := r.staff(ctx, c); err != nil {
		return err
	}
	if r.hub.Lifecycle == nil {
		return apperr.Errorf(apperr.Unavailable, "ending the show from the live room is not available")
	}
	_, err := r.hub.Lifecycle.End(ctx, r.showID) // the service tells every node's room
	return err
}

// replyError sends an error frame for the request id.
func (c *conn) replyError(id string, err error) {
	code, msg := "internal", "internal error"
	var fe *FrameError
	switch {
	case errors.As(err, &fe):
		code, msg = fe.Code, fe.Message
	default:
		code, msg = string(apperr.CodeOf(err)), apperr.MessageOf(err)
		if code == string(apperr.Internal) {
			c.room.hub.log().Error("live room request failed", "show", c.room.showID, "err", err)
		}
	}
	c.reply(mustJSON(map[string]any{"type": "error", "id": id, "code": code, "message": msg}))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are encoded here; failing is a bug.
		return []byte(`{"type":"error","code":"internal","message":"internal error"}`)
	}
	return b
}
