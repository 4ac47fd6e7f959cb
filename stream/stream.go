package stream

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// MaxSDPBytes is the largest SDP offer or trickle fragment accepted (413 beyond).
const MaxSDPBytes = 64 << 10

// Server is the WHIP/WHEP SFU: the HTTP handlers (http.go) over its parts,
// each a type of its own: peerAPIs, the media socket and the pion APIs
// (peers.go); rooms, the shows' feeds and sessions (rooms.go; a show's
// fan-out is feed.go and viewer.go); presence, this node in the cluster's
// directory (presence.go); and the relay pulls between nodes (relay.go).
// Set the fields, then use the handler methods. Fields must not change
// after the first request.
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
	// Guests reports whether key is the guest key of the show's co-host,
	// who publishes its guest feed (guest.go). Nil refuses every guest.
	Guests func(ctx context.Context, showID uuid.UUID, key string) (bool, error)
	// OnGuest is called (in its own goroutine) when the show's guest starts
	// publishing on this node (live) and when its guest feed ends here. May be nil.
	OnGuest func(showID uuid.UUID, live bool)
	// Viewer authorizes a WHEP request: nil error allows; an *apperr.Error
	// (NotFound, Unauthorized, Forbidden…) sets the status. Nil allows everyone.
	Viewer func(r *http.Request, showID uuid.UUID) error
	// OnLive is called (in its own goroutine) when a show starts publishing,
	// OnEnded when its publisher has been gone for EndGrace. Either may be nil.
	OnLive, OnEnded func(showID uuid.UUID)
	// EndGrace is how long a show whose publisher left waits for it to come
	// back before it ends (default 30 s). Viewers stay connected meanwhile.
	EndGrace time.Duration
	// Recorder, when set, records every show published on this node (not
	// the ones it relays from another node: their origin records them).
	Recorder Recorder
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
	metrics   *Metrics

	peerAPIs // the media socket and the pion APIs over it (peers.go)

	presence // this node in the cluster's directory (presence.go)

	rooms // the shows' feeds, the sessions and the tracked goroutines (rooms.go)

	relays // the pulls of shows published on other nodes (relay.go)
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
	if s.init() != nil {
		return 0
	}
	return s.port()
}

func (s *Server) init() error {
	s.initOnce.Do(func() {
		s.open()
		s.metrics = s.Metrics
		if s.metrics != nil {
			s.metrics.attach(&s.rooms)
		}
		if s.API != nil {
			s.api = s.API
		} else if s.initErr = s.buildAPI(s.UDPAddr, s.NoTCP, s.PublicIPs, s.log()); s.initErr != nil {
			return
		}
		s.relays = relays{srv: s, client: s.RelayClient}
		if s.relays.client == nil {
			s.relays.client = &http.Client{Timeout: 10 * time.Second}
		}
		s.presence = presence{dir: s.Directory, node: s.Node, relaySecret: s.RelaySecret, log: s.log()}
		if s.clustered() {
			s.stopBeat = make(chan struct{})
			stop := s.stopBeat
			s.goTracked(func() { s.heartbeat(stop) })
		}
	})
	return s.initErr
}

// goTracked runs fn in a goroutine that Close waits for; it does nothing once closed.
func (s *Server) goTracked(fn func()) bool {
	if !s.enter() {
		return false
	}
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
