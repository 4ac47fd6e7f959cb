package chat

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/show"
)

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
	// log is the ticks not every viewer has had, and the ring's place
	// (roomtick.go): the room's ticker goroutine's alone.
	log roomLog

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

// newRoom opens the show's room on this node: it reads what the room
// starts from and subscribes it to the bus.
func newRoom(ctx context.Context, h *Hub, sh *show.Show) (*Room, error) {
	channel := channelOf(sh.ID)
	subCtx, cancel := context.WithCancel(context.Background())
	sub, err := h.Bus.Subscribe(subCtx, channel)
	if err != nil {
		cancel()
		return nil, err
	}
	// The bus's history is read after subscribing, so it and the
	// subscription overlap rather than leave a hole, and before the stores:
	// what they hold already includes every event in it (each is stored
	// before it is announced), so the room takes it for resumes without
	// applying it again.
	epoch, recent, err := h.Bus.Recent(ctx, channel, h.history())
	if err != nil {
		cancel()
		_ = sub.Close()
		return nil, err
	}
	offers, err := h.offers.views(ctx, sh.ID)
	if err != nil {
		cancel()
		_ = sub.Close()
		return nil, err
	}
	if err := h.orders.hear(); err != nil {
		// The room still serves: its viewers' orders made on this node
		// reach them, those made on others are at the API.
		h.log().Warn("hearing viewers' results from other nodes", "err", err)
	}
	r := &Room{hub: h, showID: sh.ID, channel: channel, sub: sub, cancel: cancel, show: *showView(sh), epoch: epoch,
		conns: map[*conn]struct{}{}, people: map[string]int{}, byUser: map[uuid.UUID][]*conn{}, offers: offers, draws: map[uuid.UUID]*checkout.DrawRecord{}, muted: map[uuid.UUID]time.Time{}, banned: map[uuid.UUID]bool{},
		lastChat: map[uuid.UUID]time.Time{}, limits: map[uuid.UUID]*rate.Limiter{}, reacts: map[string]int{},
		flushNow: make(chan struct{}, 1)}
	r.history, r.last = historyFrom(recent, h.log())
	if h.Store != nil {
		banned, muted, err := h.Store.Moderation(ctx, sh.ID, time.Now())
		if err != nil {
			cancel()
			_ = sub.Close()
			return nil, err
		}
		for _, id := range banned {
			r.banned[id] = true
		}
		maps.Copy(r.muted, muted) // a store's nil map must not become the room's
		if r.words, err = h.Store.BlockedWords(ctx, sh.BrandID); err != nil {
			cancel()
			_ = sub.Close()
			return nil, err
		}
	}
	// The pin and the draws are read after the subscription: what is stored
	// later comes as an event (each is stored before it is announced).
	err = r.loadPin(ctx)
	if err == nil {
		err = r.loadDraws(ctx)
	}
	if err != nil {
		cancel()
		_ = sub.Close()
		return nil, err
	}
	if h.Archive != nil {
		// A cold room shows what other nodes' viewers saw, and what this
		// node's saw before it restarted. Without it the room still opens.
		lines, err := h.Archive.Lines(ctx, sh.ID, nil, recentChat)
		if err != nil {
			h.log().Warn("reading a show's archived chat", "show", sh.ID, "err", err)
		}
		r.kept = keptFrom(lines)
	}
	go func() {
		for msg := range sub.C() {
			r.receiveGuarded(msg)
		}
	}()
	go r.run(subCtx)
	return r, nil
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
	return r.hub.events.append(ctx, r.showID, ev)
}
