package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/clientip"
	"github.com/pavilion-live/pavilion/internal/crashguard"
	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Hub is this node's live-room gateway: it owns the rooms, upgrades
// websockets into them, and turns checkout's stock and order changes into
// room events. Exported fields are wired by cmd.
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
	// WriteWait is how long a write to a viewer may take before the socket
	// is dropped; default 10 s.
	WriteWait time.Duration

	once     sync.Once
	upgrader websocket.Upgrader
	metrics  *hubMetrics
	guard    *crashguard.Guard
	keeper   *keeper // nil without an Archive

	mu    sync.Mutex
	rooms map[uuid.UUID]*Room
	// opening holds the rooms being opened: the bus and store calls that
	// open one run without mu, and a second joiner waits for the first.
	opening map[uuid.UUID]*opening

	// ownSub hears the results other nodes send to this node's viewers
	// (own.go); ownStop ends it.
	ownMu   sync.Mutex
	ownSub  Subscription
	ownStop context.CancelFunc

	stockMu sync.Mutex
	stock   map[uuid.UUID]uuid.UUID // offer → show, waiting for the next stock flush
	bought  []*checkout.Order       // paid orders waiting for their notice (bought.go), under stockMu
}

var (
	_ checkout.Notifier = (*Hub)(nil)
	_ show.Notifier     = (*Hub)(nil)
)

// Timeline is where the hub writes a show's pins and drops for its replay.
type Timeline interface {
	AddMark(ctx context.Context, m replay.Mark) error
}

// mark adds a moment to the show's replay timeline. A failure costs the
// replay a marker, never the live room its event.
func (h *Hub) mark(ctx context.Context, showID uuid.UUID, at time.Time, typ string, offerID uuid.UUID) {
	if h.Timeline == nil {
		return
	}
	if err := h.Timeline.AddMark(context.WithoutCancel(ctx), replay.Mark{ShowID: showID, At: at, Type: typ, OfferID: offerID}); err != nil {
		h.log().Warn("replay timeline", "show", showID, "type", typ, "err", err)
	}
}

// markPin marks a pin (or, with no offer, an unpin) on the timeline.
func (h *Hub) markPin(ctx context.Context, showID uuid.UUID, at time.Time, offerID *uuid.UUID) {
	if offerID != nil {
		h.mark(ctx, showID, at, replay.MarkPin, *offerID)
	} else {
		h.mark(ctx, showID, at, replay.MarkUnpin, uuid.Nil)
	}
}

// Users is what the hub needs of the account store.
type Users interface {
	UserByID(ctx context.Context, id uuid.UUID) (*account.User, error)
}

func (h *Hub) init() {
	h.once.Do(func() {
		h.rooms = map[uuid.UUID]*Room{}
		h.opening = map[uuid.UUID]*opening{}
		h.stock = map[uuid.UUID]uuid.UUID{}
		if h.Node == "" {
			h.Node = uuid.NewString()
		}
		// Read with a buffer of 512 bytes rather than the HTTP server's
		// 4 KB one (clients send small frames, seldom), and borrow a write
		// buffer per message from a pool: an idle viewer then holds no
		// write buffer at all.
		h.upgrader = websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 4096, WriteBufferPool: &sync.Pool{},
			// ServeHTTP has vetted the Origin already (checkOrigin), to
			// answer a refusal in the API's JSON and log why.
			CheckOrigin: func(*http.Request) bool { return true }, EnableCompression: false, HandshakeTimeout: 10 * time.Second}
		h.metrics = newHubMetrics(h.Registry)
		h.guard = crashguard.New(h.Registry, h.log())
		if h.Archive != nil {
			h.keeper = newKeeper(h.Archive, h.ChatQueue, h.ChatRetention, h.log(), h.Registry)
			h.keeper.guard = h.guard
		}
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

func (h *Hub) writeWait() time.Duration {
	if h.WriteWait <= 0 {
		return writeWait
	}
	return h.WriteWait
}

func (h *Hub) history() int {
	if h.History <= 0 {
		return 1000
	}
	return h.History
}

func (h *Hub) log() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

// ServeHTTP upgrades GET /ws/shows/{id}. Members-only shows answer 404 to
// anyone else, before any upgrade; anonymous viewers may watch and read.
// ?epoch=…&after=… resumes at once.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	if err := h.checkOrigin(r); err != nil {
		refuseUpgrade(w, http.StatusForbidden, err)
		return
	}
	u, cred := h.caller(r)
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		refuseUpgrade(w, http.StatusNotFound, apperr.Errorf(apperr.NotFound, "show not found"))
		return
	}
	sh, err := h.Shows.ShowByID(r.Context(), id)
	if err == nil && !account.CanSeeShow(u, sh.Visibility == show.Members, sh.BrandID, sh.HostIDs) {
		err = apperr.Errorf(apperr.NotFound, "show not found")
	}
	if err != nil {
		status := http.StatusInternalServerError
		if apperr.CodeOf(err) == apperr.NotFound {
			status = http.StatusNotFound
		}
		refuseUpgrade(w, status, err)
		return
	}
	room, err := h.room(r.Context(), sh)
	if err != nil {
		h.log().Warn("opening a live room", "show", id, "err", err)
		refuseUpgrade(w, http.StatusServiceUnavailable, apperr.Errorf(apperr.Unavailable, "the live room is unavailable; try again"))
		return
	}
	room.observeShow(sh)
	room.mu.Lock()
	banned := u != nil && room.banned[u.ID]
	room.mu.Unlock()
	if banned {
		refuseUpgrade(w, http.StatusForbidden, apperr.Errorf(apperr.Forbidden, "you are banned from this show"))
		return
	}
	var (
		viewer string
		header http.Header
	)
	// Who the socket is counts a person once in the viewer count and in
	// analytics, however many tabs they have open.
	var cookie *http.Cookie
	if viewer, cookie = ViewerKey(r, u, h.SecureCookies); cookie != nil {
		header = http.Header{"Set-Cookie": {cookie.String()}}
	}
	ws, err := h.upgrader.Upgrade(w, r, header)
	if err != nil {
		return // the upgrader answered already
	}
	c := newConn(ws, room, u)
	c.cred = cred
	c.who = viewer
	// ?v=2: room traffic in batch frames (PROTOCOL.md); anything else gets
	// protocol version 1, one frame per event.
	if v, err := strconv.Atoi(r.URL.Query().Get("v")); err == nil && v >= 2 {
		c.v2 = true
	}
	h.metrics.conns.Inc()
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	joined := !h.guard.Do("chat_join", func() {
		room.join(c, r.URL.Query().Get("epoch"), after)
		if h.Analytics != nil {
			h.Analytics.Join(sh.ID, viewer, time.Now())
		}
	}, "show", sh.ID)
	if !joined {
		// Nothing reads or writes this socket yet: take it out of the room,
		// or the room would never close as idle, and end it here.
		room.leave(c)
		h.metrics.conns.Dec()
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "internal error"), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	go c.writeLoop()
	// The reader gets a fresh goroutine and the handler's returns: the
	// handler's stack grew during the lookups above, and it would otherwise
	// be kept for the life of the connection. The connection's work outlives
	// the request's context by design.
	ctx := context.WithoutCancel(r.Context())
	go func() {
		defer h.guard.Recover("chat_reader", "show", room.showID) // readLoop recovers its own; this covers the leaving
		c.readLoop(ctx)
		room.leave(c)
		if h.Analytics != nil {
			h.Analytics.Leave(room.showID, c.who, time.Now())
		}
		h.metrics.conns.Dec()
		c.stop(websocket.CloseNormalClosure, "")
	}()
}

// checkOrigin refuses a browser's handshake from another site: by default
// its Origin must name the host the request was made to (a request without
// Origin is no browser's, and passes). A refusal is logged with the headers
// seen, since a reverse proxy that rewrites Host (nginx's $host drops the
// port) is the usual cause and the log is where an operator finds it.
func (h *Hub) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	var reason string
	switch {
	case h.CheckOrigin != nil:
		if h.CheckOrigin(r) {
			return nil
		}
		reason = "the origin policy refused it"
	case origin == "":
		return nil
	default:
		u, err := url.Parse(origin)
		if err == nil && strings.EqualFold(u.Host, r.Host) {
			return nil
		}
		reason = "the Origin's host is not the Host the request was made to"
	}
	h.log().WarnContext(r.Context(), "cross-origin websocket refused", "reason", reason, "path", r.URL.Path,
		"origin", origin, "host", r.Host, "remote", clientip.String(r))
	if origin == "" {
		return apperr.Errorf(apperr.Forbidden, "websocket refused by this server's origin policy")
	}
	return apperr.Errorf(apperr.Forbidden, "cross-origin websocket refused: Origin %s does not match Host %s (a proxy in front must pass the Host header on as the client sent it)", origin, r.Host)
}

// refuseUpgrade answers a websocket request that will not be upgraded in
// the API's JSON error shape.
func refuseUpgrade(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(map[string]any{"error": map[string]string{"code": string(apperr.CodeOf(err)), "message": apperr.MessageOf(err)}}))
}

// opening is a room being opened; done is closed when r or err is set.
type opening struct {
	done chan struct{}
	r    *Room
	err  error
}

// room returns the show's room on this node, opening it (and its bus
// subscription) on first use. The hub's lock is not held across the bus
// and store calls that open it: other rooms keep opening and ticking.
func (h *Hub) room(ctx context.Context, sh *show.Show) (*Room, error) {
	h.mu.Lock()
	if r, ok := h.rooms[sh.ID]; ok {
		h.mu.Unlock()
		return r, nil
	}
	if op, ok := h.opening[sh.ID]; ok {
		h.mu.Unlock()
		select {
		case <-op.done:
			return op.r, op.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	op := &opening{done: make(chan struct{})}
	h.opening[sh.ID] = op
	h.mu.Unlock()

	op.r, op.err = h.openRoom(ctx, sh)
	h.mu.Lock()
	delete(h.opening, sh.ID)
	if op.err == nil {
		h.rooms[sh.ID] = op.r
	}
	h.mu.Unlock()
	close(op.done)
	return op.r, op.err
}

// openRoom reads what a new room starts from and subscribes it to the bus.
func (h *Hub) openRoom(ctx context.Context, sh *show.Show) (*Room, error) {
	channel := channelOf(sh.ID)
	epoch, err := h.Bus.Epoch(ctx, channel)
	if err != nil {
		return nil, err
	}
	offers, err := h.offerViews(ctx, sh.ID)
	if err != nil {
		return nil, err
	}
	subCtx, cancel := context.WithCancel(context.Background())
	sub, err := h.Bus.Subscribe(subCtx, channel)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := h.hearOwn(); err != nil {
		// The room still serves: its viewers' orders made on this node
		// reach them, those made on others are at the API.
		h.log().Warn("hearing viewers' results from other nodes", "err", err)
	}
	r := &Room{hub: h, showID: sh.ID, channel: channel, sub: sub, cancel: cancel, show: *showView(sh), epoch: epoch,
		conns: map[*conn]struct{}{}, people: map[string]int{}, byUser: map[uuid.UUID][]*conn{}, offers: offers, draws: map[uuid.UUID]*checkout.DrawRecord{}, muted: map[uuid.UUID]time.Time{}, banned: map[uuid.UUID]bool{},
		lastChat: map[uuid.UUID]time.Time{}, limits: map[uuid.UUID]*rate.Limiter{}, reacts: map[string]int{},
		flushNow: make(chan struct{}, 1)}
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

// offerViews reads a show's offers with their live availability.
func (h *Hub) offerViews(ctx context.Context, showID uuid.UUID) (map[uuid.UUID]*OfferView, error) {
	asOf := time.Now().UTC()
	offers, err := h.Catalog.OffersByShow(ctx, showID)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]*OfferView, len(offers))
	for _, o := range offers {
		v, err := h.offerView(ctx, &o, asOf)
		if err != nil {
			return nil, err
		}
		out[o.ID] = v
	}
	return out, nil
}

// offerView completes o, read from the catalogue no earlier than asOf, with
// its SKU's stock.
func (h *Hub) offerView(ctx context.Context, o *checkout.Offer, asOf time.Time) (*OfferView, error) {
	sku, err := h.Catalog.SKUByID(ctx, o.SKUID)
	if err != nil {
		return nil, err
	}
	return &OfferView{ID: o.ID, SKUID: o.SKUID, PriceMinor: o.PriceMinor, Currency: o.Currency, Allocated: o.Allocated,
		Available: o.Free(sku), PerCustomerLimit: o.PerCustomerLimit, Sold: o.Sold,
		Drop: o.Drop, DropOpensAt: o.DropOpensAt, DropClosesAt: o.DropClosesAt, AsOf: asOf}, nil
}

// freshOffer reads an offer's whole state now.
func (h *Hub) freshOffer(ctx context.Context, id uuid.UUID) (*checkout.Offer, *OfferView, error) {
	asOf := time.Now().UTC()
	o, err := h.Catalog.OfferByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	v, err := h.offerView(ctx, o, asOf)
	if err != nil {
		return nil, nil, err
	}
	return o, v, nil
}

// DropChanged announces a flash drop opening or closing, with the server's
// clock so every viewer's countdown agrees, and announces the close again
// when the window runs out by itself.
func (h *Hub) DropChanged(o *checkout.Offer) {
	h.init()
	ctx := context.Background()
	h.announceDrop(ctx, o)
	if o.DropClosesAt == nil {
		return
	}
	if wait := time.Until(*o.DropClosesAt); wait > 0 {
		closes := *o.DropClosesAt
		time.AfterFunc(wait, func() {
			defer h.guard.Recover("chat_timer", "show", o.ShowID, "offer", o.ID)
			cur, err := h.Catalog.OfferByID(ctx, o.ID)
			if err != nil || cur.DropClosesAt == nil || !cur.DropClosesAt.Equal(closes) {
				return // reopened or closed by hand since: that change was announced
			}
			h.announceDrop(ctx, cur)
		})
	}
}

func (h *Hub) announceDrop(ctx context.Context, o *checkout.Offer) {
	// The event carries the offer's whole state as read now (the window was
	// stored before), so it can stand in for any older copy.
	cur, v, err := h.freshOffer(ctx, o.ID)
	if err != nil {
		h.log().Warn("announcing a drop", "offer", o.ID, "err", err)
		return
	}
	now := time.Now().UTC()
	state := "closed"
	if cur.DropOpen(now) {
		state = "open"
	}
	ev := &roomEvent{Type: EvDrop, OfferID: &cur.ID, Offer: v, State: state, Opens: cur.DropOpensAt, Closes: cur.DropClosesAt, Now: &now}
	if err := h.append(ctx, o.ShowID, ev); err != nil {
		h.log().Warn("announcing a drop", "offer", o.ID, "err", err)
		return
	}
	if state == "open" {
		h.mark(ctx, o.ShowID, now, replay.MarkDrop, cur.ID)
	}
}

// Pin pins an offer of the show for every viewer (or unpins, with a zero
// offer ID), for the socket's pin frame and the HTTP route alike.
func (h *Hub) Pin(ctx context.Context, u *account.User, showID, offerID uuid.UUID) error {
	h.init()
	if _, err := h.staffShow(ctx, u, showID); err != nil {
		return err
	}
	ev := &roomEvent{Type: EvPin}
	if offerID != uuid.Nil {
		o, v, err := h.freshOffer(ctx, offerID)
		if err != nil || o.ShowID != showID {
			return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", offerID)
		}
		ev.Offer, ev.OfferID = v, &v.ID
	}
	return h.pin(ctx, showID, ev)
}

// pin stores, announces and marks on the replay's timeline the pin ev
// carries (an unpin without an offer), for Hub.Pin and the socket's pin
// frame alike. It is stored before it is announced, so that a room opening
// later (another node, a restart, a room that closed idle) welcomes its
// viewers with it.
func (h *Hub) pin(ctx context.Context, showID uuid.UUID, ev *roomEvent) error {
	offerID := uuid.Nil
	if ev.OfferID != nil {
		offerID = *ev.OfferID
	}
	at := time.Now().UTC()
	if err := h.Shows.SetPinned(ctx, showID, offerID, at); err != nil {
		return err
	}
	if err := h.append(ctx, showID, ev); err != nil {
		return err
	}
	h.markPin(ctx, showID, at, ev.OfferID)
	return nil
}

// staffShow reads the show as stored now and checks that u may run it (a
// host of it, a brand admin of its brand, a platform admin). Someone who
// may not even see it is told it does not exist.
func (h *Hub) staffShow(ctx context.Context, u *account.User, showID uuid.UUID) (*show.Show, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	sh, err := h.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, err
	}
	return sh, show.CheckHost(u, sh)
}

// mayModerate checks the moderation hierarchy (account.CanModerate) for
// mod acting on the user targetID in sh.
func (h *Hub) mayModerate(ctx context.Context, mod *account.User, targetID uuid.UUID, sh *show.Show) error {
	if h.Users == nil {
		return apperr.Errorf(apperr.Unavailable, "moderating users is not available")
	}
	target, err := h.Users.UserByID(ctx, targetID)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.Errorf(apperr.NotFound, "user %s not found", targetID)
		}
		return err
	}
	if !account.CanModerate(mod, target, sh.BrandID, sh.HostIDs) {
		return apperr.Errorf(apperr.Forbidden, "you cannot moderate %s: hosts moderate members and viewers, brand admins hosts too", target.DisplayName)
	}
	return nil
}

// channelOf names a show's room on the bus.
func channelOf(showID uuid.UUID) string { return "room:" + showID.String() }

// append numbers ev through the bus; every node's copy of the show's room
// receives it, whether or not this node has the room open.
func (h *Hub) append(ctx context.Context, showID uuid.UUID, ev *roomEvent) error {
	_, _, err := h.appendNumbered(ctx, showID, ev)
	return err
}

// appendNumbered is append, returning the number the bus gave ev and the
// epoch it belongs to.
func (h *Hub) appendNumbered(ctx context.Context, showID uuid.UUID, ev *roomEvent) (uint64, string, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return 0, "", err
	}
	seq, epoch, err := h.Bus.Append(ctx, channelOf(showID), payload)
	if err != nil {
		return 0, "", apperr.Wrap(apperr.Unavailable, err, "the live room is unavailable; try again")
	}
	return seq, epoch, nil
}

// StockChanged marks the offer for the next stock flush: a stampede of
// reservations becomes a few stock events a second, not one per tap.
func (h *Hub) StockChanged(showID, offerID uuid.UUID) {
	h.init()
	h.stockMu.Lock()
	h.stock[offerID] = showID
	h.stockMu.Unlock()
}

func (h *Hub) flushStock(ctx context.Context) {
	h.stockMu.Lock()
	pending := h.stock
	h.stock = map[uuid.UUID]uuid.UUID{}
	h.stockMu.Unlock()
	for offerID, showID := range pending {
		_, v, err := h.freshOffer(ctx, offerID)
		if err != nil {
			h.log().Warn("reading stock for the live room", "offer", offerID, "err", err)
			continue
		}
		soldOut := v.Available == 0
		ev := &roomEvent{Type: EvStock, OfferID: &offerID, Offer: v, Avail: &v.Available, SoldOut: &soldOut}
		if soldOut {
			ev.Type = EvSoldOut
		}
		if err := h.append(ctx, showID, ev); err != nil {
			h.log().Warn("announcing stock", "offer", offerID, "err", err)
		}
	}
}

// Run keeps the rooms ticking until ctx ends: reaction counts every 300 ms,
// stock every 100 ms, viewer counts every two seconds, idle rooms closed.
func (h *Hub) Run(ctx context.Context) {
	h.init()
	go h.watchCredentials(ctx)
	if h.keeper != nil {
		go h.keeper.run(ctx)
	}
	fast := time.NewTicker(100 * time.Millisecond)
	defer fast.Stop()
	var tick int
	for {
		select {
		case <-ctx.Done():
			h.closeRooms()
			return
		case <-fast.C:
		}
		tick++
		// A panic in one tick's work is logged and counted, and the next
		// tick runs: stock, reactions and presence of every room on the node
		// depend on this loop.
		h.guard.Do("chat_tick", func() { h.tick(ctx, tick) })
	}
}

func (h *Hub) tick(ctx context.Context, tick int) {
	h.flushStock(ctx)
	h.flushBought(ctx)
	rooms := h.snapshot()
	if tick%3 == 0 {
		for _, r := range rooms {
			r.flushReactions(ctx)
		}
	}
	if tick%20 == 0 {
		for _, r := range rooms {
			h.presence(ctx, r)
		}
		h.closeIdle()
	}
}

func (h *Hub) snapshot() []*Room {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Room, 0, len(h.rooms))
	for _, r := range h.rooms {
		out = append(out, r)
	}
	return out
}

// presence reports this node's viewers and shows every viewer the total over
// all nodes. A viewer is a person (an account, or a browser's visitor
// cookie) however many sockets they hold on this node; one person on two
// nodes counts on each.
func (h *Hub) presence(ctx context.Context, r *Room) {
	r.mu.Lock()
	n := len(r.people)
	r.mu.Unlock()
	total, err := h.Bus.Presence(ctx, r.channel, h.Node, n, 10*time.Second)
	if err != nil {
		return
	}
	r.mu.Lock()
	changed := total != r.viewers
	r.viewers = total
	r.mu.Unlock()
	if changed {
		r.fanout(mustJSON(map[string]any{"type": "viewers", "count": total}), laneState)
	}
}

// closeIdle closes rooms nobody has watched on this node for a minute.
func (h *Hub) closeIdle() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, r := range h.rooms {
		r.mu.Lock()
		idle := len(r.conns) == 0 && !r.idleAt.IsZero() && time.Since(r.idleAt) > time.Minute
		r.mu.Unlock()
		if idle {
			r.cancel()
			_ = r.sub.Close()
			delete(h.rooms, id)
		}
	}
}

// closeRooms ends every connection with "going away" (a graceful shutdown).
func (h *Hub) closeRooms() {
	h.stopOwn()
	for _, r := range h.snapshot() {
		r.mu.Lock()
		for c := range r.conns {
			c.stop(websocket.CloseGoingAway, "server shutting down; reconnect")
		}
		r.mu.Unlock()
		r.cancel()
		_ = r.sub.Close()
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
	for _, r := range h.snapshot() {
		rooms++
		r.mu.Lock()
		conns += len(r.conns)
		r.mu.Unlock()
	}
	return rooms, conns
}

type hubMetrics struct {
	conns   prometheus.Gauge
	drops   prometheus.Counter
	skips   prometheus.Counter
	cappeds prometheus.Counter
}

func newHubMetrics(reg prometheus.Registerer) *hubMetrics {
	m := &hubMetrics{
		conns:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "pavilion_chat_connections", Help: "Open live-room websockets on this node."}),
		drops:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_dropped_total", Help: "Chat shed for the whole room as too late, and slow readers disconnected."}),
		skips:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_sampled_total", Help: "Chat lines left out for a viewer who fell behind (a lean tick), per viewer."}),
		cappeds: prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_capped_total", Help: "Chat lines a big room left out of its ticks (the per-viewer chat cap), per tick."}),
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.drops, m.skips, m.cappeds)
	}
	return m
}

func (m *hubMetrics) dropped()      { m.drops.Inc() }
func (m *hubMetrics) skipped(n int) { m.skips.Add(float64(n)) }
func (m *hubMetrics) capped(n int)  { m.cappeds.Add(float64(n)) }

// Lifecycle is what the room needs of the show service (show.Service).
type Lifecycle interface {
	End(ctx context.Context, id uuid.UUID) (*show.Show, error)
}

// ShowStateChanged implements show.Notifier: the room's viewers hear that
// the show went live, ended or was cancelled (the player shows its end
// screen), on every node, through the bus.
func (h *Hub) ShowStateChanged(ctx context.Context, sh *show.Show) {
	h.announceShow(ctx, sh, &roomEvent{Type: EvShowState, State: string(sh.State)})
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
	if err := h.append(ctx, sh.ID, ev); err != nil {
		h.log().Warn("announcing a change of the show", "show", sh.ID, "event", ev.Type, "err", err)
	}
}

// Sanctions lists the show's bans and standing mutes for a moderator of
// it (its hosts, brand admins, platform admins).
func (h *Hub) Sanctions(ctx context.Context, u *account.User, showID uuid.UUID) ([]Sanction, error) {
	h.init()
	if _, err := h.staffShow(ctx, u, showID); err != nil {
		return nil, err
	}
	if h.Store == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "moderation is not stored on this server")
	}
	return h.Store.Sanctions(ctx, showID, time.Now().UTC())
}

// Lift lifts the user's ban and mute in the show, under the moderation
// hierarchy, and tells every node's room (unban and unmute events), so a
// lifted user can join and chat at once.
func (h *Hub) Lift(ctx context.Context, u *account.User, showID, userID uuid.UUID) error {
	h.init()
	sh, err := h.staffShow(ctx, u, showID)
	if err != nil {
		return err
	}
	if userID == u.ID {
		return apperr.Errorf(apperr.Invalid, "you cannot lift your own ban or mute")
	}
	if err := h.mayModerate(ctx, u, userID, sh); err != nil {
		return err
	}
	if h.Store != nil {
		if err := h.Store.SetBan(ctx, showID, userID, u.ID, false); err != nil {
			return err
		}
		if err := h.Store.SetMute(ctx, showID, userID, u.ID, time.Time{}); err != nil {
			return err
		}
	}
	for _, act := range []string{ActUnban, ActUnmute} {
		if err := h.append(ctx, showID, &roomEvent{Type: EvModeration, Action: act, Subject: &userID}); err != nil {
			return err
		}
	}
	return nil
}
