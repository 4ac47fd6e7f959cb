package chat_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/memory"
	"github.com/pavilion-live/pavilion/internal/sqlite"
	"github.com/pavilion-live/pavilion/internal/testpay"
)

// world is one node: a SQLite store seeded with the demo, the in-process
// bus and gate, and the hub behind an HTTP server. Users are picked by a
// test header (the web layer's authentication is tested in web).
type world struct {
	t     *testing.T
	db    *sqlite.DB
	hub   *chat.Hub
	shop  *checkout.Service
	srv   *httptest.Server
	users map[string]*account.User
	show  uuid.UUID
	offer uuid.UUID
}

func newWorld(t *testing.T, bus chat.Bus) *world {
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
	w := &world{t: t, db: db, users: map[string]*account.User{}, show: demo.ShowID}
	for name, email := range map[string]string{"viewer": demo.ViewerEmail, "member": demo.MemberEmail, "host": demo.HostEmail, "brand": demo.BrandAdminEmail} {
		u, _, err := db.UserByEmail(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		w.users[name] = u
	}
	offers, _ := db.OffersByShow(ctx, demo.ShowID)
	w.offer = offers[0].ID
	w.shop = &checkout.Service{Catalog: db, Ledger: db, Gate: memory.NewGate(), Shows: db, Payments: &testpay.Provider{}, Logger: slog.New(slog.DiscardHandler)}
	w.hub = &chat.Hub{Bus: bus, Shows: db, Catalog: db, Checkout: w.shop, Logger: slog.New(slog.DiscardHandler),
		User: func(r *http.Request) *account.User { return w.users[r.Header.Get("X-Test-User")] }}
	w.shop.Notifier = w.hub
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go w.hub.Run(ctx)
	mux := http.NewServeMux()
	mux.Handle("GET /ws/shows/{id}", w.hub)
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	return w
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (w *world) dial(user, query string) (*client, *http.Response, error) {
	h := http.Header{}
	if user != "" {
		h.Set("X-Test-User", user)
	}
	url := "ws" + strings.TrimPrefix(w.srv.URL, "http") + "/ws/shows/" + w.show.String() + query
	ws, res, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		return nil, res, err
	}
	w.t.Cleanup(func() { ws.Close() })
	return &client{t: w.t, ws: ws}, res, nil
}

func (w *world) join(user string) (*client, map[string]any) {
	w.t.Helper()
	c, _, err := w.dial(user, "")
	if err != nil {
		w.t.Fatal(err)
	}
	welcome := c.next("welcome")
	return c, welcome
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.ws.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// next reads frames until one of the given type arrives (5 s at most).
func (c *client) next(typ string) map[string]any {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var f map[string]any
		if err := c.ws.ReadJSON(&f); err != nil {
			c.t.Fatalf("waiting for %q: %v", typ, err)
		}
		if f["type"] == typ {
			return f
		}
	}
}

func TestChatReachesEveryoneInOrder(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	alice, welcome := w.join("viewer")
	bob, _ := w.join("member")
	if welcome["epoch"] == "" || welcome["show"].(map[string]any)["title"] != "Autumn Runway Live" || len(welcome["offers"].([]any)) != 3 {
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
