package stream

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

const testKey = "sk_test"

// clientAPI builds a pion API for in-process clients: loopback only, UDP4, no mDNS.
func clientAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

type env struct {
	t    *testing.T
	srv  *Server
	http *httptest.Server
	api  *webrtc.API
	show uuid.UUID
}

func newEnv(t *testing.T) *env {
	t.Helper()
	base := runtime.NumGoroutine()
	show := uuid.New()
	s := &Server{
		UDPAddr: "127.0.0.1:0", // exercises the production path: one UDP mux port
		Keys: func(_ context.Context, id uuid.UUID, key string) (bool, error) {
			return id == show && key == testKey, nil
		},
		TrackWait: 5 * time.Second,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whip/{show}", s.WHIP)
	mux.HandleFunc("POST /whep/{show}", s.WHEP)
	mux.HandleFunc("DELETE /whip/{show}/{session}", s.Delete)
	mux.HandleFunc("DELETE /whep/{show}/{session}", s.Delete)
	hs := httptest.NewServer(mux)
	e := &env{t: t, srv: s, http: hs, api: clientAPI(), show: show}
	t.Cleanup(func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		hs.Client().CloseIdleConnections()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= base+2 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d now, %d at start\n%s", n, base, buf)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	return e
}

func (e *env) post(path, key, ctype string, body io.Reader) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.http.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// negotiate sends pc's complete offer and applies the answer; it returns the status and Location.
func (e *env) negotiate(pc *webrtc.PeerConnection, path, key string) (int, string, string) {
	e.t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		e.t.Fatal(err)
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		e.t.Fatal(err)
	}
	<-done
	resp := e.post(path, key, "application/sdp", strings.NewReader(pc.LocalDescription().SDP))
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		return resp.StatusCode, "", string(body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
		e.t.Fatalf("answer content type %q", ct)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

type pub struct {
	pc       *webrtc.PeerConnection
	location string
	plis     atomic.Int64
	stop     chan struct{}
	done     chan struct{}
}

// publish starts a VP8 publisher writing 1 KB samples every 33 ms.
func (e *env) publish(key string) (*pub, int, string) {
	e.t.Helper()
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		e.t.Fatal(err)
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "pub")
	if err != nil {
		e.t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		e.t.Fatal(err)
	}
	p := &pub{pc: pc, stop: make(chan struct{}), done: make(chan struct{})}
	e.t.Cleanup(func() { p.close() })
	status, loc, body := e.negotiate(pc, "/whip/"+e.show.String(), key)
	if status != http.StatusCreated {
		close(p.done)
		return p, status, body
	}
	p.location = loc
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
					p.plis.Add(1)
				}
			}
		}
	}()
	go func() {
		defer close(p.done)
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		data := make([]byte, 1000)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			data[0] = byte(i)
			_ = track.WriteSample(media.Sample{Data: data, Duration: 33 * time.Millisecond})
		}
	}()
	return p, status, body
}

func (p *pub) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	_ = p.pc.Close()
}

type view struct {
	pc       *webrtc.PeerConnection
	location string
	packets  atomic.Int64
	ended    chan struct{} // closed when the track read loop ends
}

func (e *env) watch() (*view, int, string) {
	e.t.Helper()
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		e.t.Fatal(err)
	}
	v := &view{pc: pc, ended: make(chan struct{})}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		defer close(v.ended)
		for {
			if _, _, err := tr.ReadRTP(); err != nil {
				return
			}
			v.packets.Add(1)
		}
	})
	e.t.Cleanup(func() { _ = pc.Close() })
	status, loc, body := e.negotiate(pc, "/whep/"+e.show.String(), "")
	v.location = loc
	return v, status, body
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) del(loc string) int {
	req, _ := http.NewRequest("DELETE", e.http.URL+loc, nil)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestFanOut(t *testing.T) {
	e := newEnv(t)
	p, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	if !strings.HasPrefix(p.location, "/whip/"+e.show.String()+"/") {
		t.Fatalf("location %q", p.location)
	}

	// A second publisher on the same show is refused.
	_, status, _ = e.publish(testKey)
	if status != http.StatusConflict {
		t.Fatalf("second publisher: %d, want 409", status)
	}

	v1, status, body := e.watch()
	if status != http.StatusCreated {
		t.Fatalf("WHEP 1: %d %s", status, body)
	}
	v2, status, body := e.watch()
	if status != http.StatusCreated {
		t.Fatalf("WHEP 2: %d %s", status, body)
	}
	waitFor(t, "packets at both viewers", 10*time.Second, func() bool {
		return v1.packets.Load() > 30 && v2.packets.Load() > 30
	})
	// Each new viewer asks the publisher for a keyframe.
	waitFor(t, "a PLI at the publisher", 5*time.Second, func() bool { return p.plis.Load() >= 1 })

	// DELETE ends one viewer; the other keeps receiving.
	if st := e.del(v1.location); st != http.StatusOK {
		t.Fatalf("DELETE viewer: %d", st)
	}
	if st := e.del(v1.location); st != http.StatusNotFound {
		t.Fatalf("DELETE viewer twice: %d", st)
	}
	select {
	case <-v1.ended:
	case <-time.After(10 * time.Second):
		n := v1.packets.Load()
		time.Sleep(500 * time.Millisecond)
		if v1.packets.Load() != n {
			t.Fatal("deleted viewer still receives packets")
		}
	}
	n2 := v2.packets.Load()
	waitFor(t, "packets at the remaining viewer", 5*time.Second, func() bool { return v2.packets.Load() > n2+10 })

	// Ending the publisher ends its viewers and frees the show.
	if st := e.del(p.location); st != http.StatusOK {
		t.Fatalf("DELETE publisher: %d", st)
	}
	select {
	case <-v2.ended:
	case <-time.After(15 * time.Second):
		n := v2.packets.Load()
		time.Sleep(500 * time.Millisecond)
		if v2.packets.Load() != n {
			t.Fatal("viewer still receives packets after the publisher left")
		}
	}
	_, status, body = e.watch()
	if status != http.StatusNotFound {
		t.Fatalf("WHEP without publisher: %d %s", status, body)
	}
	p2, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("republish: %d %s", status, body)
	}
	p2.close()
}

func TestWHIPErrors(t *testing.T) {
	e := newEnv(t)
	path := "/whip/" + e.show.String()
	offer := validOffer(t, e.api)

	check := func(name string, resp *http.Response, want int) {
		t.Helper()
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, want)
		}
	}
	check("missing key", e.post(path, "", "application/sdp", strings.NewReader(offer)), 401)
	check("wrong key", e.post(path, "nope", "application/sdp", strings.NewReader(offer)), 401)
	check("malformed", e.post(path, testKey, "application/sdp", strings.NewReader("v=0\r\nthis is not sdp\r\n")), 400)
	check("empty", e.post(path, testKey, "application/sdp", strings.NewReader("")), 400)
	check("too large", e.post(path, testKey, "application/sdp", strings.NewReader(strings.Repeat("a", MaxSDPBytes+1))), 413)
	check("content type", e.post(path, testKey, "text/plain", strings.NewReader(offer)), 415)
	check("bad show", e.post("/whip/nope", testKey, "application/sdp", strings.NewReader(offer)), 404)
	check("whep no publisher", e.post("/whep/"+e.show.String(), "", "application/sdp", strings.NewReader(offer)), 404)

	// Nothing changed: the show is free for the rightful publisher.
	p, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("publish after errors: %d %s", status, body)
	}
	p.close()
}

func TestWHEPViewerAuth(t *testing.T) {
	e := newEnv(t)
	e.srv.Viewer = func(*http.Request, uuid.UUID) error {
		return apperr.Errorf(apperr.Unauthorized, "members only")
	}
	resp := e.post("/whep/"+e.show.String(), "", "application/sdp", strings.NewReader(validOffer(t, e.api)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("viewer refused: %d, want 401", resp.StatusCode)
	}
	e.srv.Viewer = func(*http.Request, uuid.UUID) error { return errors.New("db down") }
	resp = e.post("/whep/"+e.show.String(), "", "application/sdp", strings.NewReader(validOffer(t, e.api)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("plain error: %d, want 500", resp.StatusCode)
	}
}

func validOffer(t *testing.T, api *webrtc.API) string {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.SDP
}
