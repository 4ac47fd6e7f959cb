package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/stream"
)

// TestCoHosts: a host invites a guest (one at a time), the guest trades the
// one-time invite for a key and publishes beside the host with it (WHIP
// ?guest=1) while the key and the invite do nothing else; the host switches
// the layout for everyone and removes the guest, whose key then stops
// working and whose broadcast is gone. Bad input changes nothing, and only
// the show's hosts and brand admins run any of it.
func TestCoHosts(t *testing.T) {
	e := newEnv(t)
	show := "/api/shows/" + e.creds.ShowID
	host := bearer(e.creds.HostToken)
	sdp := header("Content-Type", "application/sdp")

	// Who may invite: not anonymous callers, viewers or another brand.
	e.want(e.do("POST", show+"/guests", map[string]string{"name": "Ana"}), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", show+"/guests", map[string]string{"name": "Ana"}, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", show+"/guests", map[string]string{"name": "Ana"}, bearer(e.rivalTk)), http.StatusForbidden, "forbidden")
	e.want(e.do("GET", show+"/guests", nil, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	// Bad input: a name missing, too long, or with control characters.
	for _, name := range []string{"", "   ", strings.Repeat("x", 61), "A\x00na"} {
		e.want(e.do("POST", show+"/guests", map[string]string{"name": name}, host), http.StatusBadRequest, "invalid")
	}
	e.want(e.do("POST", show+"/guests", map[string]any{"name": "Ana", "role": "boss"}, host), http.StatusBadRequest, "invalid")
	list := e.do("GET", show+"/guests", nil, host)
	e.want(list, http.StatusOK, "")
	if n := len(list.json(t)["guests"].([]any)); n != 0 {
		t.Fatalf("refused invites left %d guests", n)
	}

	inv := e.do("POST", show+"/guests", map[string]string{"name": "  Ana (atelier) "}, host)
	e.want(inv, http.StatusCreated, "")
	body := inv.json(t)
	invite := body["invite"].(string)
	guest := body["guest"].(map[string]any)
	if !strings.HasPrefix(invite, "pvi_") || guest["name"] != "Ana (atelier)" || guest["status"] != "invited" ||
		!strings.HasSuffix(body["invite_url"].(string), "/studio/"+e.creds.ShowID+"/guest#invite="+invite) {
		t.Fatalf("invite: %s", inv.body)
	}
	if strings.Contains(string(inv.body), "hash") {
		t.Fatalf("the invite's hash is shown: %s", inv.body)
	}
	// One guest at a time.
	e.want(e.do("POST", show+"/guests", map[string]string{"name": "Bo"}, host), http.StatusConflict, "conflict")

	// The invite is no stream key, and the guest key is needed for ?guest=1.
	e.want(e.do("POST", "/whip/"+e.creds.ShowID, sdpOffer(t), sdp, bearer(invite)), http.StatusUnauthorized, "")
	e.want(e.do("POST", "/whip/"+e.creds.ShowID+"?guest=1", sdpOffer(t), sdp), http.StatusUnauthorized, "")
	e.want(e.do("POST", "/whip/"+e.creds.ShowID+"?guest=1", sdpOffer(t), sdp, bearer(e.creds.StreamKey)), http.StatusUnauthorized, "")

	// Redeem: a wrong token, then the right one once.
	e.want(e.do("POST", show+"/guests/redeem", map[string]string{"invite": "nope"}), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", show+"/guests/redeem", map[string]string{"invite": "pvi_nope"}), http.StatusNotFound, "not_found")
	red := e.do("POST", show+"/guests/redeem", map[string]string{"invite": invite})
	e.want(red, http.StatusCreated, "")
	key := red.json(t)["guest_key"].(string)
	if !strings.HasPrefix(key, "pvg_") {
		t.Fatalf("redeem: %s", red.body)
	}
	e.want(e.do("POST", show+"/guests/redeem", map[string]string{"invite": invite}), http.StatusGone, "gone")

	// The guest publishes beside the host; its key is no stream key.
	e.want(e.do("POST", "/whip/"+e.creds.ShowID, sdpOffer(t), sdp, bearer(key)), http.StatusUnauthorized, "")
	hostPub := e.do("POST", "/whip/"+e.creds.ShowID, sdpOffer(t), sdp, bearer(e.creds.StreamKey))
	e.want(hostPub, http.StatusCreated, "")
	pub := e.do("POST", "/whip/"+e.creds.ShowID+"?guest=1", sdpOffer(t), sdp, bearer(key))
	e.want(pub, http.StatusCreated, "")
	if loc := pub.header.Get("Location"); !strings.HasPrefix(loc, "/whip/"+stream.GuestFeed(mustUUID(t, e.creds.ShowID)).String()+"/") {
		t.Fatalf("guest Location %q", loc)
	}
	// A second guest session is a conflict, like a second host.
	e.want(e.do("POST", "/whip/"+e.creds.ShowID+"?guest=1", sdpOffer(t), sdp, bearer(key)), http.StatusConflict, "")

	// The layout: hosts set it, everyone reads it, bad layouts change nothing.
	st := e.do("GET", show+"/stage", nil)
	e.want(st, http.StatusOK, "")
	if got := st.json(t)["stage"].(map[string]any)["layout"]; got != "side-by-side" {
		t.Fatalf("default layout %v", got)
	}
	e.want(e.do("PUT", show+"/stage", map[string]string{"layout": "pip"}, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("PUT", show+"/stage", map[string]string{"layout": "mosaic"}, host), http.StatusBadRequest, "invalid")
	set := e.do("PUT", show+"/stage", map[string]string{"layout": "guest-full"}, host)
	e.want(set, http.StatusOK, "")
	stage := e.do("GET", show+"/stage", nil).json(t)["stage"].(map[string]any)
	if stage["layout"] != "guest-full" || stage["rev"].(float64) < 1 {
		t.Fatalf("stage after PUT: %v", stage)
	}

	// Removal: the key stops working at once and the guest feed is gone.
	gid := guest["id"].(string)
	e.want(e.do("DELETE", show+"/guests/"+gid, nil, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("DELETE", show+"/guests/not-a-uuid", nil, host), http.StatusNotFound, "not_found")
	rm := e.do("DELETE", show+"/guests/"+gid, nil, host)
	e.want(rm, http.StatusOK, "")
	if rm.json(t)["guest"].(map[string]any)["status"] != "removed" {
		t.Fatalf("remove: %s", rm.body)
	}
	if e.media.EndGuest(mustUUID(t, e.creds.ShowID)) {
		t.Fatal("the guest feed outlived the removal")
	}
	e.want(e.do("POST", "/whip/"+e.creds.ShowID+"?guest=1", sdpOffer(t), sdp, bearer(key)), http.StatusUnauthorized, "")
	e.want(e.do("POST", "/whep/"+e.creds.ShowID+"?guest=1", sdpOffer(t), sdp), http.StatusNotFound, "")
	// The host's broadcast is untouched, and a new guest may be invited.
	if st := e.streamState(cookie(sessionCookie(t, e.do("POST", "/api/auth/login", map[string]string{"email": demo.HostEmail, "password": demo.Password})))); st["live"] != true {
		t.Fatalf("the host's broadcast after the guest's removal: %v", st)
	}
	e.want(e.do("POST", show+"/guests", map[string]string{"name": "Bo"}, host), http.StatusCreated, "")
}

func mustUUID(t *testing.T, s string) uuid.UUID {
	t.Helper()
	id, err := uuid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
