package chat_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// TestViewersArePeople: the viewer count counts people, not sockets: one
// account on two tabs is one viewer, one browser's visitor cookie on two
// tabs is one, a client without cookies is one per socket.
func TestViewersArePeople(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	withCookie := func(value string) {
		t.Helper()
		h := http.Header{"Cookie": {chat.VisitorCookie + "=" + value}}
		ws, _, err := websocket.DefaultDialer.Dial(w.url(""), h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
	}
	watcher, _ := w.join("viewer")
	w.join("viewer")                               // the same account, another tab
	withCookie("0123456789abcdef0123456789abcdef") // one browser…
	withCookie("0123456789abcdef0123456789abcdef") // …two tabs
	w.join("")                                     // no cookie jar: one per socket
	w.join("")
	// viewer, the browser, two cookieless sockets: 4 people on 6 sockets.
	// The count is announced when it changes (every 2 s at most): read
	// until it has settled, then it must be 4 (with sockets counted, 6).
	last := -1.0
	deadline := time.Now().Add(presenceWait)
	for time.Now().Before(deadline) {
		f, _, err := watcher.read(5 * time.Second)
		if err != nil {
			break // quiet for 5 s: settled
		}
		if f["type"] == "viewers" {
			last = num(f, "count")
		}
	}
	if last != 4 {
		t.Fatalf("viewers = %v, want 4 people", last)
	}
}
