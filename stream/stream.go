package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// MaxSDPBytes is the largest SDP offer or trickle fragment accepted (413 beyond).
const MaxSDPBytes = 64 << 10

// Server is the WHIP/WHEP SFU. Set the fields, then use the handler methods.
// Fields must not change after the first request.
type Server struct {
	// API builds PeerConnections. If nil, one is built on first use with the
	// codecs and interceptors an SFU needs, an ICE UDP mux on UDPAddr and
	// an ICE-TCP listener on the same port number.
	API *webrtc.API
	// UDPAddr is the one address for all media, e.g. ":8189" (used when API is nil).
	UDPAddr string
	// NoTCP turns ICE-TCP off (it listens on UDPAddr's port number over TCP).
	NoTCP bool
	// PublicIPs replace the host's own addresses in ICE candidates, for a
	// server behind a 1:1 NAT (a cloud VM's public address).
	PublicIPs []string
	// ICEServers are the STUN/TURN servers handed to every PeerConnection
	// and announced to WHIP/WHEP clients in Link headers (RFC 9725 §4.6).
	ICEServers []webrtc.ICEServer
	// Keys reports whether key is the stream key of the show. Nil refuses every publisher.
	Keys func(ctx context.Context, showID uuid.UUID, key string) (bool, error)
	// Host authorizes a publisher that sends no stream key: the studio page
	// of a signed-in host, by its session. Nil refuses them.
	Host func(r *http.Request, showID uuid.UUID) (bool, error)
	// Viewer authorizes a WHEP request: nil error allows; an *apperr.Error
	// (NotFound, Unauthorized, Forbidden…) sets the status. Nil allows everyone.
	Viewer func(r *http.Request, showID uuid.UUID) error
	// OnLive is called (in its own goroutine) when a show starts publishing,
	// OnEnded when its publisher has been gone for EndGrace. Either may be nil.
	OnLive, OnEnded func(showID uuid.UUID)
	// EndGrace is how long a show whose publisher left waits for it to come
	// back before it ends (default 30 s). Viewers stay connected meanwhile.
	EndGrace time.Duration
	// Logger, or slog.Default().
	Logger *slog.Logger
	// Metrics, or none.
	Metrics *Metrics
	// PLIInterval is the least time between two keyframe requests per source (default 500 ms).
	PLIInterval time.Duration
	// TrackWait is how long a viewer waits for the publisher's first media (default 3 s).
	TrackWait time.Duration
	// GatherTimeout bounds ICE gathering for one answer (default 5 s).
	GatherTimeout time.Duration

	// Directory, with Node naming this server, joins a cluster: the node a
	// show is published on is its origin, and other nodes relay it from
	// there (relay.go). RelaySecret, shared by the nodes, authorizes those
	// pulls; RelayClient makes them (default: 10 s timeout).
	Directory   Directory
	Node        Node
	RelaySecret string
	RelayClient *http.Client

	// wrapWriter, when set (by tests: a stalled or failing viewer), wraps
	// a viewer track's packet writer once, when pion binds the track; the
	// packet path itself has no test switch.
	wrapWriter func(viewerID string, w rtpWriter) rtpWriter

	initOnce  sync.Once
	initErr   error
	guardOnce sync.Once
	guard     *crashguard.Guard
	api       *webrtc.API // publishers and relay pulls
	// apis are the APIs for offers, by what they need (apiFor), built
	// from apiBase as they are first needed.
	apiBase apiBase
	apisMu  sync.Mutex
	apis    map[apiKind]*webrtc.API
	mux     ice.UDPMux
	tcpMux  ice.TCPMux
	metrics *Metrics

	stopBeat chan struct{}

	mu       sync.Mutex
	closed   bool
	feeds    map[uuid.UUID]*feed
	sessions map[string]session // by session id
	wg       sync.WaitGroup
}

type session interface {
	showID() uuid.UUID
	end(reason string)
	peer() *webrtc.PeerConnection
}

func (p *publisher) peer() *webrtc.PeerConnection { return p.pc }
func (v *viewer) peer() *webrtc.PeerConnection    { return v.pc }

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

func (s *Server) endGrace() time.Duration {
	if s.EndGrace > 0 {
		return s.EndGrace
	}
	return 30 * time.Second
}

// Start binds the media port now, so a port already in use stops the server
// at start rather than failing the first publisher.
func (s *Server) Start() error { return s.init() }

// MediaPort is the UDP port media arrives on (0 before Start or with a custom API).
func (s *Server) MediaPort() int {
	if s.init() != nil || s.mux == nil {
		return 0
	}
	if a, ok := s.mux.GetListenAddresses()[0].(*net.UDPAddr); ok {
		return a.Port
	}
	return 0
}

func (s *Server) init() error {
	s.initOnce.Do(func() {
		s.mu.Lock()
		s.feeds = map[uuid.UUID]*feed{}
		s.sessions = map[string]session{}
		s.mu.Unlock()
		s.metrics = s.Metrics
		if s.metrics != nil {
			s.metrics.attach(s)
		}
		if s.API != nil {
			s.api = s.API
		} else if s.initErr = s.buildAPI(); s.initErr != nil {
			return
		}
		if s.clustered() {
			s.stopBeat = make(chan struct{})
			stop := s.stopBeat
			s.goTracked(func() { s.heartbeat(stop) })
		}
	})
	return s.initErr
}

// buildAPI sets up the media engine, interceptors and sockets. Viewers get
// no NACK responder from pion: NACKs are answered from the show's shared
// ring (viewer.go), so a viewer costs no packet buffer of its own. The
// publisher side gets NACK generation, receiver reports and transport-wide
// congestion feedback, which browsers need to ramp their send bitrate.
func (s *Server) buildAPI() (err error) {
	addr := s.UDPAddr
	if addr == "" {
		addr = ":8189"
	}
	conn, ln, err := s.listen(addr)
	if err != nil {
		return err
	}
	if uc, ok := conn.(*net.UDPConn); ok {
		// One socket carries every viewer's media: fast starts send a whole
		// keyframe group at once, so give bursts room (the kernel caps these
		// at net.core.[rw]mem_max).
		_ = uc.SetReadBuffer(4 << 20)
		_ = uc.SetWriteBuffer(4 << 20)
		if sb := newSendBatch(uc); sb != nil {
			conn = sb // sendmmsg (sendbatch.go)
		}
	}
	var se webrtc.SettingEngine
	se.LoggerFactory = pionLogs{log: s.log()}
	s.mux = webrtc.NewICEUDPMux(nil, conn)
	se.SetICEUDPMux(s.mux)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if ln != nil {
		s.tcpMux = webrtc.NewICETCPMux(nil, ln, 64)
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	ua, ok := conn.LocalAddr().(*net.UDPAddr)
	loopMux := ok && ua.IP.IsLoopback() // loopback is all there is
	se.SetIncludeLoopbackCandidate(loopMux)
	if len(s.PublicIPs) > 0 {
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: s.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost}); err != nil {
			s.closeSockets()
			return fmt.Errorf("stream: public IP: %w", err)
		}
	}

	// Publishers get NACK generation, receiver reports and transport-wide
	// congestion feedback (browsers need it to ramp their bitrate). Viewers
	// get no interceptor: every interceptor costs a goroutine and state per
	// connection, and at hundreds of viewers that adds up; the sender
	// reports they need (for lip sync) are written by their writers
	// (viewer.senderReports).
	pubME, viewME := &webrtc.MediaEngine{}, &webrtc.MediaEngine{}
	pubReg, viewReg := &interceptor.Registry{}, &interceptor.Registry{}
	err = errors.Join(pubME.RegisterDefaultCodecs(), viewME.RegisterDefaultCodecs())
	if err == nil {
		var gen *nack.GeneratorInterceptorFactory
		gen, err = nack.NewGeneratorInterceptor()
		if err == nil {
			pubReg.Add(gen)
			err = errors.Join(
				webrtc.ConfigureRTCPReports(pubReg),
				webrtc.ConfigureSimulcastExtensionHeaders(pubME),
				webrtc.ConfigureTWCCSender(pubME, pubReg),
			)
		}
	}
	if err != nil {
		s.closeSockets()
		return fmt.Errorf("stream: media engine: %w", err)
	}
	s.apiBase = apiBase{se: se, networks: networks, loopMux: loopMux, pubME: pubME, pubReg: pubReg, viewME: viewME, viewReg: viewReg}
	s.apis = map[apiKind]*webrtc.API{}
	s.api = s.apiOf(apiKind{nets: allNets})
	return nil
}

// apiBase is what the APIs for different offers share (apiFor).
type apiBase struct {
	se              webrtc.SettingEngine
	networks        []webrtc.NetworkType // the server's
	loopMux         bool                 // the media port is on loopback
	pubME, viewME   *webrtc.MediaEngine
	pubReg, viewReg *interceptor.Registry
}

// apiKind is what an offer needs of the API that answers it.
//
// Loopback addresses are no candidates for the world (RFC 8445 §5.1.1.1),
// but a client on this machine that offers only its loopback addresses (a
// local encoder, a load generator) would otherwise reach us only as a
// peer-reflexive candidate, which its ICE agent may hold back for a second
// before using it (pion's prflx acceptance wait).
//
// Every candidate costs a viewer a socket's state, a read goroutine and
// buffers (for ICE-TCP, a TCP connection's state per local address): an
// offer that lists its candidates gets only the networks it can use.
type apiKind struct {
	viewer   bool  // fewer interceptors
	relay    bool  // a pull from a parent node: quick to notice it died
	loopback bool  // loopback candidates: the client offers some
	nets     uint8 // the networks to gather (net* bits)
}

// Network bits.
const (
	netUDP4 uint8 = 1 << iota
	netUDP6
	netTCP4
	netTCP6
	allNets = netUDP4 | netUDP6 | netTCP4 | netTCP6
)

// apiFor picks the API for an offer.
func (s *Server) apiFor(offer webrtc.SessionDescription, viewer bool) *webrtc.API {
	if s.apis == nil {
		return s.api // a custom API
	}
	c := scanCandidates(offer.SDP)
	k := apiKind{viewer: viewer, loopback: c.loopback, nets: allNets}
	if c.complete && c.nets != 0 {
		k.nets = c.nets // nothing more will trickle in
	}
	return s.apiOf(k)
}

// apiOf builds (once) the API of a kind.
func (s *Server) apiOf(k apiKind) *webrtc.API {
	s.apisMu.Lock()
	defer s.apisMu.Unlock()
	if api := s.apis[k]; api != nil {
		return api
	}
	b := &s.apiBase
	set := b.se // a copy; it shares the sockets
	var nets []webrtc.NetworkType
	for _, n := range b.networks {
		if k.nets&netBit(n) != 0 {
			nets = append(nets, n)
		}
	}
	if len(nets) == 0 {
		nets = b.networks // none in common: ICE fails, as it would anyway
	}
	set.SetNetworkTypes(nets)
	set.SetIncludeLoopbackCandidate(k.loopback || b.loopMux)
	if k.relay {
		set.SetICETimeouts(relayICEDisconnected, relayICEFailed, relayICEKeepalive)
	}
	me, reg := b.pubME, b.pubReg
	if k.viewer {
		me, reg = b.viewME, b.viewReg
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(set))
	s.apis[k] = api
	return api
}

func netBit(n webrtc.NetworkType) uint8 {
	switch n {
	case webrtc.NetworkTypeUDP4:
		return netUDP4
	case webrtc.NetworkTypeUDP6:
		return netUDP6
	case webrtc.NetworkTypeTCP4:
		return netTCP4
	case webrtc.NetworkTypeTCP6:
		return netTCP6
	}
	return 0
}

// offerCandidates is what an SDP says of its ICE candidates.
type offerCandidates struct {
	nets     uint8 // the networks of its candidates (net* bits)
	loopback bool
	complete bool // a=end-of-candidates: no more will trickle
}

func scanCandidates(sdp string) offerCandidates {
	var c offerCandidates
	for line := range strings.SplitSeq(sdp, "\n") {
		line = strings.TrimSpace(line)
		if line == "a=end-of-candidates" {
			c.complete = true
			continue
		}
		rest, ok := strings.CutPrefix(line, "a=candidate:")
		if !ok {
			continue
		}
		// foundation component transport priority address port typ ...
		f := strings.Fields(rest)
		if len(f) < 5 {
			continue
		}
		v4, v6 := netUDP4, netUDP6
		if strings.EqualFold(f[2], "tcp") {
			v4, v6 = netTCP4, netTCP6
		}
		ip := net.ParseIP(f[4])
		switch {
		case ip == nil: // a hostname (mDNS): either family
			c.nets |= v4 | v6
		case ip.To4() != nil:
			c.nets |= v4
		default:
			c.nets |= v6
		}
		c.loopback = c.loopback || (ip != nil && ip.IsLoopback())
	}
	return c
}

// listen binds the media port over UDP and, for ICE-TCP, the same number
// over TCP. With port 0 the kernel's pick for UDP may be taken over TCP;
// then another pick is tried.
func (s *Server) listen(addr string) (net.PacketConn, net.Listener, error) {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 0; ; attempt++ {
		conn, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("stream: listen udp %s: %w", addr, err)
		}
		ua, _ := conn.LocalAddr().(*net.UDPAddr)
		if s.NoTCP || ua == nil {
			return conn, nil, nil
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(hostOf(addr), strconv.Itoa(ua.Port)))
		if err == nil {
			return conn, ln, nil
		}
		conn.Close()
		if port != "0" || attempt >= 20 {
			return nil, nil, fmt.Errorf("stream: listen tcp for ICE-TCP on port %d: %w", ua.Port, err)
		}
	}
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return h
}

func (s *Server) closeSockets() error {
	var err error
	if s.tcpMux != nil {
		err = s.tcpMux.Close()
	}
	if s.mux != nil {
		err = errors.Join(err, s.mux.Close())
	}
	return err
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
		defer s.panics().Recover("stream_task")
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
	if s.stopBeat != nil {
		close(s.stopBeat)
	}
	var all []session
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	var feeds []*feed
	for _, f := range s.feeds {
		feeds = append(feeds, f)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.end("server closed")
	}
	for _, f := range feeds {
		f.end("server closed")
	}
	s.wg.Wait()
	return s.closeSockets()
}

// ---- HTTP handlers ----

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Internal {
		s.log().Error("stream", "err", err)
	}
	httpError(w, apperr.HTTPStatus(code), apperr.MessageOf(err))
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
func readOffer(w http.ResponseWriter, r *http.Request, mediaType string) (webrtc.SessionDescription, error) {
	var none webrtc.SessionDescription
	body, err := readBody(w, r, mediaType)
	if err != nil {
		return none, err
	}
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: body}
	parsed, err := offer.Unmarshal()
	if err != nil {
		return none, apperr.Wrap(apperr.Invalid, err, "malformed SDP offer")
	}
	if len(parsed.MediaDescriptions) == 0 {
		return none, apperr.Errorf(apperr.Invalid, "the SDP offer has no media")
	}
	return offer, nil
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
