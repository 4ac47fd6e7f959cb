package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// liveSocket opens the demo show's live room with a bearer token and
// returns it after its welcome.
func (e *env) liveSocket(tok string) (*websocket.Conn, map[string]any) {
	e.t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/shows/" + e.creds.ShowID
	h := http.Header{}
	if tok != "" {
		h.Set("Authorization", "Bearer "+tok)
	}
	ws, res, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		code := 0
		if res != nil {
			code = res.StatusCode
		}
		e.t.Fatalf("live room: %v (HTTP %d)", err, code)
	}
	e.t.Cleanup(func() { ws.Close() })
	return ws, readUntil(e.t, ws, "welcome")
}

// readUntil reads frames until one of type typ.
func readUntil(t testing.TB, ws *websocket.Conn, typ string) map[string]any {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var f map[string]any
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f["type"] == typ {
			return f
		}
	}
}

// GET /api/shows/{id}/moderation lists bans and mutes for the show's staff;
// DELETE …/moderation/{user_id} lifts them under the hierarchy, and the open
// room applies it.
func TestModerationRoutes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	show := uuid.MustParse(e.creds.ShowID)
	viewer := uuid.MustParse(mustUserID(t, e, e.creds.ViewerEmail))
	member := uuid.MustParse(mustUserID(t, e, e.creds.MemberEmail))
	brandAdmin := uuid.MustParse(mustUserID(t, e, e.creds.BrandAdminEmail))
	host := uuid.MustParse(mustUserID(t, e, e.creds.HostEmail))
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	for _, err := range []error{
		e.db.SetBan(ctx, show, viewer, host, true),
		e.db.SetMute(ctx, show, member, host, until),
		e.db.SetBan(ctx, show, brandAdmin, uuid.Nil, true), // made by an admin, say
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/shows/" + e.creds.ShowID + "/moderation"

	r := e.do("GET", path, nil, bearer(e.creds.HostToken))
	e.want(r, http.StatusOK, "")
	list := r.json(t)["sanctions"].([]any)
	if len(list) != 3 {
		t.Fatalf("sanctions = %s", r.body)
	}
	for _, x := range list {
		x := x.(map[string]any)
		switch x["user_id"] {
		case viewer.String():
			if x["banned"] != true || x["banned_at"] == nil || x["muted_until"] != nil || x["display_name"] != "Vic Viewer" {
				t.Errorf("banned viewer = %v", x)
			}
		case member.String():
			if x["banned"] != false || x["muted_until"] != until.Format(time.RFC3339) {
				t.Errorf("muted member = %v", x)
			}
		}
	}
	e.want(e.do("GET", path, nil), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", path, nil, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("GET", path, nil, bearer(e.rivalTk)), http.StatusForbidden, "forbidden")
	e.want(e.do("GET", "/api/shows/"+uuid.NewString()+"/moderation", nil, bearer(e.creds.HostToken)), http.StatusNotFound, "not_found")

	// The banned viewer cannot open the room; a member in it hears the lift.
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/shows/" + e.creds.ShowID
	if _, res, err := websocket.DefaultDialer.Dial(url, http.Header{"Authorization": {"Bearer " + e.creds.ViewerToken}}); err == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("banned viewer got in: %v", err)
	}
	watcher, _ := e.liveSocket(e.creds.MemberToken)

	// A host lifts a viewer's ban, not a brand admin's, and not for itself.
	e.want(e.do("DELETE", path+"/"+brandAdmin.String(), nil, bearer(e.creds.HostToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("DELETE", path+"/"+host.String(), nil, bearer(e.creds.HostToken)), http.StatusBadRequest, "invalid")
	e.want(e.do("DELETE", path+"/not-a-uuid", nil, bearer(e.creds.HostToken)), http.StatusNotFound, "not_found")
	e.want(e.do("DELETE", path+"/"+uuid.NewString(), nil, bearer(e.creds.HostToken)), http.StatusNotFound, "not_found")
	e.want(e.do("DELETE", path+"/"+viewer.String(), nil, bearer(e.creds.MemberToken)), http.StatusForbidden, "forbidden")
	r = e.do("DELETE", path+"/"+viewer.String(), nil, bearer(e.creds.HostToken))
	e.want(r, http.StatusOK, "")
	if r.json(t)["lifted"] != viewer.String() {
		t.Fatalf("lift = %s", r.body)
	}
	if ev := readUntil(t, watcher, "moderation"); ev["action"] != "unban" || ev["subject"] != viewer.String() {
		t.Fatalf("the room heard %v", ev)
	}
	e.liveSocket(e.creds.ViewerToken) // in again
	// The brand admin lifts its own ban? No: nobody acts on themself; an admin does.
	e.want(e.do("DELETE", path+"/"+brandAdmin.String(), nil, bearer(e.creds.BrandAdminToken)), http.StatusBadRequest, "invalid")
	e.want(e.do("DELETE", path+"/"+brandAdmin.String(), nil, bearer(e.creds.AdminToken)), http.StatusOK, "")

	r = e.do("GET", path, nil, bearer(e.creds.BrandAdminToken))
	e.want(r, http.StatusOK, "")
	if list := r.json(t)["sanctions"].([]any); len(list) != 1 || list[0].(map[string]any)["user_id"] != member.String() {
		t.Fatalf("after lifting: %s", r.body)
	}
}

// PATCH /api/shows/{id} reaches the live room: a host taken off the show
// is refused on its open socket, and its next welcome shows no tools.
func TestShowEditReachesTheLiveRoom(t *testing.T) {
	e := newEnv(t)
	host, welcome := e.liveSocket(e.creds.HostToken)
	if welcome["you"].(map[string]any)["can_moderate"] != true {
		t.Fatalf("host welcome = %v", welcome["you"])
	}
	e.want(e.do("PATCH", "/api/shows/"+e.creds.ShowID, map[string]any{"host_ids": []string{}, "title": "Re-cast"}, bearer(e.creds.BrandAdminToken)), http.StatusOK, "")
	if ev := readUntil(t, host, "show"); ev["show"].(map[string]any)["title"] != "Re-cast" {
		t.Fatalf("show event = %v", ev)
	}
	if err := host.WriteJSON(map[string]any{"type": "pin", "id": "p", "offer_id": e.creds.OfferIDs[0]}); err != nil {
		t.Fatal(err)
	}
	if f := readUntil(t, host, "error"); f["code"] != "forbidden" {
		t.Fatalf("removed host's pin = %v", f)
	}
	if _, welcome := e.liveSocket(e.creds.HostToken); welcome["you"].(map[string]any)["can_moderate"] != false {
		t.Fatalf("removed host's new welcome = %v", welcome["you"])
	}
}
