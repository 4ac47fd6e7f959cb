package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// MaxSDPBytes is the largest SDP offer accepted (413 beyond).
const MaxSDPBytes = 64 << 10

// Server is the WHIP/WHEP SFU. Set the fields, then use the handler methods.
// Fields must not change after the first request.
type Server struct {
	// API builds PeerConnections. If nil, one is built on first use with the
	// default codecs and interceptors and an ICE UDP mux listening on UDPAddr.
	API *webrtc.API
	// UDPAddr is the one UDP address for all media, e.g. ":8443" (used when API is nil).
	UDPAddr string
	// ICEServers are the STUN/TURN servers handed to every PeerConnection.
	ICEServers []webrtc.ICEServer
	// Keys reports whether key is the stream key of the show. Nil refuses every publisher.
	Keys func(ctx context.Context, showID uuid.UUID, key string) (bool, error)
	// Viewer authorizes a WHEP request: nil error allows; an *apperr.Error
	// (NotFound, Unauthorized, Forbidden…) sets the status. Nil allows everyone.
	Viewer func(r *http.Request, showID uuid.UUID) error
	// Logger, or slog.Default().
	Logger *slog.Logger
	// PLIInterval is the least time between two keyframe requests per track (default 500 ms).
	PLIInterval time.Duration
	// TrackWait is how long a viewer waits for the publisher's first media (default 3 s).
	TrackWait time.Duration
	// GatherTimeout bounds ICE gathering for one answer (default 5 s).
	GatherTimeout time.Duration

	initOnce sync.Once
	initErr  error
	api      *webrtc.API
	mux      ice.UDPMux

	mu       sync.Mutex
	closed   bool
	pubs     map[uuid.UUID]*publisher // by show
	sessions map[string]session       // by session id
	wg       sync.WaitGroup
}

type session interface {
	showID() uuid.UUID
	end(reason string)
}

type publisher struct {
	s        *Server
	id       string
	show     uuid.UUID
	pc       *webrtc.PeerConnection
	expected int
	ready    chan struct{} // closed when all expected tracks arrived
	done     chan struct{} // closed when ended

	mu      sync.Mutex
	tracks  []*pubTrack
	viewers map[string]*viewer
	ended   bool
	once    sync.Once
}

type pubTrack struct {
	p      *publisher
	remote *webrtc.TrackRemote
	local  *webrtc.TrackLocalStaticRTP

	mu      sync.Mutex
	lastPLI time.Time
	pending bool
}

type viewer struct {
	s    *Server
	id   string
	pub  *publisher
	pc   *webrtc.PeerConnection
	once sync.Once
}

func (s *Server) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) pliInterval() time.Duration {
	if s.PLIInterval > 0 {
		return s.PLIInterval
	}
	return 500 * time.Millisecond
}

// Start binds the media port now, so a port already in use stops the server
// at start rather than failing the first publisher.
func (s *Server) Start() error { return s.init() }

func (s *Server) init() error {
	s.initOnce.Do(func() {
		s.mu.Lock()
		s.pubs = map[uuid.UUID]*publisher{}
		s.sessions = map[string]session{}
		s.mu.Unlock()
		if s.API != nil {
			s.api = s.API
			return
		}
		addr := s.UDPAddr
		if addr == "" {
			addr = ":8443"
		}
		conn, err := net.ListenPacket("udp", addr)
		if err != nil {
			s.initErr = fmt.Errorf("stream: listen udp %s: %w", addr, err)
			return
		}
		s.mux = webrtc.NewICEUDPMux(nil, conn)
		var se webrtc.SettingEngine
		se.SetICEUDPMux(s.mux)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		if ua, ok := conn.LocalAddr().(*net.UDPAddr); ok && ua.IP.IsLoopback() {
			se.SetIncludeLoopbackCandidate(true)
		}
		s.api = webrtc.NewAPI(webrtc.WithSettingEngine(se))
	})
	return s.initErr
}

// enter adds one to the goroutines Close waits for, unless closed.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// goTracked runs fn in a goroutine that Close waits for; it does nothing once closed.
func (s *Server) goTracked(fn func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

// Close ends every session, waits for the server's goroutines and closes the UDP mux.
func (s *Server) Close() error {
	_ = s.init()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var all []session
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.end("server closed")
	}
	s.wg.Wait()
	if s.mux != nil {
		return s.mux.Close()
	}
	return nil
}

// ---- HTTP handlers ----

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

func statusOf(code apperr.Code) int {
	switch code {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Internal {
		s.log().Error("stream", "err", err)
	}
	httpError(w, statusOf(code), apperr.MessageOf(err))
}

// pathIDs returns the show id and (optional) session id of /whip/{show}[/{session}].
func pathIDs(r *http.Request, prefix string) (uuid.UUID, string, error) {
	show, sess := r.PathValue("show"), r.PathValue("session")
	if show == "" {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			return uuid.Nil, "", apperr.Errorf(apperr.NotFound, "not found")
		}
		show, sess, _ = strings.Cut(rest, "/")
	}
	id, err := uuid.Parse(show)
	if err != nil {
		return uuid.Nil, "", apperr.Errorf(apperr.NotFound, "no such show")
	}
	return id, sess, nil
}

// readOffer reads and checks an application/sdp offer.
func readOffer(w http.ResponseWriter, r *http.Request) (webrtc.SessionDescription, error) {
	var none webrtc.SessionDescription
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/sdp" {
		return none, &apperr.Error{Code: "unsupported_media_type", Message: "the body must be application/sdp"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSDPBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return none, apperr.Errorf(apperr.TooLarge, "the SDP offer is over %d bytes", MaxSDPBytes)
		}
		return none, apperr.Wrap(apperr.Invalid, err, "could not read the SDP offer")
	}
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: string(body)}
	parsed, err := offer.Unmarshal()
	if err != nil {
		return none, apperr.Wrap(apperr.Invalid, err, "malformed SDP offer")
	}
	if len(parsed.MediaDescriptions) == 0 {
		return none, apperr.Errorf(apperr.Invalid, "the SDP offer has no media")
	}
	return offer, nil
}

func writeOffErr(s *Server, w http.ResponseWriter, err error) {
	var e *apperr.Error
	if errors.As(err, &e) && e.Code == "unsupported_media_type" {
		httpError(w, http.StatusUnsupportedMediaType, e.Message)
		return
	}
	s.fail(w, err)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// answer applies offer to pc and returns the complete (non-trickle) answer.
func (s *Server) answer(ctx context.Context, pc *webrtc.PeerConnection, offer webrtc.SessionDescription) (string, error) {
	if err := pc.SetRemoteDescription(offer); err != nil {
		return "", apperr.Wrap(apperr.Invalid, err, "the SDP offer cannot be used")
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", apperr.Wrap(apperr.Invalid, err, "no answer to the SDP offer")
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	t := s.GatherTimeout
	if t <= 0 {
		t = 5 * time.Second
	}
	timer := time.NewTimer(t)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

func writeAnswer(w http.ResponseWriter, location, sdp string) {
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, sdp)
}

// WHIP handles POST /whip/{show}.
func (s *Server) WHIP(w http.ResponseWriter, r *http.Request) {
	if err := s.init(); err != nil {
		s.fail(w, err)
		return
	}
	show, _, err := pathIDs(r, "/whip/")
	if err != nil {
		s.fail(w, err)
		return
	}
	key := bearer(r)
	if key == "" || s.Keys == nil {
		w.Header().Set("WWW-Authenticate", "Bearer")
		httpError(w, http.StatusUnauthorized, "a stream key is required")
		return
	}
	ok, err := s.Keys(r.Context(), show, key)
	if err != nil {
		s.fail(w, err)
		return
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		httpError(w, http.StatusUnauthorized, "wrong stream key")
		return
	}
	offer, err := readOffer(w, r)
	if err != nil {
		writeOffErr(s, w, err)
		return
	}

	p := &publisher{s: s, id: uuid.NewString(), show: show, ready: make(chan struct{}), done: make(chan struct{}), viewers: map[string]*viewer{}}
	// Reserve the show before negotiating so that two racing publishers cannot both win.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	if _, busy := s.pubs[show]; busy {
		s.mu.Unlock()
		httpError(w, http.StatusConflict, "this show already has a live publisher; DELETE its session first")
		return
	}
	s.pubs[show] = p
	s.mu.Unlock()

	pc, err := s.api.NewPeerConnection(webrtc.Configuration{ICEServers: s.ICEServers})
	if err != nil {
		p.release()
		s.fail(w, err)
		return
	}
	p.pc = pc
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			s.goTracked(func() { p.end("connection " + st.String()) })
		}
	})
	sdp, err := s.answer(r.Context(), pc, offer)
	if err != nil {
		p.release()
		_ = pc.Close()
		s.fail(w, err)
		return
	}
	for _, t := range pc.GetTransceivers() {
		if t.Direction() == webrtc.RTPTransceiverDirectionRecvonly || t.Direction() == webrtc.RTPTransceiverDirectionSendrecv {
			p.expected++
		}
	}
	p.mu.Lock()
	if p.expected > 0 && len(p.tracks) >= p.expected {
		close(p.ready)
	}
	p.mu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		p.end("server closed")
		httpError(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	s.sessions[p.id] = p
	s.mu.Unlock()
	s.log().Info("stream: publisher live", "show", show, "session", p.id)
	writeAnswer(w, "/whip/"+show.String()+"/"+p.id, sdp)
}

// WHEP handles POST /whep/{show}.
func (s *Server) WHEP(w http.ResponseWriter, r *http.Request) {
	if err := s.init(); err != nil {
		s.fail(w, err)
		return
	}
	show, _, err := pathIDs(r, "/whep/")
	if err != nil {
		s.fail(w, err)
		return
	}
	if s.Viewer != nil {
		if err := s.Viewer(r, show); err != nil {
			s.fail(w, err)
			return
		}
	}
	offer, err := readOffer(w, r)
	if err != nil {
		writeOffErr(s, w, err)
		return
	}
	s.mu.Lock()
	p := s.pubs[show]
	s.mu.Unlock()
	if p == nil {
		httpError(w, http.StatusNotFound, "this show is not live: no publisher")
		return
	}
	wait := s.TrackWait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	timer := time.NewTimer(wait)
	select {
	case <-p.ready:
	case <-timer.C:
	case <-p.done:
	case <-r.Context().Done():
	}
	timer.Stop()
	p.mu.Lock()
	tracks := append([]*pubTrack(nil), p.tracks...)
	ended := p.ended
	p.mu.Unlock()
	if ended {
		httpError(w, http.StatusNotFound, "this show is not live: the publisher left")
		return
	}
	if len(tracks) == 0 {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "the show is live but no media has arrived yet; retry")
		return
	}

	pc, err := s.api.NewPeerConnection(webrtc.Configuration{ICEServers: s.ICEServers})
	if err != nil {
		s.fail(w, err)
		return
	}
	v := &viewer{s: s, id: uuid.NewString(), pub: p, pc: pc}
	senders := make([]*webrtc.RTPSender, len(tracks))
	for i, t := range tracks {
		if senders[i], err = pc.AddTrack(t.local); err != nil {
			_ = pc.Close()
			s.fail(w, err)
			return
		}
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			s.goTracked(func() { v.end("connection " + st.String()) })
		}
	})
	sdp, err := s.answer(r.Context(), pc, offer)
	if err != nil {
		_ = pc.Close()
		s.fail(w, err)
		return
	}

	s.mu.Lock()
	p.mu.Lock()
	if s.closed || p.ended {
		p.mu.Unlock()
		s.mu.Unlock()
		_ = pc.Close()
		httpError(w, http.StatusNotFound, "this show is not live: the publisher left")
		return
	}
	p.viewers[v.id] = v
	s.sessions[v.id] = v
	p.mu.Unlock()
	s.mu.Unlock()

	for i, t := range tracks {
		sender, t := senders[i], t
		s.goTracked(func() { v.readRTCP(sender, t) })
		if t.remote.Kind() == webrtc.RTPCodecTypeVideo {
			t.requestKeyframe() // a new viewer starts at a keyframe
		}
	}
	writeAnswer(w, "/whep/"+show.String()+"/"+v.id, sdp)
}

// Delete handles DELETE /whip/{show}/{session} and /whep/{show}/{session}.
func (s *Server) Delete(w http.ResponseWriter, r *http.Request) {
	if err := s.init(); err != nil {
		s.fail(w, err)
		return
	}
	prefix := "/whip/"
	if strings.HasPrefix(r.URL.Path, "/whep/") {
		prefix = "/whep/"
	}
	show, id, err := pathIDs(r, prefix)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil || ss.showID() != show {
		httpError(w, http.StatusNotFound, "no such session")
		return
	}
	if _, isPub := ss.(*publisher); isPub != (prefix == "/whip/") {
		httpError(w, http.StatusNotFound, "no such session")
		return
	}
	ss.end("deleted")
	w.WriteHeader(http.StatusOK)
}

// ---- publisher ----

func (p *publisher) showID() uuid.UUID { return p.show }

// release frees the show slot after a failed negotiation.
func (p *publisher) release() {
	p.s.mu.Lock()
	if p.s.pubs[p.show] == p {
		delete(p.s.pubs, p.show)
	}
	p.s.mu.Unlock()
}

func (p *publisher) end(reason string) {
	p.once.Do(func() {
		p.mu.Lock()
		p.ended = true
		vs := make([]*viewer, 0, len(p.viewers))
		for _, v := range p.viewers {
			vs = append(vs, v)
		}
		p.mu.Unlock()
		close(p.done)
		p.s.mu.Lock()
		if p.s.pubs[p.show] == p {
			delete(p.s.pubs, p.show)
		}
		delete(p.s.sessions, p.id)
		p.s.mu.Unlock()
		if p.pc != nil {
			_ = p.pc.Close()
		}
		for _, v := range vs {
			v.end("publisher left")
		}
		p.s.log().Info("stream: publisher ended", "show", p.show, "session", p.id, "reason", reason)
	})
}

func (p *publisher) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	local, err := webrtc.NewTrackLocalStaticRTP(remote.Codec().RTPCodecCapability, remote.Kind().String(), "pavilion-"+p.show.String())
	if err != nil {
		p.s.log().Error("stream: local track", "err", err)
		return
	}
	t := &pubTrack{p: p, remote: remote, local: local}
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	p.tracks = append(p.tracks, t)
	if p.expected > 0 && len(p.tracks) == p.expected {
		close(p.ready)
	}
	p.mu.Unlock()
	// OnTrack runs in pion's own goroutine; the forwarding loop runs there too
	// and ends when the publisher's PeerConnection closes.
	if !p.s.enter() {
		return
	}
	defer p.s.wg.Done()
	t.forward()
}

// forward copies RTP from the publisher to the shared local track, which pion
// writes to every bound viewer.
func (t *pubTrack) forward() {
	for {
		pkt, _, err := t.remote.ReadRTP()
		if err != nil {
			return
		}
		if err := t.local.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

// requestKeyframe sends a PLI to the publisher, at most once per PLIInterval;
// a request inside the interval is sent when the interval ends.
func (t *pubTrack) requestKeyframe() {
	iv := t.p.s.pliInterval()
	t.mu.Lock()
	if t.pending {
		t.mu.Unlock()
		return
	}
	wait := iv - time.Since(t.lastPLI)
	if wait <= 0 {
		t.lastPLI = time.Now()
		t.mu.Unlock()
		t.sendPLI()
		return
	}
	t.pending = true
	t.mu.Unlock()
	t.p.s.goTracked(func() {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-t.p.done:
			return
		}
		t.mu.Lock()
		t.pending = false
		t.lastPLI = time.Now()
		t.mu.Unlock()
		t.sendPLI()
	})
}

func (t *pubTrack) sendPLI() {
	select {
	case <-t.p.done:
		return
	default:
	}
	_ = t.p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.remote.SSRC())}})
}

// ---- viewer ----

func (v *viewer) showID() uuid.UUID { return v.pub.show }

func (v *viewer) end(reason string) {
	v.once.Do(func() {
		v.pub.mu.Lock()
		delete(v.pub.viewers, v.id)
		v.pub.mu.Unlock()
		v.s.mu.Lock()
		delete(v.s.sessions, v.id)
		v.s.mu.Unlock()
		_ = v.pc.Close()
		v.s.log().Debug("stream: viewer ended", "show", v.pub.show, "session", v.id, "reason", reason)
	})
}

// readRTCP drains the viewer's RTCP for one track and forwards keyframe requests.
func (v *viewer) readRTCP(sender *webrtc.RTPSender, t *pubTrack) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			switch pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				t.requestKeyframe()
			}
		}
	}
}
