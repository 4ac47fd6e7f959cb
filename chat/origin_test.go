package chat_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// TestCrossOriginUpgradeExplained: a handshake from another site is
// refused before the upgrade with the API's JSON error, naming the Origin
// and the Host, and the log says why; the same site, or no Origin (no
// browser), is let in.
func TestCrossOriginUpgradeExplained(t *testing.T) {
	var logs testinfra.SyncBuffer
	w := newWorld(t, memory.NewBus(), func(c *nodeConfig) {
		c.setup = func(w *world) { w.hub.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) }
	})
	host := strings.TrimPrefix(w.srv.URL, "http://")
	_, res, err := websocket.DefaultDialer.Dial(w.url(""), http.Header{"Origin": {"https://evil.example"}, "X-Test-User": {"viewer"}})
	if err == nil || res == nil {
		t.Fatalf("a cross-origin handshake was let in: %v", err)
	}
	defer res.Body.Close()
	var body struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusForbidden ||
		!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || body.Error.Code != "forbidden" ||
		!strings.Contains(body.Error.Message, "https://evil.example") || !strings.Contains(body.Error.Message, host) {
		t.Fatalf("refusal = %d %q %+v (%v)", res.StatusCode, res.Header.Get("Content-Type"), body, err)
	}
	var rec map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == "cross-origin websocket refused" {
			rec = r
		}
	}
	if rec == nil || rec["origin"] != "https://evil.example" || rec["host"] != host || rec["reason"] == "" {
		t.Fatalf("no explained refusal in the log:\n%s", logs.String())
	}

	for _, origin := range []string{"http://" + host, ""} {
		h := http.Header{"X-Test-User": {"viewer"}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, _, err := websocket.DefaultDialer.Dial(w.url(""), h)
		if err != nil {
			t.Fatalf("Origin %q refused: %v", origin, err)
		}
		(&client{t: t, ws: ws}).next("welcome")
		ws.Close()
	}
}
