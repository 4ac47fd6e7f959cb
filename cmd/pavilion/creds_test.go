package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestCommandLineEndsLiveSockets: `pavilion user reset-password` and
// `pavilion user roles`, run beside the server on its data, reach the live
// room's open sockets (no announcement travels between the processes; the
// server's sweep finds the change in the store).
func TestCommandLineEndsLiveSockets(t *testing.T) {
	dir := t.TempDir()
	_, base, _ := startServer(t, dir, "--demo")
	out, err := runCLI(t, "", "demo", "--json", "--data-dir", dir, "--public-url", base)
	if err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	var creds map[string]any
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatal(err)
	}
	url := "ws" + strings.TrimPrefix(base, "http") + "/ws/shows/" + creds["show_id"].(string)
	open := func(token string) *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + token}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	closedWith := func(ws *websocket.Conn) int {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second)) // a bound against hangs
		for {
			_, _, err := ws.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			if err != nil {
				t.Fatalf("want a close frame, got %v", err)
			}
		}
	}
	viewer, host := open(creds["viewer_token"].(string)), open(creds["host_token"].(string))

	if out, err := runCLI(t, "a long enough secret\n", "user", "reset-password", "--email", demo.ViewerEmail, "--password-stdin", "--data-dir", dir); err != nil {
		t.Fatalf("reset: %v\n%s", err, out)
	}
	if code := closedWith(viewer); code != chat.CloseSignedOut {
		t.Fatalf("after a password reset the viewer's socket closed with %d", code)
	}
	if out, err := runCLI(t, "", "user", "roles", "--email", demo.HostEmail, "--role", "member", "--data-dir", dir); err != nil {
		t.Fatalf("roles: %v\n%s", err, out)
	}
	if code := closedWith(host); code != chat.CloseAccountChanged {
		t.Fatalf("after a role change the host's socket closed with %d", code)
	}
}
