package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/demo"
)

// sdpOffer is a complete (non-trickle) publisher offer, enough for the
// server to open a WHIP session; no media needs to flow for these tests.
func sdpOffer(t *testing.T) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "studio")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gathered:
	case <-time.After(5 * time.Second):
	}
	return pc.LocalDescription().SDP
}

// streamState reads GET /api/shows/{id}/stream as the given caller.
func (e *env) streamState(opts ...reqOpt) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/api/shows/"+e.creds.ShowID+"/stream", nil, opts...)
	e.want(r, http.StatusOK, "")
	return r.json(e.t)["stream"].(map[string]any)
}

// TestStudioTakeOver: a host's studio learns the show is live from another
// device, takes it over without replacing the stream key (the key's
// publisher is ended as if it hung up, and the studio publishes with its
// session), and the old key still publishes afterwards. Only the show's
// hosts and brand admins may look or take over.
func TestStudioTakeOver(t *testing.T) {
	e := newEnv(t)
	sdp := header("Content-Type", "application/sdp")
	show := "/api/shows/" + e.creds.ShowID
	whip := "/whip/" + e.creds.ShowID
	hostCookie := cookie(sessionCookie(t, e.do("POST", "/api/auth/login", map[string]string{"email": demo.HostEmail, "password": demo.Password})))
	viewerCookie := cookie(sessionCookie(t, e.do("POST", "/api/auth/login", map[string]string{"email": demo.ViewerEmail, "password": demo.Password})))

	// Refusals: anonymous, a viewer, a host of other shows, another brand's admin.
	other, err := e.svc.Create(context.Background(), account.NewUser{Email: "other-host@example.com", Password: "other-host-pw", Roles: []account.Role{account.RoleHost}})
	if err != nil {
		t.Fatal(err)
	}
	otherTk, _, err := e.svc.IssueToken(context.Background(), other.ID, "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/stream", "/takeover"} {
		method := map[string]string{"/stream": "GET", "/takeover": "POST"}[path]
		e.want(e.do(method, show+path, nil), http.StatusUnauthorized, "unauthorized")
		e.want(e.do(method, show+path, nil, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
		e.want(e.do(method, show+path, nil, bearer(otherTk)), http.StatusForbidden, "forbidden")
		e.want(e.do(method, show+path, nil, bearer(e.rivalTk)), http.StatusForbidden, "forbidden")
		e.want(e.do(method, "/api/shows/not-an-id"+path, nil, bearer(e.creds.HostToken)), http.StatusNotFound, "not_found")
	}
	if st := e.streamState(bearer(e.creds.HostToken)); st["live"] != false {
		t.Fatalf("before anyone publishes: %v", st)
	}
	// Nothing to take over is not an error.
	if r := e.do("POST", show+"/takeover", nil, bearer(e.creds.HostToken)); r.status != http.StatusOK || r.json(t)["ended_session"] != "" {
		t.Fatalf("take-over with nobody live: %d %s", r.status, r.body)
	}

	// An encoder publishes with the stream key.
	first := e.do("POST", whip, sdpOffer(t), sdp, bearer(e.creds.StreamKey))
	e.want(first, http.StatusCreated, "")
	encoder := first.header.Get("Location")
	st := e.streamState(bearer(e.creds.BrandAdminToken))
	if st["live"] != true || st["session"] == "" || whip+"/"+st["session"].(string) != encoder {
		t.Fatalf("while the encoder publishes: %v (its session is %s)", st, encoder)
	}

	// The studio cannot publish beside it (409); a viewer's session and
	// another site's page cannot publish at all.
	e.want(e.do("POST", whip, sdpOffer(t), sdp, hostCookie), http.StatusConflict, "")
	if r := e.do("POST", whip, sdpOffer(t), sdp, viewerCookie); r.status != http.StatusUnauthorized {
		t.Fatalf("WHIP with a viewer's session: %d %s", r.status, r.body)
	}
	if r := e.do("POST", whip, sdpOffer(t), sdp, hostCookie, header("Origin", "https://evil.example"), header("Sec-Fetch-Site", "cross-site")); r.status != http.StatusForbidden {
		t.Fatalf("WHIP with the host's session from another site: %d %s", r.status, r.body)
	}

	// The host takes over: the encoder's session ends, the show stays on air.
	r := e.do("POST", show+"/takeover", nil, hostCookie)
	e.want(r, http.StatusOK, "")
	body := r.json(t)
	if whip+"/"+body["ended_session"].(string) != encoder {
		t.Fatalf("take-over ended %v, want the encoder's session %s", body["ended_session"], encoder)
	}
	after := body["stream"].(map[string]any)
	if after["live"] != false || after["waiting"] != true || after["taken_over"] != body["ended_session"] {
		t.Fatalf("after the take-over: %v", after)
	}
	if r := e.do("DELETE", encoder, nil); r.status != http.StatusNotFound {
		t.Fatalf("the encoder's session after the take-over: DELETE %d, want 404 (gone)", r.status)
	}
	studio := e.do("POST", whip, sdpOffer(t), sdp, hostCookie)
	e.want(studio, http.StatusCreated, "")
	st = e.streamState(hostCookie)
	if st["live"] != true || whip+"/"+st["session"].(string) != studio.header.Get("Location") || st["taken_over"] != body["ended_session"] {
		t.Fatalf("with the studio publishing: %v", st)
	}

	// The key was not replaced: the encoder takes the show back with it.
	r = e.do("POST", show+"/takeover", nil, bearer(e.creds.BrandAdminToken))
	e.want(r, http.StatusOK, "")
	e.want(e.do("POST", whip, sdpOffer(t), sdp, bearer(e.creds.StreamKey)), http.StatusCreated, "")
}
