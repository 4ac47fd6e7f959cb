package stream

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Between nodes: the node a host publishes to is the show's origin and
// says so in the Directory. Another node asked for the show pulls it once,
// as a WHEP client of the origin, and fans it out to its own viewers like a
// local publisher's (it is an "edge"). Origin claims and node heartbeats
// carry TTLs, so a node that dies drops out of the directory on its own.

// relayHeader carries the cluster's shared secret on an edge's pull, which
// lets it past the origin's per-viewer checks (the edge made them).
const relayHeader = "X-Pavilion-Relay"

const (
	heartbeatEvery = 5 * time.Second
	directoryTTL   = 15 * time.Second
)

func (s *Server) clustered() bool { return s.Directory != nil && s.Node.ID != "" }

// isRelay reports whether r is an edge's pull carrying the right secret.
func (s *Server) isRelay(r *http.Request) bool {
	got := r.Header.Get(relayHeader)
	return s.RelaySecret != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.RelaySecret)) == 1
}

// heartbeat keeps this node and the origin claims of its shows alive in the
// directory until the server closes.
func (s *Server) heartbeat(stop <-chan struct{}) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		// A panic in one beat is logged and counted, and the next beat
		// runs: without beats the node's shows vanish from the directory.
		s.panics().Do("stream_heartbeat", s.beat)
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// beat refreshes this node and the origin claims of its shows once.
func (s *Server) beat() {
	ctx, cancel := context.WithTimeout(context.Background(), heartbeatEvery)
	defer cancel()
	if err := s.Directory.Heartbeat(ctx, s.Node, directoryTTL); err != nil {
		s.log().Warn("stream: node heartbeat", "err", err)
	}
	s.mu.Lock()
	var shows []uuid.UUID
	for id, f := range s.feeds {
		if !f.edge {
			shows = append(shows, id)
		}
	}
	s.mu.Unlock()
	for _, id := range shows {
		if err := s.Directory.ClaimOrigin(ctx, id, s.Node.ID, directoryTTL); err != nil {
			s.log().Warn("stream: refresh origin claim", "show", id, "err", err)
		}
	}
}

// claimOrigin records this node as the show's origin before a publisher is
// accepted: a host already publishing the show on another node gets 409.
func (s *Server) claimOrigin(ctx context.Context, show uuid.UUID) error {
	if !s.clustered() {
		return nil
	}
	err := s.Directory.ClaimOrigin(ctx, show, s.Node.ID, directoryTTL)
	if apperr.CodeOf(err) == apperr.Conflict {
		return apperr.Errorf(apperr.Conflict, "this show already has a live publisher on another node")
	}
	return err
}

func (s *Server) releaseOrigin(show uuid.UUID) {
	if !s.clustered() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Directory.ReleaseOrigin(ctx, show, s.Node.ID); err != nil {
		s.log().Warn("stream: release origin claim", "show", show, "err", err)
	}
}

// edgeFeed returns a feed for a show published on another node, starting
// the pull if none runs yet. Nil (and no error) when no node publishes it.
func (s *Server) edgeFeed(ctx context.Context, show uuid.UUID) (*feed, error) {
	if !s.clustered() {
		return nil, nil
	}
	origin, ok, err := s.Directory.Origin(ctx, show)
	if err != nil || !ok || origin.ID == s.Node.ID {
		return nil, err
	}
	p := &publisher{
		s: s, id: uuid.NewString(), relay: true,
		ready: make(chan struct{}), done: make(chan struct{}),
		expected: map[webrtc.RTPCodecType]bool{}, kinds: map[webrtc.RTPCodecType]bool{},
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, apperr.Errorf(apperr.Unavailable, "server is shutting down")
	}
	if f := s.feeds[show]; f != nil {
		s.mu.Unlock()
		return f, nil // another viewer started the pull first
	}
	f := &feed{s: s, show: show, edge: true, viewers: map[string]*viewer{}, changed: make(chan struct{}), pub: p}
	p.feed = f
	s.feeds[show] = f
	s.mu.Unlock()
	// A panic in the pull must not leave the show held by a relay that
	// never was (every later viewer would wait for it).
	pulled := false
	defer func() {
		if p2 := recover(); p2 != nil {
			if pulled {
				p.end("internal error")
			} else {
				s.abandon(p, true)
			}
			panic(p2)
		}
	}()
	if err := s.pull(ctx, p, origin); err != nil {
		s.abandon(p, true)
		return nil, err
	}
	pulled = true
	s.log().Info("stream: relaying from origin", "show", show, "origin", origin.ID)
	return f, nil
}

// pull negotiates the relay session with the origin.
func (s *Server) pull(ctx context.Context, p *publisher, origin Node) error {
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{ICEServers: s.ICEServers})
	if err != nil {
		return err
	}
	p.pc = pc
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return err
		}
		p.expected[k] = true
	}
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		defer s.endOnPanic("stream_callback", p, p.id)
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			s.goTracked(func() { p.end("relay " + st.String()) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	url := strings.TrimRight(origin.URL, "/") + "/whep/" + p.feed.show.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set(relayHeader, s.RelaySecret)
	resp, err := s.relayClient().Do(req)
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "the show's origin node cannot be reached")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSDPBytes))
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "reading the origin's answer")
	}
	switch {
	case resp.StatusCode == http.StatusCreated:
	case resp.StatusCode == http.StatusNotFound:
		return apperr.Errorf(apperr.NotFound, "this show is not live")
	case resp.StatusCode == http.StatusServiceUnavailable:
		return apperr.Errorf(apperr.Unavailable, "the show's origin is not ready; retry")
	default:
		return fmt.Errorf("stream: origin %s answered %d: %s", origin.ID, resp.StatusCode, truncate(string(body), 200))
	}
	p.location = strings.TrimRight(origin.URL, "/") + resp.Header.Get("Location")
	return pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)})
}

func (s *Server) relayClient() *http.Client {
	if s.RelayClient != nil {
		return s.RelayClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// hangUp tells the origin an edge's pull is over (best effort: the origin
// also notices the connection closing).
func (p *publisher) hangUp() {
	if !p.relay || p.location == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, p.location, nil)
	if err != nil {
		return
	}
	if resp, err := p.s.relayClient().Do(req); err == nil {
		resp.Body.Close()
	} else if !errors.Is(err, context.DeadlineExceeded) {
		p.s.log().Debug("stream: relay hang-up", "err", err)
	}
}

// Join puts a started server into a cluster, once its HTTP address is
// known (and before it serves requests): it starts the heartbeat that keeps
// the node and its shows' origin claims in the directory.
func (s *Server) Join(dir Directory, node Node, secret string) error {
	if err := s.init(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return apperr.Errorf(apperr.Unavailable, "server is shutting down")
	}
	if s.stopBeat != nil {
		return errors.New("stream: already in a cluster")
	}
	s.Directory, s.Node, s.RelaySecret = dir, node, secret
	s.stopBeat = make(chan struct{})
	stop := s.stopBeat
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.heartbeat(stop)
	}()
	return nil
}
