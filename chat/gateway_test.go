package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
	"github.com/pavilion-live/pavilion/internal/show"
)

// wait bounds every wait for a frame. It is a deadline against hangs, never
// a speed requirement.
const wait = 5 * time.Second

// world is one node: a SQLite store seeded with the demo, the in-process
// bus and gate, and the hub behind an HTTP server. Users are picked by a
// test header (the web layer's authentication is tested in web).
type world struct {
	t     *testing.T
	db    *sqlite.DB
	gate  checkout.Gate
	hub   *chat.Hub
	shop  *checkout.Service
	draws *checkout.Draws
	srv   *httptest.Server
	show  uuid.UUID
	offer uuid.UUID // the demo bag: 10 units, one per customer

	// users is shared by every node of a test; the lock orders a user added
	// by the test before the server goroutine that looks it up.
	mu    *sync.Mutex
	users map[string]*account.User

	// record, if set, sees every frame a client of this node reads.
	record func(raw []byte)
	// accounts, if set, resolves bearer credentials (credential_test.go).
	accounts *account.Service
}

// option tunes a node before it starts serving.
type option func(*nodeConfig)

type nodeConfig struct {
	history   int
	smallSend bool
	analytics chat.Recorder
	// setup, if set, finishes the node before its hub runs (credential_test.go).
	setup      func(*world)
	registry   prometheus.Registerer
	lifecycle  chat.Lifecycle
	bigRoom    int
	bigChat    float64
	bigCadence time.Duration
	writeWait  time.Duration
	tick       time.Duration
	// keep archives chat in the node's database, through wrap when set;
	// retention and chatQueue set Hub.ChatRetention and ChatQueue.
	keep      bool
	wrap      func(chat.Archive) chat.Archive
	retention time.Duration
	chatQueue int
}

// withKeptChat archives chat in the world's database (keep_test.go).
func withKeptChat() option { return func(c *nodeConfig) { c.keep = true } }

// withArchive archives chat in wrap(the world's database).
func withArchive(wrap func(chat.Archive) chat.Archive) option {
	return func(c *nodeConfig) { c.keep, c.wrap = true, wrap }
}

// withRetention sets Hub.ChatRetention.
func withRetention(d time.Duration) option { return func(c *nodeConfig) { c.retention = d } }

// withChatQueue sets Hub.ChatQueue.
func withChatQueue(n int) option { return func(c *nodeConfig) { c.chatQueue = n } }

// withWriteWait sets Hub.WriteWait.
func withWriteWait(d time.Duration) option { return func(c *nodeConfig) { c.writeWait = d } }

// withTick sets Hub.Tick.
func withTick(d time.Duration) option { return func(c *nodeConfig) { c.tick = d } }

// withBigRoom sets Hub.BigRoom and Hub.BigRoomChat.
func withBigRoom(viewers int, perSec float64) option {
	return func(c *nodeConfig) { c.bigRoom, c.bigChat = viewers, perSec }
}

// withBigRoomCadence sets Hub.BigRoomCadence.
func withBigRoomCadence(d time.Duration) option {
	return func(c *nodeConfig) { c.bigCadence = d }
}

// withRegistry sets Hub.Registry.
func withRegistry(r prometheus.Registerer) option { return func(c *nodeConfig) { c.registry = r } }

// withLifecycle sets Hub.Lifecycle.
func withLifecycle(l chat.Lifecycle) option { return func(c *nodeConfig) { c.lifecycle = l } }

// withAnalytics sets Hub.Analytics.
func withAnalytics(r chat.Recorder) option { return func(c *nodeConfig) { c.analytics = r } }

// withHistory sets Hub.History.
func withHistory(n int) option { return func(c *nodeConfig) { c.history = n } }

// withSmallSendBuffers gives every accepted connection a small, fixed
// kernel send buffer (no autotuning), so a client that stops reading stalls
// the server's writer after a few kilobytes instead of a few megabytes.
func withSmallSendBuffers() option { return func(c *nodeConfig) { c.smallSend = true } }

func newWorld(t *testing.T, bus chat.Bus, opts ...option) *world {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	accounts := &account.Service{Store: db, Hasher: account.Hasher{Time: 1, Memory: 64, Threads: 1}}
	if err := demo.Seed(ctx, demo.Deps{Accounts: accounts, Brands: db, Shows: db, Catalog: db}); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, db: db, gate: memory.NewGate(), show: demo.ShowID, mu: &sync.Mutex{}, users: map[string]*account.User{}}
	for name, email := range map[string]string{"viewer": demo.ViewerEmail, "member": demo.MemberEmail, "host": demo.HostEmail, "brand": demo.BrandAdminEmail} {
		u, _, err := db.UserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		w.users[name] = u
	}
	offers, _ := db.OffersByShow(ctx, demo.ShowID)
	w.offer = offers[0].ID
	w.start(bus, opts...)
	return w
}

// node starts a second node of the same deployment: the same database and
// stock gate (Redis would hold it in a cluster), its own hub on bus.
func (w *world) node(bus chat.Bus, opts ...option) *world {
	w.t.Helper()
	n := &world{t: w.t, db: w.db, gate: w.gate, show: w.show, offer: w.offer, mu: w.mu, users: w.users}
	n.start(bus, opts...)
	return n
}

func (w *world) start(bus chat.Bus, opts ...option) {
	t := w.t
	var cfg nodeConfig
	for _, o := range opts {
		o(&cfg)
	}
	w.shop = &checkout.Service{Catalog: w.db, Ledger: w.db, Gate: w.gate, Shows: w.db, Payments: &testpay.Provider{}, Logger: slog.New(slog.DiscardHandler)}
	w.hub = &chat.Hub{Bus: bus, Shows: w.db, Catalog: w.db, Checkout: w.shop, Users: w.db, Logger: slog.New(slog.DiscardHandler),
		History: cfg.history, Caller: w.caller, Analytics: cfg.analytics, Registry: cfg.registry, Lifecycle: cfg.lifecycle,
		BigRoom: cfg.bigRoom, BigRoomChat: cfg.bigChat, BigRoomCadence: cfg.bigCadence, WriteWait: cfg.writeWait, Tick: cfg.tick,
		ChatRetention: cfg.retention, ChatQueue: cfg.chatQueue}
	if cfg.keep {
		w.hub.Archive = w.db
		if cfg.wrap != nil {
			w.hub.Archive = cfg.wrap(w.db)
		}
	}
	w.shop.Notifier = w.hub
	w.draws = &checkout.Draws{Checkout: w.shop, Store: w.db}
	w.hub.Draws = w.draws
	if w.hub.Lifecycle == nil {
		w.hub.Lifecycle = &show.Service{Store: w.db, Holds: w.shop, Notifier: w.hub}
	}
	if cfg.setup != nil {
		cfg.setup(w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go w.hub.Run(ctx)
	mux := http.NewServeMux()
	mux.Handle("GET /ws/shows/{id}", w.hub)
	w.srv = httptest.NewUnstartedServer(mux)
	if cfg.smallSend {
		w.srv.Listener = smallSendListener{w.srv.Listener}
	}
	w.srv.Start()
	t.Cleanup(w.srv.Close)
}

func (w *world) user(r *http.Request) *account.User {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.users[r.Header.Get("X-Test-User")]
}

// addUser creates an account (a row, so it can buy) and makes it pickable by name.
func (w *world) addUser(name string, roles ...account.Role) *account.User {
	w.t.Helper()
	u := &account.User{ID: uuid.New(), Email: name + "@test.example", DisplayName: "User " + name, Roles: roles,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := w.db.CreateUser(context.Background(), u, "not-a-hash"); err != nil {
		w.t.Fatal(err)
	}
	w.mu.Lock()
	w.users[name] = u
	w.mu.Unlock()
	return u
}

func (w *world) userID(name string) uuid.UUID {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.users[name].ID
}

type smallSendListener struct{ net.Listener }

func (l smallSendListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

type client struct {
	t      *testing.T
	ws     *websocket.Conn
	record func(raw []byte)
}

func (w *world) url(query string) string {
	return "ws" + strings.TrimPrefix(w.srv.URL, "http") + "/ws/shows/" + w.show.String() + query
}

func (w *world) dial(user, query string) (*client, *http.Response, error) {
	return w.dialWith(websocket.DefaultDialer, user, query)
}

// dialSlow connects with a small, fixed kernel receive buffer: with
// withSmallSendBuffers on the server, a client that does not read holds
// only a few kilobytes in flight, so the server's queues for it fill.
func (w *world) dialSlow(user string) *client {
	w.t.Helper()
	return w.dialSlowQuery(user, "")
}

// dialSlowQuery is dialSlow with a query (?v=2).
func (w *world) dialSlowQuery(user, query string) *client {
	w.t.Helper()
	// The buffer is set before the connection is made: shrunk after the
	// handshake, the window already offered no longer fits it, the kernel
	// drops what arrives past it, and the server's retransmissions back off
	// for seconds (a reader that starts again then waits for them).
	small := func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}
	d := &websocket.Dialer{HandshakeTimeout: wait, ReadBufferSize: 1024,
		NetDialContext: (&net.Dialer{Control: small}).DialContext}
	c, _, err := w.dialWith(d, user, query)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *world) dialWith(d *websocket.Dialer, user, query string) (*client, *http.Response, error) {
	h := http.Header{}
	if user != "" {
		h.Set("X-Test-User", user)
	}
	ws, res, err := d.Dial(w.url(query), h)
	if err != nil {
		return nil, res, err
	}
	w.t.Cleanup(func() { ws.Close() })
	return &client{t: w.t, ws: ws, record: w.record}, res, nil
}

func (w *world) join(user string) (*client, map[string]any) {
	w.t.Helper()
	return w.joinQuery(user, "")
}

func (w *world) joinQuery(user, query string) (*client, map[string]any) {
	w.t.Helper()
	c, _, err := w.dial(user, query)
	if err != nil {
		w.t.Fatal(err)
	}
	welcome := c.next("welcome")
	return c, welcome
}

// refused dials and expects the upgrade to be refused with status.
func (w *world) refused(user, query string, status int) {
	w.t.Helper()
	c, res, err := w.dial(user, query)
	if err == nil {
		c.ws.Close()
		w.t.Fatalf("%q was let in; want HTTP %d", user, status)
	}
	if res == nil || res.StatusCode != status {
		w.t.Fatalf("%q: upgrade answered %v (%v); want HTTP %d", user, res, err, status)
	}
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) sendRaw(kind int, b []byte) {
	c.t.Helper()
	if err := c.ws.WriteMessage(kind, b); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next frame, decoded and raw.
func (c *client) read(d time.Duration) (map[string]any, []byte, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(d))
	kind, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil, nil, err
	}
	if kind != websocket.TextMessage {
		return nil, b, fmt.Errorf("got a non-text frame %d", kind)
	}
	if c.record != nil {
		c.record(b)
	}
	var f map[string]any
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, b, fmt.Errorf("frame %q is not a JSON object: %v", b, err)
	}
	return f, b, nil
}

// next reads frames until one of the given type arrives.
func (c *client) next(typ string) map[string]any {
	c.t.Helper()
	return c.until(func(f map[string]any) bool { return f["type"] == typ }, "a "+typ+" frame")
}

// until reads frames until match accepts one.
// within is until with its own wait that returns nil when nothing matched
// in time, for a test that tries again. After a nil the connection is
// spent: gorilla fails every read after a read timeout.
func (c *client) within(d time.Duration, match func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for {
		f, _, err := c.read(time.Until(deadline))
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		if err != nil {
			c.t.Fatalf("reading: %v", err)
		}
		if match(f) {
			return f
		}
	}
}

func (c *client) until(match func(map[string]any) bool, what string) map[string]any {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		f, _, err := c.read(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(f) {
			return f
		}
	}
}

// errorFor waits for the error frame answering request id.
func (c *client) errorFor(id string) map[string]any {
	c.t.Helper()
	return c.until(func(f map[string]any) bool { return f["type"] == "error" && f["id"] == id }, "the error for "+id)
}

// sendRefused sends frame, whose "id" names the request, and fails the
// test unless the answer is an error with the code; what names the request
// in the failure.
func (c *client) sendRefused(frame map[string]any, code, what string) {
	c.t.Helper()
	c.send(frame)
	id, _ := frame["id"].(string)
	if e := c.errorFor(id); e["code"] != code {
		c.t.Fatalf("%s = %v; want code %s", what, e, code)
	}
}

// closed reads until the connection ends and returns how the server closed it.
func (c *client) closed() *websocket.CloseError {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		_, _, err := c.read(time.Until(deadline))
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce
		}
		if err != nil && !strings.Contains(err.Error(), "non-text") && !strings.Contains(err.Error(), "JSON object") {
			c.t.Fatalf("want a close frame, got %v", err)
		}
	}
}

func (c *client) expectClose(code int) *websocket.CloseError {
	c.t.Helper()
	ce := c.closed()
	if ce.Code != code || ce.Text == "" {
		c.t.Fatalf("closed with %d %q; want %d with a reason", ce.Code, ce.Text, code)
	}
	return ce
}

// seqOf reads a frame's sequence number; 0 for unsequenced frames.
func seqOf(f map[string]any) uint64 {
	s, _ := f["seq"].(float64)
	if f["type"] == "welcome" || f["type"] == "resumed" {
		return 0 // their seq says where the client stands, it is not an event's
	}
	return uint64(s)
}

func num(f map[string]any, key string) float64 {
	v, _ := f[key].(float64)
	return v
}

func obj(f map[string]any, key string) map[string]any {
	v, _ := f[key].(map[string]any)
	return v
}

func TestChatReachesEveryoneInOrder(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	alice, welcome := w.join("viewer")
	bob, _ := w.join("member")
	if welcome["epoch"] == "" || welcome["show"].(map[string]any)["title"] != "Autumn Runway Live" || len(welcome["offers"].([]any)) != len(demo.Offers(time.Time{})) {
		t.Fatalf("welcome = %v", welcome)
	}
	for i := range 5 {
		alice.send(map[string]any{"type": "chat", "text": "hello " + string(rune('a'+i))})
	}
	var last float64
	for i := range 5 {
		f := bob.next("chat")
		if f["text"] != "hello "+string(rune('a'+i)) || f["seq"].(float64) <= last {
			t.Fatalf("message %d = %v (after seq %v)", i, f, last)
		}
		last = f["seq"].(float64)
		if f["user"].(map[string]any)["name"] != "Vic Viewer" {
			t.Fatalf("author = %v", f["user"])
		}
	}
}

func TestReserveOverTheSocket(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	buyer, _ := w.join("viewer")
	watcher, _ := w.join("member")
	buyer.send(map[string]any{"type": "reserve", "id": "tap-1", "offer_id": w.offer, "quantity": 1})
	res := buyer.next("reservation")
	if res["id"] != "tap-1" || res["reservation"].(map[string]any)["state"] != "held" {
		t.Fatalf("reservation = %v", res)
	}
	stock := watcher.next("stock")
	if stock["available"].(float64) != 9 {
		t.Fatalf("stock = %v", stock)
	}
	// One bag per customer, as over HTTP.
	buyer.send(map[string]any{"type": "reserve", "id": "tap-2", "offer_id": w.offer, "quantity": 1})
	if e := buyer.next("error"); e["code"] != "limit_reached" || e["id"] != "tap-2" {
		t.Fatalf("second bag = %v", e)
	}
	// Anonymous viewers watch but do not buy.
	anon, _ := w.join("")
	anon.send(map[string]any{"type": "reserve", "id": "x", "offer_id": w.offer})
	if e := anon.next("error"); e["code"] != "unauthorized" {
		t.Fatalf("anonymous reserve = %v", e)
	}
}

// reader reads a client's frames in the background, so the client keeps up
// with the room while the test does other things.
type reader struct {
	c      *client
	mu     sync.Mutex
	cond   *sync.Cond
	frames []map[string]any
	last   uint64
	err    error
}

func (c *client) background() *reader {
	r := &reader{c: c}
	r.cond = sync.NewCond(&r.mu)
	go func() {
		for {
			_ = c.ws.SetReadDeadline(time.Time{})
			_, b, err := c.ws.ReadMessage()
			var f map[string]any
			if err == nil {
				err = json.Unmarshal(b, &f)
			}
			r.mu.Lock()
			if err != nil {
				r.err = err
				r.cond.Broadcast()
				r.mu.Unlock()
				return
			}
			r.frames = append(r.frames, f)
			if s := seqOf(f); s > r.last {
				r.last = s
			}
			r.cond.Broadcast()
			r.mu.Unlock()
		}
	}()
	return r
}

// waitSeq waits until the reader has seen seq (or fails after wait).
func (r *reader) waitSeq(t *testing.T, seq uint64) {
	t.Helper()
	if !r.waitFor(func() bool { return r.last >= seq }) {
		t.Fatalf("reader stopped at seq %d waiting for %d: %v", r.last, seq, r.err)
	}
}

// waitFor waits until cond (called under the reader's lock) holds, the
// reader fails, or wait passes.
func (r *reader) waitFor(cond func() bool) bool {
	timer := time.AfterFunc(wait, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(wait)
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond() {
		if r.err != nil || time.Now().After(deadline) {
			return false
		}
		r.cond.Wait()
	}
	return true
}

// unthrottle gives a client made by dialSlow a large receive buffer again,
// so reading what piled up does not crawl through a tiny TCP window.
func (c *client) unthrottle() {
	if tc, ok := c.ws.NetConn().(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 20)
	}
}

// waitForSeq waits until the room has numbered seq events, as a newcomer's
// welcome tells. The wait runs out only when the room stops making
// progress: a loaded machine numbers a flood slowly, a stuck room not at all.
func (w *world) waitForSeq(seq uint64) {
	w.t.Helper()
	deadline := time.Now().Add(wait)
	var last uint64
	for {
		c, welcome := w.join("")
		c.ws.Close()
		got := uint64(num(welcome, "seq"))
		if got >= seq {
			return
		}
		if got > last {
			last, deadline = got, time.Now().Add(wait)
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("the room stopped at seq %v waiting for %d", welcome["seq"], seq)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
