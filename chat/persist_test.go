package chat_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// TestModerationPersists: a ban and blocked words decided on node A hold on
// node B, whose room opens only afterwards.
func TestModerationPersists(t *testing.T) {
	bus := memory.NewBus()
	// The store is wired before the hub runs, as cmd wires it.
	w := newWorld(t, bus, func(c *nodeConfig) { c.setup = func(w *world) { w.hub.Store = w.db } })
	host, _ := w.join("host")
	host.send(map[string]any{"type": "moderate", "action": "ban", "user_id": w.users["viewer"].ID})
	host.next("moderation")
	host.send(map[string]any{"type": "moderate", "action": "words", "words": []string{"replica"}})
	host.next("moderation")

	// Node B: a second hub on the same store and bus, room not open yet.
	b := &chat.Hub{Bus: bus, Shows: w.db, Catalog: w.db, Checkout: w.shop, Store: w.db, Logger: slog.New(slog.DiscardHandler),
		Caller: func(r *http.Request) *account.Principal {
			return &account.Principal{User: w.users[r.Header.Get("X-Test-User")]}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go b.Run(ctx)
	mux := http.NewServeMux()
	mux.Handle("GET /ws/shows/{id}", b)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws/shows/" + w.show.String()

	_, res, err := websocket.DefaultDialer.Dial(url, http.Header{"X-Test-User": {"viewer"}})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("banned viewer on node B: %v %v", res, err)
	}
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"X-Test-User": {"member"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	member := &client{t: t, ws: ws}
	member.next("welcome")
	member.send(map[string]any{"type": "chat", "id": "c1", "text": "Is this a REPLICA?"})
	if e := member.next("error"); e["code"] != "invalid" {
		t.Fatalf("blocked word on node B: %v", e)
	}
}
