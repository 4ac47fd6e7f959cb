package stream

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

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
	t           *testing.T
	srv         *Server
	http        *httptest.Server
	api         *webrtc.API
	show        uuid.UUID
	live, ended atomic.Int64 // OnLive and OnEnded calls
}

// openFDs counts this process's open file descriptors (sockets included).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func testutilCount(c prometheus.Counter) float64 { return testutil.ToFloat64(c) }

// leakChecked holds the tests whose leak check is registered: one per test,
// registered before its first env, so it runs after every env has closed.
var leakChecked sync.Map

func checkLeaks(t *testing.T) {
	if _, done := leakChecked.LoadOrStore(t, true); done {
		return
	}
	base := runtime.NumGoroutine()
	baseFDs := openFDs()
	t.Cleanup(func() {
		leakChecked.Delete(t)
		deadline := time.Now().Add(10 * time.Second)
		for {
			n, fds := runtime.NumGoroutine(), openFDs()
			if n <= base+2 && fds <= baseFDs {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("leak: %d goroutines now, %d at start; %d open files now, %d at start\n%s", n, base, fds, baseFDs, buf)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// newEnv starts a server; opts adjust it before it serves.
func newEnv(t *testing.T, opts ...func(*Server)) *env {
	t.Helper()
	checkLeaks(t)
	show := uuid.New()
	e := &env{t: t, api: clientAPI(), show: show}
	s := &Server{
		Metrics:  NewMetrics(prometheus.NewRegistry()),
		EndGrace: 300 * time.Millisecond,
		OnLive:   func(id uuid.UUID) { e.live.Add(1) },
		OnEnded:  func(id uuid.UUID) { e.ended.Add(1) },
		UDPAddr:  "127.0.0.1:0", // exercises the production path: one UDP mux port
		Keys: func(_ context.Context, id uuid.UUID, key string) (bool, error) {
			return key == testKey, nil
		},
		TrackWait: 5 * time.Second,
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whip/{show}", s.WHIP)
	mux.HandleFunc("POST /whep/{show}", s.WHEP)
	mux.HandleFunc("DELETE /whip/{show}/{session}", s.Delete)
	mux.HandleFunc("DELETE /whep/{show}/{session}", s.Delete)
	mux.HandleFunc("PATCH /whip/{show}/{session}", s.Patch)
	mux.HandleFunc("PATCH /whep/{show}/{session}", s.Patch)
	mux.HandleFunc("OPTIONS /whip/{show}", s.Options)
	mux.HandleFunc("OPTIONS /whip/{show}/{session}", s.Options)
	mux.HandleFunc("POST /whep/{show}/{session}/layer", s.Layer)
	hs := httptest.NewServer(mux)
	e.srv, e.http = s, hs
	t.Cleanup(func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		hs.Client().CloseIdleConnections()
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
// offer sets pc's offer and returns it with every candidate.
func (e *env) offer(pc *webrtc.PeerConnection) string {
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
	return pc.LocalDescription().SDP
}

func (e *env) negotiate(pc *webrtc.PeerConnection, path, key string) (int, string, string) {
	e.t.Helper()
	resp := e.post(path, key, "application/sdp", strings.NewReader(e.offer(pc)))
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

// testPub is an in-process publisher sending VP8-shaped video (a keyframe
// every kfEvery frames, or at once after a PLI) and Opus-shaped audio. The
// VP8 picture ID carries the frame number and the first payload byte after
// the descriptor carries the layer, so receivers can tell what they got.
type testPub struct {
	pc       *webrtc.PeerConnection
	location string
	plis     atomic.Int64
	frame    atomic.Int64
	forceKF  atomic.Bool
	stop     chan struct{}
	done     chan struct{}
}

const kfEvery = 60 // 2 s at 30 fps

// vp8Packets builds one frame's packets: descriptor with S on the first,
// 15-bit picture ID = frame, a frame tag whose P bit says key or not.
func vp8Packets(frame int, key bool, layer byte, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, 1000)
		b[0] = 0x80 // X
		if i == 0 {
			b[0] |= 0x10 // S, partition 0
		}
		b[1] = 0x80 // I: picture id present
		b[2] = 0x80 | byte(frame>>8&0x7f)
		b[3] = byte(frame)
		b[4] = 0x01 // inter frame
		if key {
			b[4] = 0x00
		}
		b[5] = layer
		out[i] = b
	}
	return out
}

func vp8Frame(p []byte) (frame int, key, start bool, layer byte) {
	if len(p) < 6 {
		return -1, false, false, 0
	}
	return int(p[2]&0x7f)<<8 | int(p[3]), p[0]&0x10 != 0 && p[4]&0x01 == 0, p[0]&0x10 != 0, p[5]
}

// publish starts a publisher; with rids it sends simulcast layers.
func (e *env) publish(key string, rids ...string) (*testPub, int, string) {
	e.t.Helper()
	return e.publishTo("", key, rids...)
}

// publishTo is publish with a query on the WHIP URL (?guest=1 publishes the guest feed).
func (e *env) publishTo(query, key string, rids ...string) (*testPub, int, string) {
	e.t.Helper()
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		e.t.Fatal(err)
	}
	vcap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	var videos []*webrtc.TrackLocalStaticRTP
	var vsender *webrtc.RTPSender
	if len(rids) == 0 {
		t, err := webrtc.NewTrackLocalStaticRTP(vcap, "video", "pub")
		if err != nil {
			e.t.Fatal(err)
		}
		videos = append(videos, t)
		if vsender, err = pc.AddTrack(t); err != nil {
			e.t.Fatal(err)
		}
	} else {
		for i, rid := range rids {
			t, err := webrtc.NewTrackLocalStaticRTP(vcap, "video", "pub", webrtc.WithRTPStreamID(rid))
			if err != nil {
				e.t.Fatal(err)
			}
			videos = append(videos, t)
			if i == 0 {
				tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
				if err != nil {
					e.t.Fatal(err)
				}
				vsender = tr.Sender()
			} else if err := vsender.AddEncoding(t); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	audio, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pub")
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := pc.AddTrack(audio); err != nil {
		e.t.Fatal(err)
	}
	p := &testPub{pc: pc, stop: make(chan struct{}), done: make(chan struct{})}
	e.t.Cleanup(func() { p.close() })
	status, loc, body := e.negotiate(pc, "/whip/"+e.show.String()+query, key)
	if status != http.StatusCreated {
		close(p.done)
		return p, status, body
	}
	p.location = loc
	// Simulcast layers are told apart by the MID and RID header extensions,
	// which a hand-written RTP packet must carry itself.
	var midID, ridID uint8
	var mid string
	if len(rids) > 0 {
		for _, x := range vsender.GetParameters().HeaderExtensions {
			switch x.URI {
			case sdp.SDESMidURI:
				midID = uint8(x.ID)
			case sdp.SDESRTPStreamIDURI:
				ridID = uint8(x.ID)
			}
		}
		for _, tr := range pc.GetTransceivers() {
			if tr.Sender() == vsender {
				mid = tr.Mid()
			}
		}
	}
	go func() {
		for {
			pkts, _, err := vsender.ReadRTCP()
			if err != nil {
				return
			}
			for _, pkt := range pkts {
				if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
					p.plis.Add(1)
					p.forceKF.Store(true)
				}
			}
		}
	}()
	go func() {
		defer close(p.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		vseq := make([]uint16, len(videos))
		var aseq uint16
		start := time.Now()
		sentFrames := 0
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			elapsed := time.Since(start)
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: aseq, Timestamp: uint32(elapsed.Milliseconds() * 48)}, Payload: make([]byte, 60)})
			aseq++
			for want := int(elapsed / (33 * time.Millisecond)); sentFrames <= want; sentFrames++ {
				f := sentFrames
				key := f%kfEvery == 0 || p.forceKF.Swap(false)
				for li, vt := range videos {
					pkts := vp8Packets(f, key, byte(li), 3)
					for i, pl := range pkts {
						pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: vseq[li], Timestamp: uint32(f * 3000), Marker: i == len(pkts)-1}, Payload: pl}
						if ridID != 0 {
							_ = pkt.Header.SetExtension(midID, []byte(mid))
							_ = pkt.Header.SetExtension(ridID, []byte(rids[li]))
						}
						_ = vt.WriteRTP(pkt)
						vseq[li]++
					}
				}
				p.frame.Store(int64(f))
			}
		}
	}()
	return p, status, body
}

func (p *testPub) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	_ = p.pc.Close()
}

// trackLog records what a viewer received on one track.
type trackLog struct {
	mu         sync.Mutex
	packets    int
	firstFrame int // picture id of the first video packet
	firstKey   bool
	lastSeq    uint16
	lastTS     uint32
	seqs       map[uint16]int // times each sequence number arrived (duplicates: NACK answers)
	gaps       int
	keyframes  int
	lastFrame  int
	lastLayer  byte
	ssrc       uint32
	afterMark  []int // frame starts after a mark set by the test: n for a keyframe, -1-n for a delta frame
	marked     bool
}

func (l *trackLog) ssrcOf() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ssrc
}

func (l *trackLog) add(pkt *rtp.Packet, video bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastTS = pkt.Timestamp
	if l.seqs == nil {
		l.seqs = map[uint16]int{}
	}
	dup := l.seqs[pkt.SequenceNumber] > 0
	l.seqs[pkt.SequenceNumber]++
	if l.packets > 0 && !dup && pkt.SequenceNumber != l.lastSeq+1 {
		l.gaps++
	}
	if !dup {
		l.lastSeq = pkt.SequenceNumber
	}
	l.ssrc = pkt.SSRC
	if video {
		f, key, start, layer := vp8Frame(pkt.Payload)
		if l.packets == 0 {
			l.firstFrame, l.firstKey = f, key
		}
		if key {
			l.keyframes++
		}
		if start && l.marked {
			if key {
				l.afterMark = append(l.afterMark, f)
			} else {
				l.afterMark = append(l.afterMark, -1-f)
			}
		}
		l.lastFrame, l.lastLayer = f, layer
	}
	l.packets++
}

func (l *trackLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.packets
}

type testView struct {
	pc           *webrtc.PeerConnection
	location     string
	video, audio trackLog
	ended        chan struct{} // closed when the video read loop ends
}

func (e *env) watch(query string) (*testView, int, string) {
	e.t.Helper()
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			e.t.Fatal(err)
		}
	}
	v := &testView{pc: pc, ended: make(chan struct{})}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		video := tr.Kind() == webrtc.RTPCodecTypeVideo
		log := &v.audio
		if video {
			defer close(v.ended)
			log = &v.video
		}
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			log.add(pkt, video)
		}
	})
	e.t.Cleanup(func() { _ = pc.Close() })
	status, loc, body := e.negotiate(pc, "/whep/"+e.show.String()+query, "")
	v.location = loc
	return v, status, body
}

// watchLive is watch as a player does it: a 503 (the edge's relay has no
// media yet, which under load can outlast the first request) is tried again
// shortly, for up to ten seconds.
func (e *env) watchLive(query string) (*testView, int, string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, status, body := e.watch(query)
		if status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return v, status, body
		}
		_ = v.pc.Close()
		time.Sleep(200 * time.Millisecond)
	}
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
	waitFor(t, "OnLive", 5*time.Second, func() bool { return e.live.Load() == 1 })

	// A second publisher on the same show is refused.
	_, status, _ = e.publish(testKey)
	if status != http.StatusConflict {
		t.Fatalf("second publisher: %d, want 409", status)
	}

	var views []*testView
	for i := range 3 {
		v, status, body := e.watch("")
		if status != http.StatusCreated {
			t.Fatalf("WHEP %d: %d %s", i, status, body)
		}
		views = append(views, v)
	}
	for i, v := range views {
		waitFor(t, "video and audio at every viewer", 10*time.Second, func() bool {
			return v.video.count() > 60 && v.audio.count() > 20
		})
		v.video.mu.Lock()
		if !v.video.firstKey {
			t.Errorf("viewer %d: first video packet is not a keyframe start (frame %d)", i, v.video.firstFrame)
		}
		if v.video.gaps != 0 || v.audio.gaps != 0 {
			t.Errorf("viewer %d: %d video and %d audio sequence gaps on loopback", i, v.video.gaps, v.audio.gaps)
		}
		v.video.mu.Unlock()
	}

	// DELETE ends one viewer; the others keep receiving.
	if st := e.del(views[0].location); st != http.StatusOK {
		t.Fatalf("DELETE viewer: %d", st)
	}
	if st := e.del(views[0].location); st != http.StatusNotFound {
		t.Fatalf("DELETE viewer twice: %d", st)
	}
	n := views[1].video.count()
	waitFor(t, "packets at the remaining viewers", 5*time.Second, func() bool { return views[1].video.count() > n+30 })

	// The publisher leaving ends the show only after the grace period;
	// then its viewers end too and OnEnded is called once.
	if st := e.del(p.location); st != http.StatusOK {
		t.Fatalf("DELETE publisher: %d", st)
	}
	select {
	case <-views[1].ended:
	case <-time.After(15 * time.Second):
		t.Fatal("viewer not ended after the grace period")
	}
	waitFor(t, "OnEnded", 5*time.Second, func() bool { return e.ended.Load() == 1 })
	_, status, body = e.watch("")
	if status != http.StatusNotFound {
		t.Fatalf("WHEP after the show ended: %d %s", status, body)
	}
	p2, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("republish: %d %s", status, body)
	}
	waitFor(t, "OnLive again", 5*time.Second, func() bool { return e.live.Load() == 2 })
	p2.close()
}

// A viewer joining mid-GOP starts at once from the cached keyframe, not at
// the publisher's next keyframe and not by asking for one.
func TestLateViewerStartsFromCachedKeyframe(t *testing.T) {
	e := newEnv(t)
	p, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	// The server asks for a keyframe when the publisher starts; wait past it
	// and into the middle of a GOP.
	waitFor(t, "mid-GOP", 10*time.Second, func() bool { f := p.frame.Load(); return f > 20 && f%kfEvery > 15 && f%kfEvery < 40 })
	plis := p.plis.Load()
	joinedAt := p.frame.Load()
	v, status, body := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	waitFor(t, "video", 10*time.Second, func() bool { return v.video.count() > 10 })
	v.video.mu.Lock()
	first, key := v.video.firstFrame, v.video.firstKey
	v.video.mu.Unlock()
	if !key {
		t.Fatalf("first packet (frame %d) is not a keyframe", first)
	}
	if int64(first) > joinedAt {
		t.Fatalf("first frame %d is newer than the frame at join (%d): the viewer waited for a new keyframe", first, joinedAt)
	}
	if got := p.plis.Load(); got != plis {
		t.Errorf("the publisher got %d keyframe requests for a viewer the cache could serve", got-plis)
	}
}

// One viewer whose writes stall does not hold up the others, and when it
// recovers it skips to a keyframe with its sequence numbers still continuous.
func TestStalledViewerDoesNotSlowOthers(t *testing.T) {
	release := make(chan struct{})
	var slowID atomic.Pointer[string]
	var stalled atomic.Bool
	// The slow viewer's path stalls once, the way a full TCP send buffer does.
	e := newEnv(t, func(s *Server) {
		s.wrapWriter = func(id string, w rtpWriter) rtpWriter {
			return &hookWriter{w: w, before: func() {
				if p := slowID.Load(); p != nil && *p == id && stalled.CompareAndSwap(false, true) {
					<-release
				}
			}}
		}
	})
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	slow, _, _ := e.watch("")
	fast, _, _ := e.watch("")
	waitFor(t, "both viewers", 10*time.Second, func() bool { return slow.video.count() > 30 && fast.video.count() > 30 })
	id := slow.location[strings.LastIndex(slow.location, "/")+1:]
	slowID.Store(&id)
	waitFor(t, "the stall", 5*time.Second, stalled.Load)
	n := fast.video.count()
	// 45 frames (1.5 s) reach the other viewer while one is stuck.
	waitFor(t, "the other viewer keeps receiving", 10*time.Second, func() bool { return fast.video.count() >= n+45*3 })
	slow.video.mu.Lock()
	slow.video.marked = true
	gapsBefore := slow.video.gaps
	slow.video.mu.Unlock()
	close(release)
	waitFor(t, "the slow viewer resumes", 10*time.Second, func() bool {
		slow.video.mu.Lock()
		defer slow.video.mu.Unlock()
		return len(slow.video.afterMark) >= 3
	})
	slow.video.mu.Lock()
	defer slow.video.mu.Unlock()
	// The packet held at the stall goes out (it may start a delta frame),
	// then the viewer skips: the next frame it gets is a keyframe.
	if frames := slow.video.afterMark; len(frames) < 2 || (frames[0] < 0 && frames[1] < 0) {
		t.Fatalf("after the stall the viewer did not resume at a keyframe: frames %v", frames)
	}
	if slow.video.gaps != gapsBefore {
		t.Errorf("the skip left %d sequence gaps; output numbering must stay continuous", slow.video.gaps-gapsBefore)
	}
	if got := testutilCount(e.srv.metrics.skips); got < 1 {
		t.Errorf("skips metric %v, want ≥ 1", got)
	}
}

// hookWriter calls before ahead of every packet it passes on to w.
type hookWriter struct {
	w      rtpWriter
	before func()
}

func (h *hookWriter) WriteRTP(hdr *rtp.Header, payload []byte) (int, error) {
	h.before()
	return h.w.WriteRTP(hdr, payload)
}

// A client on this machine that offers only loopback candidates gets
// loopback candidates only in the answer, even from a server on every
// interface, so that it reaches us as a host candidate (not a
// peer-reflexive one that its ICE agent may hold back) with one pair to
// check, and it gets media.
func TestLoopbackOfferGetsLoopbackCandidate(t *testing.T) {
	e := newEnv(t, func(s *Server) { s.UDPAddr = ":0"; s.NoTCP = true })
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	v, status, answer := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, answer)
	}
	if c := scanCandidates(answer); !c.onlyLoopback {
		t.Fatalf("the answer to a loopback-only offer has other candidates than loopback ones (or none):\n%s", answer)
	}
	waitFor(t, "video", 10*time.Second, func() bool { return v.video.count() > 10 })
}

// A viewer whose offer lists its candidates, all UDP over IPv4, gets only
// such candidates (each ICE-TCP one costs it a TCP connection's state per
// local address); one that may still trickle candidates gets them all.
func TestCompleteOfferGetsOnlyItsNetworks(t *testing.T) {
	e := newEnv(t) // ICE-TCP on
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	v, status, answer := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, answer)
	}
	if c := scanCandidates(answer); c.nets != netUDP4 {
		t.Fatalf("the answer to a complete offer of UDP over IPv4 has candidates of other networks (or none):\n%s", answer)
	}
	waitFor(t, "video", 10*time.Second, func() bool { return v.video.count() > 10 })

	// The same offer without end-of-candidates: more may come, over TCP.
	pc, err := e.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	sdp := strings.ReplaceAll(e.offer(pc), "a=end-of-candidates\r\n", "")
	resp := e.post("/whep/"+e.show.String(), "", "application/sdp", strings.NewReader(sdp))
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", resp.StatusCode, body)
	}
	if scanCandidates(string(body)).nets&netTCP4 == 0 {
		t.Fatalf("the answer to an offer that may still trickle has no TCP candidate:\n%s", body)
	}
}

func TestScanCandidates(t *testing.T) {
	const eoc = "a=end-of-candidates\r\n"
	for sdp, want := range map[string]offerCandidates{
		"a=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n" + eoc:                             {nets: netUDP4, loopback: true, onlyLoopback: true, complete: true},
		"a=candidate:1 1 UDP 2130706431 ::1 5000 typ host\r\n":                                         {nets: netUDP6, loopback: true, onlyLoopback: true},
		"a=candidate:1 1 udp 2 ::1 5000 typ host\r\na=candidate:2 1 udp 1 10.0.0.1 5000 typ host\r\n":  {nets: netUDP6 | netUDP4, loopback: true},
		"a=candidate:1 1 udp 2130706431 10.1.2.3 5000 typ host\r\n" + eoc:                              {nets: netUDP4, complete: true},
		"a=candidate:1 1 TCP 1518280447 10.1.2.3 9 typ host tcptype active\r\n":                        {nets: netTCP4},
		"a=candidate:1 1 udp 1694498815 203.0.113.9 5000 typ srflx raddr 127.0.0.1 rport 1\r\n":        {nets: netUDP4},
		"a=candidate:1 1 udp 2130706431 host.local 5000 typ host\r\n":                                  {nets: netUDP4 | netUDP6},
		"a=candidate:1 1 udp 2 fd00::2 5000 typ host\r\na=candidate:2 1 tcp 1 10.0.0.1 9 typ host\r\n": {nets: netUDP6 | netTCP4},
		"v=0\r\na=ice-ufrag:127.0.0.1\r\n":                                                             {},
	} {
		if got := scanCandidates(sdp); got != want {
			t.Errorf("scanCandidates(%q) = %+v, want %+v", sdp, got, want)
		}
	}
}

// A viewer gets sender reports for each of its tracks (the player lines
// audio up with video by them), naming the track's SSRC, with an RTP time
// on the clock of the packets it receives and wall-clock NTP time.
func TestViewerGetsSenderReports(t *testing.T) {
	e := newEnv(t)
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	v, _, _ := e.watch("")
	waitFor(t, "media", 10*time.Second, func() bool { return v.video.count() > 30 && v.audio.count() > 5 })
	reports := make(chan *rtcp.SenderReport, 16)
	for _, r := range v.pc.GetReceivers() {
		go func() {
			for {
				pkts, _, err := r.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						select {
						case reports <- sr:
						default:
						}
					}
				}
			}
		}()
	}
	got := map[uint32]bool{}
	deadline := time.After(10 * time.Second)
	for len(got) < 2 {
		select {
		case sr := <-reports:
			var l *trackLog
			switch sr.SSRC {
			case v.video.ssrcOf():
				l = &v.video
			case v.audio.ssrcOf():
				l = &v.audio
			default:
				t.Fatalf("sender report for SSRC %d, which is neither track's", sr.SSRC)
			}
			l.mu.Lock()
			last := l.lastTS
			l.mu.Unlock()
			if d := int32(sr.RTPTime - last); d < -90000 || d > 90000 {
				t.Errorf("SSRC %d: report's RTP time %d is %d ticks from the last packet's %d", sr.SSRC, sr.RTPTime, d, last)
			}
			at := time.Unix(int64(sr.NTPTime>>32)-2208988800, 0)
			if since := time.Since(at); since < -5*time.Second || since > 5*time.Second {
				t.Errorf("SSRC %d: report's NTP time is %s, %s from now", sr.SSRC, at, since)
			}
			if sr.PacketCount == 0 || sr.OctetCount == 0 {
				t.Errorf("SSRC %d: %d packets, %d octets reported", sr.SSRC, sr.PacketCount, sr.OctetCount)
			}
			got[sr.SSRC] = true
		case <-deadline:
			t.Fatalf("sender reports for %d of 2 tracks", len(got))
		}
	}
}

// A NACK is answered from the shared ring with the same sequence number.
func TestNACKAnsweredFromRing(t *testing.T) {
	e := newEnv(t)
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	// The viewer's SRTP would drop the answer as a replay of a packet it
	// already has; a real viewer NACKs packets it never got.
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.DisableSRTPReplayProtection(true)
	e.api = webrtc.NewAPI(webrtc.WithSettingEngine(se))
	v, _, _ := e.watch("")
	waitFor(t, "video", 10*time.Second, func() bool { return v.video.count() > 30 })
	v.video.mu.Lock()
	seq, ssrc := v.video.lastSeq-3, v.video.ssrc
	v.video.mu.Unlock()
	if err := v.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seq})}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resent packet", 5*time.Second, func() bool {
		v.video.mu.Lock()
		defer v.video.mu.Unlock()
		return v.video.seqs[seq] == 2
	})
}

// A publisher who reconnects within the grace period keeps the viewers:
// they continue on the new session with continuous sequence numbers.
func TestPublisherReconnectKeepsViewers(t *testing.T) {
	e := newEnv(t)
	e.srv.EndGrace = 10 * time.Second
	p, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	v, _, _ := e.watch("")
	waitFor(t, "video", 10*time.Second, func() bool { return v.video.count() > 30 })
	if st := e.del(p.location); st != http.StatusOK {
		t.Fatalf("DELETE publisher: %d", st)
	}
	p.close()
	resp := e.post("/whep/"+e.show.String(), "", "application/sdp", strings.NewReader(validOffer(t, e.api)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("WHEP during the grace period: %d, want 503 with Retry-After", resp.StatusCode)
	}
	n := v.video.count()
	v.video.mu.Lock()
	gaps := v.video.gaps
	v.video.marked = true
	v.video.mu.Unlock()
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP again: %d %s", status, body)
	}
	waitFor(t, "video from the new session", 10*time.Second, func() bool { return v.video.count() > n+30 })
	v.video.mu.Lock()
	defer v.video.mu.Unlock()
	if len(v.video.afterMark) == 0 || v.video.afterMark[0] < 0 {
		t.Errorf("the new session did not start at a keyframe: %v", v.video.afterMark)
	}
	if v.video.gaps != gaps {
		t.Errorf("%d sequence gaps across the reconnect", v.video.gaps-gaps)
	}
	if e.live.Load() != 1 || e.ended.Load() != 0 {
		t.Errorf("OnLive %d, OnEnded %d; want 1, 0 for a reconnect", e.live.Load(), e.ended.Load())
	}
}

// Simulcast: a viewer gets the layer it asks for and switches at a keyframe.
func TestSimulcastLayerChoice(t *testing.T) {
	e := newEnv(t)
	if _, status, body := e.publish(testKey, "q", "f"); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	waitFor(t, "both layers", 10*time.Second, func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		f := e.srv.feeds[e.show]
		if f == nil {
			return false
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.video) == 2
	})
	auto, _, _ := e.watch("")
	low, status, body := e.watch("?layer=q")
	if status != http.StatusCreated {
		t.Fatalf("WHEP ?layer=q: %d %s", status, body)
	}
	layer := func(v *testView) byte {
		v.video.mu.Lock()
		defer v.video.mu.Unlock()
		return v.video.lastLayer
	}
	waitFor(t, "video", 10*time.Second, func() bool { return auto.video.count() > 30 && low.video.count() > 30 })
	if layer(auto) != 1 || layer(low) != 0 {
		t.Fatalf("layers: auto got %d (want 1, the top), ?layer=q got %d (want 0)", layer(auto), layer(low))
	}
	low.video.mu.Lock()
	gaps := low.video.gaps
	low.video.mu.Unlock()
	req, _ := http.NewRequest("POST", e.http.URL+low.location+"/layer", strings.NewReader(`{"layer":"f"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("layer switch: %d", resp.StatusCode)
	}
	waitFor(t, "the switch to f", 10*time.Second, func() bool { return layer(low) == 1 })
	low.video.mu.Lock()
	defer low.video.mu.Unlock()
	if low.video.gaps != gaps {
		t.Errorf("%d sequence gaps across the layer switch", low.video.gaps-gaps)
	}
}

// Trickle ICE over PATCH, and the RFC 9725 answers around it.
func TestTrickleAndOptions(t *testing.T) {
	e := newEnv(t)
	p, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	patch := func(path, ctype, ifMatch, body string) int {
		req, _ := http.NewRequest("PATCH", e.http.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := e.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	id := p.location[strings.LastIndex(p.location, "/")+1:]
	local := p.pc.LocalDescription().SDP
	ufrag, pwd := sdpAttr(local, "ice-ufrag"), sdpAttr(local, "ice-pwd")
	frag := "a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:" + pwd + "\r\nm=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n"
	const ct = "application/trickle-ice-sdpfrag"
	for _, c := range []struct {
		name                  string
		path, ctype, ifm, frg string
		want                  int
	}{
		{"candidate", p.location, ct, `"` + id + `"`, frag, 204},
		{"wildcard If-Match", p.location, ct, "*", frag, 204},
		{"wrong If-Match", p.location, ct, `"nope"`, frag, 412},
		{"ICE restart", p.location, ct, "", strings.Replace(frag, ufrag, "newufrag", 1), 422},
		{"content type", p.location, "application/sdp", "", frag, 415},
		{"garbage", p.location, ct, "", "not a fragment\r\n", 400},
		{"too large", p.location, ct, "", strings.Repeat("a=x\r\n", MaxSDPBytes), 413},
		{"unknown session", "/whip/" + e.show.String() + "/nope", ct, "", frag, 404},
	} {
		if got := patch(c.path, c.ctype, c.ifm, c.frg); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	req, _ := http.NewRequest("OPTIONS", e.http.URL+"/whip/"+e.show.String(), nil)
	resp, err := e.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Accept-Post") != "application/sdp" || resp.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

// A viewer whose network allows only TCP still gets the media, over ICE-TCP
// on the media port number.
func TestICETCP(t *testing.T) {
	e := newEnv(t)
	if _, status, body := e.publish(testKey); status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	var se webrtc.SettingEngine
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	e.api = webrtc.NewAPI(webrtc.WithSettingEngine(se))
	v, status, body := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP: %d %s", status, body)
	}
	if !strings.Contains(body, "tcptype passive") {
		t.Errorf("the answer offers no passive TCP candidate:\n%s", body)
	}
	waitFor(t, "video over TCP", 15*time.Second, func() bool { return v.video.count() > 30 })
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
	check("whep bad layer", e.post("/whep/"+e.show.String()+"?layer=%3Cx%3E", "", "application/sdp", strings.NewReader(offer)), 400)

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

// fakeDir is an in-memory Directory for two in-process nodes (the real
// drivers have their own contract tests in stream/directorytest).
type fakeDir struct {
	mu      sync.Mutex
	nodes   map[string]Node
	origins map[uuid.UUID]string
	trees   map[uuid.UUID]map[string]string
}

func (d *fakeDir) PlaceRelay(_ context.Context, show uuid.UUID, req RelayRequest, _ time.Duration) (Placement, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	origin, ok := d.origins[show]
	if !ok {
		return Placement{}, apperr.Errorf(apperr.NotFound, "no origin")
	}
	fanout := map[string]int{}
	for id, n := range d.nodes {
		fanout[id] = n.RelayFanout
	}
	if d.trees == nil {
		d.trees = map[uuid.UUID]map[string]string{}
	}
	if d.trees[show] == nil {
		d.trees[show] = map[string]string{}
	}
	parent, depth, err := PlaceInTree(origin, d.trees[show], fanout, req)
	if err != nil {
		return Placement{}, err
	}
	d.trees[show][req.Node] = parent
	return Placement{Parent: d.nodes[parent], Depth: depth}, nil
}

func (d *fakeDir) LeaveRelay(_ context.Context, show uuid.UUID, node string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.trees[show], node)
	return nil
}

func (d *fakeDir) RelayTree(_ context.Context, show uuid.UUID) (map[string]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.trees[show]), nil
}

func (d *fakeDir) Heartbeat(_ context.Context, n Node, _ time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.nodes[n.ID] = n
	return nil
}

func (d *fakeDir) Nodes(context.Context) ([]Node, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Node
	for _, n := range d.nodes {
		out = append(out, n)
	}
	return out, nil
}

func (d *fakeDir) ClaimOrigin(_ context.Context, show uuid.UUID, node string, _ time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cur, ok := d.origins[show]; ok && cur != node {
		return apperr.Errorf(apperr.Conflict, "claimed by %s", cur)
	}
	d.origins[show] = node
	return nil
}

func (d *fakeDir) Origin(_ context.Context, show uuid.UUID) (Node, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, ok := d.origins[show]
	if !ok {
		return Node{}, false, nil
	}
	n, ok := d.nodes[id]
	return n, ok, nil
}

func (d *fakeDir) ReleaseOrigin(_ context.Context, show uuid.UUID, node string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.origins[show] == node {
		delete(d.origins, show)
	}
	return nil
}

// A show published on node A is watched on node B: B pulls it once from A
// (past A's viewer checks, with the cluster secret) and fans it out; a
// second publisher on B is refused; when A's show ends, B's viewers end.
func TestRelayBetweenNodes(t *testing.T) {
	dir := &fakeDir{nodes: map[string]Node{}, origins: map[uuid.UUID]string{}}
	a, b := newEnv(t), newEnv(t)
	b.show = a.show
	for _, n := range []struct {
		e  *env
		id string
	}{{a, "a"}, {b, "b"}} {
		n.e.srv.Directory, n.e.srv.Node, n.e.srv.RelaySecret = dir, Node{ID: n.id, URL: n.e.http.URL}, "s3cret"
		if err := n.e.srv.Start(); err != nil {
			t.Fatal(err)
		}
	}
	// A lets no ordinary viewer in: only the relay gets past.
	a.srv.Viewer = func(*http.Request, uuid.UUID) error { return apperr.Errorf(apperr.NotFound, "members only") }

	p, status, body := a.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP on A: %d %s", status, body)
	}
	if _, status, _ := b.publish(testKey); status != http.StatusConflict {
		t.Fatalf("a second publisher on B: %d, want 409", status)
	}
	if _, status, _ := a.watch(""); status != http.StatusNotFound {
		t.Fatalf("a viewer on A past its check: %d, want 404", status)
	}
	req, _ := http.NewRequest("POST", a.http.URL+"/whep/"+a.show.String(), strings.NewReader(validOffer(t, a.api)))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set(relayHeader, "wrong")
	if resp, err := a.http.Client().Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a pull with the wrong secret: %d, want 404", resp.StatusCode)
	}

	v1, status, body := b.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP on B: %d %s", status, body)
	}
	v2, _, _ := b.watch("")
	waitFor(t, "media relayed to both viewers on B", 10*time.Second, func() bool { return v1.video.count() > 30 && v2.video.count() > 30 && v1.audio.count() > 10 })
	v1.video.mu.Lock()
	key := v1.video.firstKey
	v1.video.mu.Unlock()
	if !key {
		t.Error("the first relayed packet is not a keyframe")
	}
	a.srv.mu.Lock()
	relays := len(a.srv.feeds[a.show].viewers)
	a.srv.mu.Unlock()
	if relays != 1 {
		t.Errorf("A serves %d sessions for B's two viewers, want 1 relay", relays)
	}

	if st := a.del(p.location); st != http.StatusOK {
		t.Fatalf("DELETE publisher: %d", st)
	}
	select {
	case <-v1.ended:
	case <-time.After(15 * time.Second):
		t.Fatal("B's viewer not ended after the origin's show ended")
	}
	waitFor(t, "the origin claim released", 5*time.Second, func() bool {
		_, ok, _ := dir.Origin(context.Background(), a.show)
		return !ok
	})
	if a.ended.Load() != 1 || b.ended.Load() != 0 {
		t.Errorf("OnEnded: A %d, B %d; want 1, 0 (the origin reports the show's end)", a.ended.Load(), b.ended.Load())
	}
}

// Behind a 1:1 NAT the answer's candidates carry the public address.
func TestPublicIPInCandidates(t *testing.T) {
	e := newEnv(t)
	e.srv.PublicIPs = []string{"203.0.113.7"}
	_, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	if !strings.Contains(body, " 203.0.113.7 ") {
		t.Fatalf("no candidate with the public address in the answer:\n%s", body)
	}
	if strings.Contains(body, " 127.0.0.1 ") {
		t.Errorf("the host's own address is still announced:\n%s", body)
	}
}

// clusterOf starts one server per id on a shared directory, each feeding at
// most fanout other nodes per show, all on the first one's show.
func clusterOf(t *testing.T, dir *fakeDir, fanout int, ids ...string) []*env {
	t.Helper()
	var envs []*env
	for _, id := range ids {
		e := newEnv(t)
		if len(envs) > 0 {
			e.show = envs[0].show
		}
		e.srv.Directory, e.srv.Node, e.srv.RelaySecret = dir, Node{ID: id, URL: e.http.URL, RelayFanout: fanout}, "s3cret"
		if err := e.srv.Start(); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	return envs
}

// oneSeries is the series of one of m's per-show figures: ToFloat64 reads
// it on a node serving one show.
type oneSeries struct {
	m    *Metrics
	desc *prometheus.Desc
}

func (o oneSeries) Describe(ch chan<- *prometheus.Desc) { ch <- o.desc }

func (o oneSeries) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() { o.m.Collect(all); close(all) }()
	for x := range all {
		if x.Desc() == o.desc {
			ch <- x
		}
	}
}

// relayFigures reads a node's relay depth and children for its one show.
func relayFigures(e *env) (depth, children int) {
	m := e.srv.metrics
	return int(testutil.ToFloat64(oneSeries{m, m.depthDesc})), int(testutil.ToFloat64(oneSeries{m, m.childrenDesc}))
}

func videoLayer(v *testView) byte {
	v.video.mu.Lock()
	defer v.video.mu.Unlock()
	return v.video.lastLayer
}

// Relays form a tree: with a fanout of 2, the origin feeds b and c, and d
// hangs under b. Every simulcast layer travels, so d's viewer can switch
// layers. When b shuts down (and leaves the tree), d re-attaches and its viewer carries on, on the same session, from a
// keyframe, without a sequence gap. (A parent killed outright is
// TestRelayTreeSurvivesKilledRelay in cmd/pavilion.)
func TestRelayTreeLayersAndReattach(t *testing.T) {
	dir := &fakeDir{nodes: map[string]Node{}, origins: map[uuid.UUID]string{}}
	envs := clusterOf(t, dir, 2, "a", "b", "c", "d")
	a, b, c, d := envs[0], envs[1], envs[2], envs[3]
	if _, status, body := a.publish(testKey, "q", "f"); status != http.StatusCreated {
		t.Fatalf("WHIP on a: %d %s", status, body)
	}
	waitFor(t, "both layers on the origin", 10*time.Second, func() bool {
		a.srv.mu.Lock()
		defer a.srv.mu.Unlock()
		f := a.srv.feeds[a.show]
		if f == nil {
			return false
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.video) == 2
	})
	vb, status, body := b.watchLive("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP on b: %d %s", status, body)
	}
	if _, status, body := c.watchLive(""); status != http.StatusCreated {
		t.Fatalf("WHEP on c: %d %s", status, body)
	}
	vd, status, body := d.watchLive("?layer=q")
	if status != http.StatusCreated {
		t.Fatalf("WHEP on d: %d %s", status, body)
	}
	tree, _ := dir.RelayTree(context.Background(), a.show)
	if want := map[string]string{"b": "a", "c": "a", "d": "b"}; !maps.Equal(tree, want) {
		t.Fatalf("relay tree %v, want %v", tree, want)
	}
	waitFor(t, "media on b and d", 10*time.Second, func() bool { return vb.video.count() > 30 && vd.video.count() > 30 && vd.audio.count() > 10 })
	for _, want := range []struct {
		e               *env
		depth, children int
	}{{a, 0, 2}, {b, 1, 1}, {c, 1, 0}, {d, 2, 0}} {
		if depth, children := relayFigures(want.e); depth != want.depth || children != want.children {
			t.Errorf("node %s: relay depth %d, children %d; want %d, %d", want.e.srv.Node.ID, depth, children, want.depth, want.children)
		}
	}
	if l := videoLayer(vb); l != 1 {
		t.Errorf("b's automatic viewer gets layer %d, want 1 (the top)", l)
	}
	if l := videoLayer(vd); l != 0 {
		t.Fatalf("d's ?layer=q viewer gets layer %d, want 0: the low layer did not travel two hops", l)
	}
	req, _ := http.NewRequest("POST", d.http.URL+vd.location+"/layer", strings.NewReader(`{"layer":"f"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("layer switch on d: %d", resp.StatusCode)
	}
	waitFor(t, "d's viewer on layer f", 10*time.Second, func() bool { return videoLayer(vd) == 1 })
	if got := testutil.ToFloat64(d.srv.metrics.reattaches); got != 0 {
		t.Errorf("re-attaches before b went away: %v", got)
	}

	// b goes away (its sessions close, its port stops answering).
	vd.video.mu.Lock()
	gaps := vd.video.gaps
	vd.video.marked = true
	vd.video.mu.Unlock()
	n := vd.video.count()
	b.http.Close()
	if err := b.srv.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "d's viewer getting media again", 15*time.Second, func() bool { return vd.video.count() > n+60 })
	tree, _ = dir.RelayTree(context.Background(), a.show)
	// Under a when b's leaving the tree came first, else under c.
	if p := tree["d"]; p != "a" && p != "c" {
		t.Errorf("after b left, d hangs under %q, want a or c", p)
	}
	if got := testutil.ToFloat64(d.srv.metrics.reattaches); got != 1 {
		t.Errorf("d re-attached %v times, want 1", got)
	}
	vd.video.mu.Lock()
	defer vd.video.mu.Unlock()
	if i := slices.IndexFunc(vd.video.afterMark, func(f int) bool { return f >= 0 }); i < 0 {
		t.Errorf("no keyframe after the re-attach: %v", vd.video.afterMark)
	}
	if vd.video.gaps != gaps {
		t.Errorf("%d sequence gaps across the re-attach", vd.video.gaps-gaps)
	}
	select {
	case <-vd.ended:
		t.Error("d's viewer session ended")
	default:
	}
}
