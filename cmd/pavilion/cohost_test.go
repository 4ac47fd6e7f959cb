package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/config"
	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestGuestRelayedAndRemovedAcrossNodes runs two server processes on one
// PostgreSQL and Redis. The host invites a guest through node B; the guest
// redeems the invite and publishes to node A (WHIP ?guest=1) beside the
// host; a viewer on node B gets the guest feed relayed from A (WHEP
// ?guest=1), and B's live room hears the guest joined. The host then
// removes the guest through node B: B's relay and viewer end, A closes the
// guest's WHIP session at once (the removal reaches A through the bus),
// the key stops working, and B's room hears the guest left.
func TestGuestRelayedAndRemovedAcrossNodes(t *testing.T) {
	st := sharedStores(t, "PAVILION_CLUSTER_SECRET=cohost-test-secret")
	env, pg := st.env, st.pg
	creds := demoCredentials(t, pg)
	show := creds.ShowID
	bases := startAll(t, serveCmd(t.TempDir(), env), serveCmd(t.TempDir(), env))
	nodeA, nodeB := newAPI(t, bases[0]), newAPI(t, bases[1])

	room := dialRoom(t, bases[1], show, creds.ViewerToken)
	inv := nodeB.must(http.StatusCreated, "POST", "/api/shows/"+show+"/guests", creds.HostToken, map[string]string{"name": "Ana"})
	guestID := inv["guest"].(map[string]any)["id"].(string)
	red := nodeA.must(http.StatusCreated, "POST", "/api/shows/"+show+"/guests/redeem", "", map[string]string{"invite": inv["invite"].(string)})
	key := red["guest_key"].(string)

	stopHost := publishTestVideo(t, bases[0], show, creds.StreamKey)
	defer stopHost()
	stopGuest, loc := publishVP8(t, bases[0]+"/whip/"+show+"?guest=1", key, "guest")
	defer stopGuest()
	if !strings.HasPrefix(loc, "/whip/") || strings.Contains(loc, show) {
		t.Fatalf("guest Location %q: it names the guest feed, not the show", loc)
	}
	stageEvent(t, room, "joined")

	viewer, viewerPC := watchRetrying(t, bases[1]+"/whep/"+show+"?guest=1")
	host, _ := watchRetrying(t, bases[1]+"/whep/"+show)
	waitUntil(t, "the guest's media relayed to node B", 30*time.Second, func() bool { return viewer.Load() > 30 && host.Load() > 30 })

	nodeB.must(http.StatusOK, "DELETE", "/api/shows/"+show+"/guests/"+guestID, creds.HostToken, nil)
	stageEvent(t, room, "left")
	// A's WHIP session is gone (DELETE finds no session), and B's viewer is ended.
	waitUntil(t, "the guest's WHIP session gone on node A", 10*time.Second, func() bool {
		req, _ := http.NewRequest("DELETE", bases[0]+loc, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusNotFound
	})
	waitUntil(t, "node B's guest viewer ended", 15*time.Second, func() bool {
		st := viewerPC.ConnectionState()
		return st == webrtc.PeerConnectionStateClosed || st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateDisconnected
	})
	// The key no longer publishes, on either node; the host's feed goes on.
	for _, base := range bases {
		if status := tryWHIP(t, base+"/whip/"+show+"?guest=1", key); status != http.StatusUnauthorized {
			t.Fatalf("the removed guest's key on %s: %d, want 401", base, status)
		}
	}
	n := host.Load()
	waitUntil(t, "the host's media going on", 15*time.Second, func() bool { return host.Load() > n+30 })
}

// demoCredentials seeds the demo data without pictures into the database.
func demoCredentials(t *testing.T, databaseURL string) *demo.Credentials {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := config.Config{DatabaseURL: databaseURL, Migrate: true}
	db, err := openData(ctx, &cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	deps := demoDeps(db, accountService(db))
	deps.Images = nil
	creds, err := demo.Issue(ctx, deps, "http://127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

// watchRetrying opens a WHEP viewer at url and counts the RTP packets it
// gets. A relay may have no media for the first request (503), or not know
// the feed's origin yet (404): it tries again with a new connection.
func watchRetrying(t *testing.T, url string) (*atomic.Int64, *webrtc.PeerConnection) {
	t.Helper()
	var packets atomic.Int64
	deadline := time.Now().Add(20 * time.Second)
	for {
		pc, err := loopbackAPI().NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pc.Close() })
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
		pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				packets.Add(1)
			}
		})
		status, _ := offerTo(t, pc, url, "")
		if status == http.StatusCreated {
			return &packets, pc
		}
		_ = pc.Close()
		if (status != http.StatusServiceUnavailable && status != http.StatusNotFound) || time.Now().After(deadline) {
			t.Fatalf("WHEP %s: %d", url, status)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// offerTo posts pc's complete offer to url, applies a 201's answer and
// returns the status and Location.
func offerTo(t *testing.T, pc *webrtc.PeerConnection, url, key string) (int, string) {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	req, _ := http.NewRequest("POST", url, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return resp.StatusCode, ""
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location")
}

// tryWHIP posts a fresh publisher offer with key and returns the status.
func tryWHIP(t *testing.T, url, key string) int {
	t.Helper()
	pc, err := loopbackAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "guest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	status, _ := offerTo(t, pc, url, key)
	return status
}

// stageEvent reads the live room until a stage event with the change arrives.
func stageEvent(t *testing.T, c *websocket.Conn, change string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		var f map[string]any
		if err := c.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for the stage event %q: %v", change, err)
		}
		if f["type"] == "stage" && f["change"] == change {
			return
		}
	}
}
