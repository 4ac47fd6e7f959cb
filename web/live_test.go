package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLiveRoomAuth: the websocket takes the session cookie or a bearer
// token, refuses another site's page, and hides members-only shows.
func TestLiveRoomAuth(t *testing.T) {
	e := newEnv(t)
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/shows/" + e.creds.ShowID
	dial := func(h http.Header) (*websocket.Conn, int) {
		ws, res, err := websocket.DefaultDialer.Dial(url, h)
		if err != nil {
			if res == nil {
				t.Fatal(err)
			}
			return nil, res.StatusCode
		}
		t.Cleanup(func() { ws.Close() })
		return ws, http.StatusSwitchingProtocols
	}
	welcome := func(ws *websocket.Conn) map[string]any {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var f map[string]any
		if err := ws.ReadJSON(&f); err != nil || f["type"] != "welcome" {
			t.Fatalf("first frame = %v, %v", f, err)
		}
		return f
	}

	// A bearer token: signed in.
	ws, code := dial(http.Header{"Authorization": {"Bearer " + e.creds.ViewerToken}})
	if code != 101 {
		t.Fatalf("bearer upgrade: %d", code)
	}
	if you := welcome(ws)["you"].(map[string]any); you["signed_in"] != true || you["name"] != "Vic Viewer" {
		t.Fatalf("you = %v", you)
	}
	// A session cookie from the same site.
	r := e.do("POST", "/api/auth/login", map[string]string{"email": "host@pavilion.example", "password": "pavilion-demo"})
	c := sessionCookie(t, r)
	ws, code = dial(http.Header{"Cookie": {c.Name + "=" + c.Value}, "Origin": {e.srv.URL}})
	if code != 101 {
		t.Fatalf("cookie upgrade: %d", code)
	}
	if you := welcome(ws)["you"].(map[string]any); you["can_moderate"] != true {
		t.Fatalf("host: %v", you)
	}
	// Another site's page cannot open the socket with the viewer's cookie.
	if _, code = dial(http.Header{"Cookie": {c.Name + "=" + c.Value}, "Origin": {"https://evil.example"}}); code != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: %d", code)
	}
	// Anonymous: may watch.
	ws, code = dial(nil)
	if code != 101 {
		t.Fatalf("anonymous upgrade: %d", code)
	}
	if you := welcome(ws)["you"].(map[string]any); you["signed_in"] != false {
		t.Fatalf("anonymous: %v", you)
	}
	// Members-only: a viewer sees nothing.
	e.want(e.do("PATCH", "/api/shows/"+e.creds.ShowID, map[string]string{"visibility": "members"}, bearer(e.creds.BrandAdminToken)), 200, "")
	if _, code = dial(http.Header{"Authorization": {"Bearer " + e.creds.ViewerToken}}); code != http.StatusNotFound {
		t.Fatalf("members-only show for a viewer: %d", code)
	}
	if _, code = dial(http.Header{"Authorization": {"Bearer " + e.creds.MemberToken}}); code != 101 {
		t.Fatalf("members-only show for a member: %d", code)
	}
}

// TestMediaRoutes: WHIP and WHEP are served by the media server, with the
// show's stream key; the web layer's credentials are not stream keys.
func TestMediaRoutes(t *testing.T) {
	e := newEnv(t)
	sdp := header("Content-Type", "application/sdp")
	whip := "/whip/" + e.creds.ShowID
	for _, tok := range []string{"", "pvk_wrong", e.creds.HostToken} {
		var opts []reqOpt
		opts = append(opts, sdp)
		if tok != "" {
			opts = append(opts, bearer(tok))
		}
		if r := e.do("POST", whip, "v=0\r\n", opts...); r.status != http.StatusUnauthorized {
			t.Fatalf("WHIP with %q: %d %s", tok, r.status, r.body)
		}
	}
	// The current key passes authentication and reaches SDP parsing.
	if r := e.do("POST", whip, "not sdp", sdp, bearer(e.creds.StreamKey)); r.status != http.StatusBadRequest {
		t.Fatalf("WHIP with the key and bad SDP: %d %s", r.status, r.body)
	}
	// WHEP reaches the media server too (the stream package tests the sessions themselves).
	if r := e.do("POST", "/whep/"+e.creds.ShowID, "v=0\r\n", sdp); r.status != http.StatusBadRequest {
		t.Fatalf("WHEP with an empty offer: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/whep/"+e.creds.ShowID, "v=0\r\n", header("Content-Type", "text/plain")); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("WHEP with the wrong content type: %d %s", r.status, r.body)
	}
}
