package web_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
)

// TestTokenListAndRevoke: GET /api/tokens lists the caller's tokens without
// their secrets; DELETE /api/tokens/{id} revokes the caller's own (a
// platform admin's: anyone's); lifetimes are capped.
func TestTokenListAndRevoke(t *testing.T) {
	e := newEnv(t)
	viewer := bearer(e.creds.ViewerToken)
	// The env's clock stands still: move it, so "newest first" is not a tie.
	*e.clock = e.clock.Add(time.Second)
	r := e.do("POST", "/api/tokens", map[string]any{"name": "ci"}, viewer)
	e.want(r, http.StatusCreated, "")
	created := r.json(t)
	secret, id := created["token"].(string), created["id"].(string)

	r = e.do("GET", "/api/tokens", nil, viewer)
	e.want(r, http.StatusOK, "")
	if strings.Contains(string(r.body), "pvt_") || strings.Contains(string(r.body), "hash") {
		t.Fatalf("the list shows secrets: %s", r.body)
	}
	list := r.json(t)["tokens"].([]any)
	if len(list) != 2 { // the demo token and "ci"
		t.Fatalf("tokens = %s", r.body)
	}
	first := list[0].(map[string]any)
	if first["id"] != id || first["name"] != "ci" || first["created_at"] == nil || first["expires_at"] == nil {
		t.Fatalf("newest token = %v", first)
	}
	if _, ok := first["last_used_at"]; !ok {
		t.Fatalf("no last_used_at: %v", first)
	}
	if demo := list[1].(map[string]any); demo["last_used_at"] == nil {
		t.Fatalf("the demo token just used is not marked used: %v", demo)
	}
	r = e.do("GET", "/api/tokens", nil, bearer(e.creds.HostToken))
	if got := r.json(t)["tokens"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] == id {
		t.Fatalf("the host sees %s", r.body)
	}
	e.want(e.do("GET", "/api/tokens", nil), http.StatusUnauthorized, "unauthorized")

	// Not yours, not a token id, not a UUID: 404.
	e.want(e.do("DELETE", "/api/tokens/"+id, nil, bearer(e.creds.HostToken)), http.StatusNotFound, "not_found")
	e.want(e.do("DELETE", "/api/tokens/nope", nil, viewer), http.StatusNotFound, "not_found")
	e.want(e.do("DELETE", "/api/tokens/"+id, nil), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", "/api/me", nil, bearer(secret)), http.StatusOK, "")
	// Yours: gone at once.
	r = e.do("DELETE", "/api/tokens/"+id, nil, viewer)
	if r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	e.want(e.do("GET", "/api/me", nil, bearer(secret)), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("DELETE", "/api/tokens/"+id, nil, viewer), http.StatusNotFound, "not_found")

	// A platform admin may revoke anyone's.
	r = e.do("GET", "/api/tokens", nil, bearer(e.rivalTk))
	rivalID := r.json(t)["tokens"].([]any)[0].(map[string]any)["id"].(string)
	if r := e.do("DELETE", "/api/tokens/"+rivalID, nil, bearer(e.creds.AdminToken)); r.status != http.StatusNoContent {
		t.Fatalf("admin revoke: %d %s", r.status, r.body)
	}
	e.want(e.do("GET", "/api/me", nil, bearer(e.rivalTk)), http.StatusUnauthorized, "unauthorized")

	// Lifetimes: 90 days at most, 366 for platform admins.
	day := int64(24 * 3600)
	e.want(e.do("POST", "/api/tokens", map[string]any{"ttl_seconds": 90*day + 1}, viewer), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", "/api/tokens", map[string]any{"ttl_seconds": 1 << 62}, viewer), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", "/api/tokens", map[string]any{"ttl_seconds": 90 * day}, viewer), http.StatusCreated, "")
	r = e.do("POST", "/api/tokens", map[string]any{"ttl_seconds": 200 * day}, bearer(e.creds.AdminToken))
	e.want(r, http.StatusCreated, "")
	expires, _ := time.Parse(time.RFC3339Nano, r.json(t)["expires_at"].(string))
	if got := expires.Sub(*e.clock).Hours() / 24; got < 199 || got > 201 {
		t.Fatalf("admin token lives %.1f days, want 200", got)
	}
	e.want(e.do("POST", "/api/tokens", map[string]any{"ttl_seconds": 367 * day}, bearer(e.creds.AdminToken)), http.StatusBadRequest, "invalid")
}

// TestSignOutEndsLiveRoomSocket: through the whole server, logging out and
// revoking a token close the live-room sockets opened with them.
func TestSignOutEndsLiveRoomSocket(t *testing.T) {
	e := newEnv(t)
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/shows/" + e.creds.ShowID
	open := func(h http.Header) *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial(url, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	closedWith := func(ws *websocket.Conn) int {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second)) // a bound against hangs
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

	c := sessionCookie(t, e.do("POST", "/api/auth/login", map[string]string{"email": "host@pavilion.example", "password": "pavilion-demo"}))
	bySession := open(http.Header{"Cookie": {c.Name + "=" + c.Value}, "Origin": {e.srv.URL}})
	r := e.do("POST", "/api/tokens", map[string]any{"name": "obs"}, bearer(e.creds.ViewerToken))
	byToken := open(http.Header{"Authorization": {"Bearer " + r.json(t)["token"].(string)}})

	if r := e.do("POST", "/api/auth/logout", nil, cookie(c), header("Origin", e.srv.URL)); r.status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if code := closedWith(bySession); code != chat.CloseSignedOut {
		t.Fatalf("after logout the socket closed with %d", code)
	}
	if r := e.do("DELETE", "/api/tokens/"+r.json(t)["id"].(string), nil, bearer(e.creds.ViewerToken)); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if code := closedWith(byToken); code != chat.CloseSignedOut {
		t.Fatalf("after revocation the socket closed with %d", code)
	}
}
