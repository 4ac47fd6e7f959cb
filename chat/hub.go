package chat

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/crashguard"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Hub is this node's live-room gateway: it owns the rooms, upgrades
// websockets into them, and turns checkout's stock and order changes into
// room events. Exported fields are wired by cmd before the hub serves or
// runs: the first use wires the hub's parts (init) from them. The hub is
// the composition of those parts; each lives in a file named for it.
type Hub struct {
	Bus      Bus
	Shows    show.Store
	Catalog  checkout.Store
	Checkout *checkout.Service // nil: rooms without buying
	// Store keeps bans, mutes and blocked words; nil keeps them in each
	// room's memory only (tests).
	Store Store
	// Archive keeps chat lines and moderators' deletions in the database
	// (keeper.go): welcomes on a cold room and replays read them. nil: chat
	// lives in each room's memory only.
	Archive Archive
	// ChatRetention is how long archived chat lines are kept; 0: for ever.
	ChatRetention time.Duration
	// ChatQueue bounds the chat lines waiting to be archived; a line past
	// it is counted and not archived. Default 8192.
	ChatQueue int
	// Caller resolves the request's account and the credential that vouched
	// (session cookie or bearer token); nil result: anonymous. A socket
	// lasts as long as its credential (credential.go).
	Caller func(*http.Request) *account.Principal
	// Credentials re-checks open sockets' credentials (account.Service);
	// nil: only announcements and expiry end them.
	Credentials Credentials
	// Users looks up the accounts moderators act on, for their rank
	// (account.CanModerate); nil: muting and banning users is unavailable.
	Users Users
	// Privacy says which buyers stay out of "just bought" notices
	// (wallet.Store); nil: every buyer does.
	Privacy Privacy
	// CheckOrigin vets a browser's Origin on upgrade; nil: same host only.
	CheckOrigin func(*http.Request) bool
	Node        string // this node's name, for presence; default: random
	History     int    // sequenced events kept per room for resume; default 1000
	Logger      *slog.Logger
	Registry    prometheus.Registerer

	// Draws lists the show's fair draws for the welcome of a room that
	// opens after one did (checkout.Draws); nil: welcomes carry none.
	Draws Draws

	// Analytics counts joins, chat, reactions and card taps; nil: none.
	Analytics Recorder
	// Lifecycle ends shows for a host's "end" frame under the show rules
	// (and tells the room through ShowStateChanged); nil: the frame is
	// refused as unavailable.
	Lifecycle Lifecycle
	// SecureCookies marks the anonymous visitor cookie Secure (behind HTTPS).
	SecureCookies bool
	// Timeline keeps each pin and drop opening at the time it happened, for
	// the replay's product timeline (replay.Store); nil: none kept.
	Timeline Timeline
	// BigRoom is the number of viewers on this node past which a room sends
	// each viewer at most BigRoomChat chat lines a second (the newest; the
	// staff's always). Defaults: 8000 viewers, 10 lines; BigRoom < 0: never.
	BigRoom     int
	BigRoomChat float64
	// BigRoomCadence is how often a room past BigRoom viewers writes to
	// each viewer while only chat and reactions wait (roomtick.go); state
	// events never wait for it. Default 200 ms.
	BigRoomCadence time.Duration
	// Tick fixes every room's chat tick; 0: by the room's size (20 ms up
	// to 1,200 viewers on the node, growing to 100 ms from 6,000; past
	// BigRoom, each viewer is written to in turn, BigRoomCadence). State
	// events never wait for it. A fixed Tick writes every tick to every
	// viewer, however big the room.
	Tick time.Duration
	// WriteWait is how long a write to a viewer may take before the socket
	// is dropped; default 10 s.
	WriteWait time.Duration

	once     sync.Once
	upgrader websocket.Upgrader
	metrics  *hubMetrics
	guard    *crashguard.Guard
	keeper   *keeper // nil without an Archive

	// The hub's parts, one thing each, wired by init from the fields above.
	rooms     *registry        // this node's open rooms
	events    publisher        // room events through the bus
	offers    offerReader      // offers as rooms show them
	staff     staffCheck       // who may run a show and moderate whom
	pins      pinner           // pins and unpins
	sanctions sanctions        // bans and mutes over HTTP
	stock     *stockCoalescer  // stock events, a few a second
	bought    *boughtNotices   // "just bought" notices
	drops     *dropTimer       // drop windows opening and closing
	orders    *orderRouter     // viewers' own results, across nodes
	presence  presence         // viewer counts across nodes
	creds     *credentialWatch // sockets that outlive their credential
}

var (
	_ checkout.Notifier = (*Hub)(nil)
	_ show.Notifier     = (*Hub)(nil)
)

func (h *Hub) init() {
	h.once.Do(func() {
		if h.Node == "" {
			h.Node = uuid.NewString()
		}
		h.upgrader = newUpgrader()
		h.metrics = newHubMetrics(h.Registry)
		h.guard = crashguard.New(h.Registry, h.log())
		if h.Archive != nil {
			h.keeper = newKeeper(h.Archive, h.ChatQueue, h.ChatRetention, h.log(), h.Registry)
			h.keeper.guard = h.guard
		}
		log := h.log()
		h.rooms = newRegistry()
		h.events = publisher{bus: h.Bus}
		h.offers = offerReader{catalog: h.Catalog}
		h.staff = staffCheck{shows: h.Shows, users: h.Users}
		marks := marker{timeline: h.Timeline, log: log}
		h.pins = pinner{staff: h.staff, offers: h.offers, shows: h.Shows, events: h.events, marks: marks}
		h.sanctions = sanctions{staff: h.staff, store: h.Store, events: h.events}
		h.stock = newStockCoalescer(h.offers, h.events, log, h.guard)
		h.bought = &boughtNotices{offers: h.offers, events: h.events, privacy: h.Privacy, users: h.Users, log: log}
		h.drops = &dropTimer{offers: h.offers, events: h.events, marks: marks, guard: h.guard, log: log}
		h.orders = &orderRouter{bus: h.Bus, node: h.Node, rooms: h.rooms, guard: h.guard, log: log}
		h.presence = presence{bus: h.Bus, node: h.Node}
		h.creds = &credentialWatch{bus: h.Bus, credentials: h.Credentials, rooms: h.rooms, guard: h.guard, log: log}
	})
}

// bigRoom returns the big-room chat cap: the size past which it applies
// (negative: never) and the lines a second.
func (h *Hub) bigRoom() (viewers int, perSec float64) {
	viewers, perSec = h.BigRoom, h.BigRoomChat
	if viewers == 0 {
		viewers = defaultBigRoom
	}
	if perSec <= 0 {
		perSec = defaultBigRoomChat
	}
	return viewers, perSec
}

// bigRoomCadence is how often a big room writes to each viewer while only
// chat waits.
func (h *Hub) bigRoomCadence() time.Duration {
	if h.BigRoomCadence > 0 {
		return h.BigRoomCadence
	}
	return defaultBigRoomCadence
}

func (h *Hub) writeWait() time.Duration {
	if h.WriteWait <= 0 {
		return writeWait
	}
	return h.WriteWait
}

func (h *Hub) history() int {
	if h.History <= 0 {
		return BusHistory
	}
	return h.History
}

func (h *Hub) log() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

// Run keeps the rooms ticking until ctx ends: stock as it changes (ten
// times a second at most), reaction counts every 300 ms, viewer counts
// every two seconds, idle rooms closed.
func (h *Hub) Run(ctx context.Context) {
	h.init()
	go h.creds.run(ctx)
	go h.stock.run(ctx)
	if h.keeper != nil {
		go h.keeper.run(ctx)
	}
	fast := time.NewTicker(100 * time.Millisecond)
	defer fast.Stop()
	var tick int
	for {
		select {
		case <-ctx.Done():
			h.orders.close()
			h.rooms.closeAll()
			return
		case <-fast.C:
		}
		tick++
		// A panic in one tick's work is logged and counted, and the next
		// tick runs: "just bought", reactions and presence of every room on the node
		// depend on this loop.
		h.guard.Do("chat_tick", func() { h.tick(ctx, tick) })
	}
}

func (h *Hub) tick(ctx context.Context, tick int) {
	h.bought.flush(ctx)
	rooms := h.rooms.snapshot()
	if tick%3 == 0 {
		for _, r := range rooms {
			r.flushReactions(ctx)
		}
	}
	if tick%20 == 0 {
		for _, r := range rooms {
			h.presence.report(ctx, r)
		}
		h.rooms.closeIdle()
	}
}

// Close writes the chat lines still waiting for the archive, and stops
// archiving: call it on the way out, before the database closes. It waits
// until they are written or ctx ends.
func (h *Hub) Close(ctx context.Context) error {
	h.init()
	if h.keeper == nil {
		return nil
	}
	return h.keeper.close(ctx)
}

// Rooms reports how many rooms and connections this node has (for tests and metrics).
func (h *Hub) Rooms() (rooms, conns int) {
	h.init()
	return h.rooms.count()
}

// StockChanged implements checkout.Notifier: the offer is marked for the
// next stock flush.
func (h *Hub) StockChanged(showID, offerID uuid.UUID) {
	h.init()
	h.stock.changed(showID, offerID)
}

// DropChanged implements checkout.Notifier: a flash drop opened or closed.
func (h *Hub) DropChanged(o *checkout.Offer) {
	h.init()
	h.drops.changed(o)
}

// OrderChanged implements checkout.Notifier: the buyer's sockets in the
// show's room hear of their order, on this node at once and on every other
// node through the bus; a paid one is announced as "just bought" too.
func (h *Hub) OrderChanged(o *checkout.Order) {
	h.init()
	h.bought.queue(o)
	h.orders.send(o.ShowID, o.UserID, mustJSON(map[string]any{"type": "order", "order": o}))
}

// Pin pins an offer of the show for every viewer (or unpins, with a zero
// offer ID), for the HTTP route; the socket's pin frame pins too.
func (h *Hub) Pin(ctx context.Context, u *account.User, showID, offerID uuid.UUID) error {
	h.init()
	return h.pins.pinAs(ctx, u, showID, offerID)
}

// Sanctions lists the show's bans and standing mutes for a moderator of
// it (its hosts, brand admins, platform admins).
func (h *Hub) Sanctions(ctx context.Context, u *account.User, showID uuid.UUID) ([]Sanction, error) {
	h.init()
	return h.sanctions.list(ctx, u, showID)
}

// Lift lifts the user's ban and mute in the show, under the moderation
// hierarchy, and tells every node's room (unban and unmute events), so a
// lifted user can join and chat at once.
func (h *Hub) Lift(ctx context.Context, u *account.User, showID, userID uuid.UUID) error {
	h.init()
	return h.sanctions.lift(ctx, u, showID, userID)
}

// Lifecycle is what the room needs of the show service (show.Service).
type Lifecycle interface {
	End(ctx context.Context, id uuid.UUID) (*show.Show, error)
}

// ShowStateChanged implements show.Notifier: the room's viewers hear that
// the show went live, ended or was cancelled (the player shows its end
// screen) and when it really did, on every node, through the bus.
func (h *Hub) ShowStateChanged(ctx context.Context, sh *show.Show) {
	h.announceShow(ctx, sh, &roomEvent{Type: EvShowState, State: string(sh.State), At: realTime(sh)})
}

// realTime is when the show really made the move to its state, for
// show_state's "at": the first time it went live, or when it ended; nil
// for a cancellation.
func realTime(sh *show.Show) *time.Time {
	switch sh.State {
	case show.Live:
		return sh.WentLiveAt
	case show.Ended:
		return sh.EndedAt
	}
	return nil
}

// ShowChanged implements show.Notifier: every node's room takes the edited
// show (hosts, visibility, times, title) through the bus, in sequence with
// the room's other events, and its viewers see the new title and times.
func (h *Hub) ShowChanged(ctx context.Context, sh *show.Show) {
	h.announceShow(ctx, sh, &roomEvent{Type: EvShow, Show: showView(sh)})
}

// announceShow tells every node's room of a change to the show: checkout
// here forgets the show's cached offers, and ev goes through the bus.
func (h *Hub) announceShow(ctx context.Context, sh *show.Show, ev *roomEvent) {
	h.init()
	if h.Checkout != nil {
		h.Checkout.ForgetShow(sh.ID)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.events.append(ctx, sh.ID, ev); err != nil {
		h.log().Warn("announcing a change of the show", "show", sh.ID, "event", ev.Type, "err", err)
	}
}
