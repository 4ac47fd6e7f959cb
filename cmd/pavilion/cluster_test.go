package main

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// TestThreeNodeCluster runs three server processes on one PostgreSQL and
// one Redis: a host publishes on node 1 and viewers on nodes 2 and 3 get
// the media (each edge pulls it once); chat from node 3 reaches node 1; a
// stampede spread over the three nodes sells exactly the stock even though
// node 2 is killed in the middle of it, and node 2's viewer rejoins on
// node 3; then Redis restarts mid-show and events and sales carry on.
func TestThreeNodeCluster(t *testing.T) {
	st := sharedStores(t, "PAVILION_CLUSTER_SECRET=three-node-test-secret")
	env, pg, restartRedis := st.env, st.pg, st.restartRedis
	var nodes []string
	var procs []*exec.Cmd
	for i := range 3 {
		var extra []string
		if i == 0 {
			extra = []string{"--demo"}
		}
		cmd := serveCmd(t.TempDir(), env, extra...)
		nodes = append(nodes, startCmd(t, cmd))
		procs = append(procs, cmd)
	}
	creds := demoCreds(t, "--database-url", pg, "--public-url", nodes[0])
	show := creds["show_id"].(string)

	stop := publishTestVideo(t, nodes[0], show, creds["stream_key"].(string))
	defer stop()
	v2 := watchTestVideo(t, nodes[1], show)
	v3 := watchTestVideo(t, nodes[2], show)
	waitUntil(t, "media on nodes 2 and 3", 20*time.Second, func() bool { return v2.Load() > 30 && v3.Load() > 30 })

	viewerTok := creds["viewer_token"].(string)
	on1 := dialRoom(t, nodes[0], show, viewerTok)
	on3 := dialRoom(t, nodes[2], show, creds["host_token"].(string))
	sayAndHear(t, on3, on1, "hello from node 3")

	// A stampede over all three nodes; node 2 dies in the middle of it.
	apis := []*api{newAPI(t, nodes[0]), newAPI(t, nodes[1]), newAPI(t, nodes[2])}
	s := newSale(t, apis[0], creds, 40, 150)
	s.apis, s.spacing = apis, 3*time.Millisecond
	done := make(chan struct{})
	go func() { s.run(); close(done) }()
	for s.answered.Load() < 10 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := procs[1].Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	s.api = apis[2]
	sold := s.check(t)
	t.Logf("node 2 killed after %d answers; %d sold; %d buyers told paid", s.answered.Load(), sold, len(s.paid))

	// Node 2's viewer comes back on node 3, which already relays the show.
	v3b := watchTestVideo(t, nodes[2], show)
	waitUntil(t, "the rejoined viewer's media on node 3", 20*time.Second, func() bool { return v3b.Load() > 30 })

	// Redis restarts mid-show: live events resume and sales stay exact.
	restartRedis()
	n := v3.Load()
	waitUntil(t, "media still flowing after the Redis restart", 20*time.Second, func() bool { return v3.Load() > n+30 })
	on1b := dialRoom(t, nodes[0], show, viewerTok)
	on3b := dialRoom(t, nodes[2], show, creds["host_token"].(string))
	sayAndHear(t, on3b, on1b, "still here after Redis restarted")
	s.finish(t)
	_ = on1.Close()
	_ = on3.Close()
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func loopbackAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// negotiateWith posts pc's complete offer to url, applies the answer and
// returns the session's Location; anything but 201 fails the test.
func negotiateWith(t *testing.T, pc *webrtc.PeerConnection, url, key string) string {
	t.Helper()
	status, loc := offerTo(t, pc, url, key)
	if status != http.StatusCreated {
		t.Fatalf("POST %s: %d", url, status)
	}
	return loc
}

// publishTestVideo sends VP8-shaped frames (a keyframe a second) over WHIP.
func publishTestVideo(t *testing.T, base, show, key string) (stop func()) {
	t.Helper()
	stop, _ = publishVP8(t, base+"/whip/"+show, key, "host")
	return stop
}

// publishVP8 publishes VP8-shaped frames (a keyframe a second) at the WHIP
// url and returns how to stop, and the session's Location.
func publishVP8(t *testing.T, url, key, stream string) (stop func(), loc string) {
	t.Helper()
	pc, err := loopbackAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", stream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	loc = negotiateWith(t, pc, url, key)
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		frame := make([]byte, 1000)
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			frame[0] = 0x01 // VP8 frame tag: inter frame
			if i%30 == 0 {
				frame[0] = 0x00 // keyframe
			}
			_ = track.WriteSample(media.Sample{Data: frame, Duration: 33 * time.Millisecond})
		}
	}()
	return func() {
		cancel()
		<-finished
		_ = pc.Close()
	}, loc
}

// watchTestVideo opens a WHEP viewer and counts the RTP packets it gets.
func watchTestVideo(t *testing.T, base, show string) *atomic.Int64 {
	t.Helper()
	pc, err := loopbackAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	var packets atomic.Int64
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			packets.Add(1)
		}
	})
	negotiateWith(t, pc, base+"/whep/"+show, "")
	return &packets
}

func dialRoom(t *testing.T, base, show, token string) *websocket.Conn {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}}
	c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/ws/shows/"+show, h)
	if err != nil {
		t.Fatalf("dial the live room on %s: %v (%v)", base, err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sayAndHear sends a chat line on one node and waits for it on another.
func sayAndHear(t *testing.T, from, to *websocket.Conn, text string) {
	t.Helper()
	if err := from.WriteJSON(map[string]any{"type": "chat", "id": "c-" + text[:4], "text": text}); err != nil {
		t.Fatal(err)
	}
	_ = to.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		var f map[string]any
		if err := to.ReadJSON(&f); err != nil {
			t.Fatalf("waiting for %q on the other node: %v", text, err)
		}
		if f["type"] == "chat" && f["text"] == text {
			return
		}
	}
}
