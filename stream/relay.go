package stream

import (
	"context"
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
// says so in the Directory. Another node asked for the show (an "edge")
// pulls it once, as a WHEP client, and fans it out to its own viewers like
// a local publisher's. It pulls from the parent the directory gives it: the
// origin while it has room (Node.RelayFanout children per show), else the
// first relay with room, breadth-first, so the show's relays form a shallow
// tree. A pull carries every simulcast layer, so a viewer anywhere can pick
// any of them. An edge whose parent goes silent (it died) re-attaches
// elsewhere within seconds; its viewers keep their sessions and resume at
// the new pull's next keyframe. Origin claims, relay links and node
// heartbeats carry TTLs, so a node that dies drops out of the directory on
// its own.

// relays is the relay manager: the pulls of this node's edges (their
// placing in the show's tree, their re-attaching when a parent dies) and
// the links it keeps alive in the directory. Its edges' feeds live in the
// server's rooms like any other; srv is the composition it works in.
type relays struct {
	srv    *Server
	client *http.Client // makes the pulls (Server.RelayClient, default: 10 s timeout)
}

// relayHeader carries the cluster's shared secret on an edge's pull, which
// lets it past the origin's per-viewer checks (the edge made them).
const relayHeader = "X-Pavilion-Relay"

// refreshRelay keeps an edge's link to its parent alive in the directory.
// A parent that has not led to the origin for three heartbeats is let go,
// and the edge re-attaches elsewhere.
func (rl *relays) refreshRelay(ctx context.Context, f *feed) {
	s := rl.srv
	f.mu.Lock()
	p := f.pub
	f.mu.Unlock()
	if p == nil {
		return // re-attaching, which places it anew
	}
	parent := p.parentID()
	if parent == "" {
		return // being placed
	}
	_, err := s.dir.PlaceRelay(ctx, f.show, RelayRequest{Node: s.node.ID, Keep: parent}, directoryTTL)
	f.mu.Lock()
	if apperr.CodeOf(err) == apperr.Conflict {
		f.conflicts++
	} else {
		f.conflicts = 0
	}
	// A parent that dies is noticed by the pull itself, in seconds. The
	// directory disagreeing for a heartbeat or two is more often the
	// directory catching up (a Redis restart empties it until every node
	// has beaten again) than a parent gone: only a lasting disagreement
	// moves this node.
	moved := f.conflicts >= 3
	f.mu.Unlock()
	switch {
	case moved:
		s.goTracked(func() { p.end("the directory no longer has the relay parent in the tree") })
	case err != nil:
		s.log().Warn("stream: refresh relay link", "show", f.show, "err", err)
	}
}

// edgeFeed returns a feed for a show published on another node, starting
// the pull if none runs yet. Nil (and no error) when no node publishes it.
func (rl *relays) edgeFeed(ctx context.Context, show uuid.UUID) (*feed, error) {
	s := rl.srv
	if !s.clustered() {
		return nil, nil
	}
	origin, ok, err := s.dir.Origin(ctx, show)
	if err != nil || !ok || origin.ID == s.node.ID {
		return nil, err
	}
	p := s.newPublisher(true)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, apperr.Errorf(apperr.Unavailable, "server is shutting down")
	}
	if f := s.feeds[show]; f != nil {
		s.mu.Unlock()
		return f, nil // another viewer started the pull first
	}
	f := s.newFeed(show, true)
	f.pub, p.feed = p, f
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
	// A parent that cannot be pulled from (it died, it has no feed) is
	// avoided on the next try.
	var avoid []string
	for attempt := 0; ; attempt++ {
		parent, err := s.attach(ctx, p, avoid)
		if err == nil {
			break
		}
		if attempt >= 2 || parent == "" || ctx.Err() != nil {
			if parent != "" {
				s.leaveRelay(show) // the place it was given and could not use
			}
			s.abandon(p, true)
			return nil, err
		}
		s.log().Info("stream: relay parent refused, trying another", "show", show, "parent", parent, "err", err)
		avoid = append(avoid, parent)
		s.dropRelay(p)
		p = s.newPublisher(true)
		p.feed = f
		f.mu.Lock()
		if f.ended {
			f.mu.Unlock()
			return nil, apperr.Errorf(apperr.NotFound, "this show is not live")
		}
		f.pub = p
		f.mu.Unlock()
	}
	pulled = true
	return f, nil
}

// parentID names the node a relay pull is placed under ("" before it is).
func (p *publisher) parentID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.parent.ID
}

// attach places this node in the show's relay tree and pulls from the
// parent it was given, which it reports (with the error) when the pull fails.
func (rl *relays) attach(ctx context.Context, p *publisher, avoid []string) (string, error) {
	s := rl.srv
	show := p.feed.show
	pl, err := s.dir.PlaceRelay(ctx, show, RelayRequest{Node: s.node.ID, Avoid: avoid}, directoryTTL)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	p.parent = pl.Parent
	p.mu.Unlock()
	if err := s.pull(ctx, p, pl.Parent); err != nil {
		return pl.Parent.ID, err
	}
	f := p.feed
	f.depth.Store(int64(pl.Depth))
	f.mu.Lock()
	f.conflicts = 0
	f.mu.Unlock()
	s.log().Info("stream: relaying", "show", show, "parent", pl.Parent.ID, "depth", pl.Depth)
	return pl.Parent.ID, nil
}

// dropRelay closes a relay pull that never fed the show, without the
// re-attach that ending a working one starts.
func (rl *relays) dropRelay(p *publisher) {
	s := rl.srv
	p.once.Do(func() {
		close(p.done)
		p.closeMedia()
		if !s.goTracked(p.hangUp) {
			p.hangUp()
		}
	})
	f := p.feed
	f.mu.Lock()
	if f.pub == p {
		f.pub = nil
	}
	f.mu.Unlock()
}

// reattachFor is how long an edge whose parent went away looks for another
// before it gives the show up (its viewers stay connected meanwhile).
const reattachFor = 20 * time.Second

// relayLost follows the end of an edge's working pull: unless the show or
// the server has ended, the edge finds another parent and its viewers carry
// on from the new pull's next keyframe, without reconnecting.
func (f *feed) relayLost(p *publisher, reason string) {
	f.mu.Lock()
	if f.pub == p {
		f.pub = nil
		f.touch()
	}
	ended := f.ended
	f.mu.Unlock()
	s := f.s
	if ended {
		return
	}
	lost := p.parentID()
	s.log().Info("stream: relay parent lost", "show", f.show, "parent", lost, "reason", reason)
	if !s.goTracked(func() { s.reattach(f, lost) }) {
		f.end("server closed")
	}
}

// reattach looks for a new parent for f until one feeds it, the show ends,
// or reattachFor passes.
func (rl *relays) reattach(f *feed, lost string) {
	s := rl.srv
	deadline := time.Now().Add(reattachFor)
	avoid := []string{lost}
	wait := 100 * time.Millisecond
	var noOrigin time.Time // since when the directory has named no origin
	for time.Now().Before(deadline) {
		p := s.newPublisher(true)
		p.feed = f
		f.mu.Lock()
		if f.ended || f.pub != nil {
			f.mu.Unlock()
			return
		}
		f.pub = p
		f.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		parent, err := s.attach(ctx, p, avoid)
		cancel()
		if err == nil {
			if m := s.metrics; m != nil {
				m.reattaches.Inc()
			}
			return
		}
		s.dropRelay(p)
		notFound := apperr.CodeOf(err) == apperr.NotFound
		if !notFound || parent != "" {
			noOrigin = time.Time{}
		}
		switch {
		case notFound && parent != "" && parent == s.originID(f.show):
			f.end("the show ended") // the origin itself no longer has it
			return
		case notFound && parent == "":
			// No origin in the directory. One that just restarted says so
			// too, until the nodes' next heartbeats: only an answer that
			// lasts longer ends the show here.
			if noOrigin.IsZero() {
				noOrigin = time.Now()
			} else if time.Since(noOrigin) > heartbeatEvery+time.Second {
				f.end("the show ended")
				return
			}
		case parent != "":
			avoid = append(avoid, parent)
		case apperr.CodeOf(err) == apperr.Unavailable:
			avoid = []string{lost} // no room: those refused may do better now
		}
		s.log().Info("stream: re-attach failed; retrying", "show", f.show, "parent", parent, "err", err)
		select {
		case <-time.After(wait):
		case <-s.stopBeat:
			return
		}
		wait = min(2*wait, time.Second)
	}
	f.end("no node to relay the show from")
}

// maxRelayLayers is how many video layers a pull asks for: simulcast
// publishers send up to three (WebRTC's usual q, h and f).
const maxRelayLayers = 3

// relayTrackPrefix starts the track id of a video layer on a relay
// session; the layer's RID follows, so the child files it under the same
// name as its parent does.
const relayTrackPrefix = "layer:"

// pull negotiates the relay session with the parent: every video layer
// (up to maxRelayLayers, each on a track of its own) and the audio.
func (rl *relays) pull(ctx context.Context, p *publisher, parent Node) error {
	s := rl.srv
	pc, err := s.relayAPI().NewPeerConnection(s.peerConfig(s.ICEServers))
	if err != nil {
		return err
	}
	p.pc = pc
	for range maxRelayLayers {
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return err
		}
	}
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		return err
	}
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		defer s.endOnPanic("stream_callback", p, p.id)
		// Disconnected comes after relayICEDisconnected of silence: a parent
		// that died. Waiting for Failed would keep the viewers frozen longer.
		if st == webrtc.PeerConnectionStateDisconnected || st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
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
	url := strings.TrimRight(parent.URL, "/") + "/whep/" + p.feed.show.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set(relayHeader, s.relaySecret)
	resp, err := rl.client.Do(req)
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "the show's relay parent cannot be reached")
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxSDPBytes))
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "reading the relay parent's answer")
	}
	switch {
	case resp.StatusCode == http.StatusCreated:
	case resp.StatusCode == http.StatusNotFound:
		return apperr.Errorf(apperr.NotFound, "this show is not live")
	case resp.StatusCode == http.StatusServiceUnavailable:
		return apperr.Errorf(apperr.Unavailable, "the show's relay parent is not ready; retry")
	default:
		return fmt.Errorf("stream: relay parent %s answered %d: %s", parent.ID, resp.StatusCode, truncate(string(body), 200))
	}
	p.location = strings.TrimRight(parent.URL, "/") + resp.Header.Get("Location")
	answer := webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}
	// Wait only for the kinds the parent sends (a show may have no audio).
	p.mu.Lock()
	for k := range sendingKinds(answer) {
		p.expected[k] = true
	}
	p.mu.Unlock()
	return pc.SetRemoteDescription(answer)
}

// sendingKinds lists the media kinds an answer sends on: a pull waits for
// those only (a show without audio must not hold its first viewer for
// TrackWait).
func sendingKinds(answer webrtc.SessionDescription) map[webrtc.RTPCodecType]bool {
	out := map[webrtc.RTPCodecType]bool{}
	parsed, err := answer.Unmarshal()
	if err != nil {
		return out
	}
	for _, m := range parsed.MediaDescriptions {
		_, send := m.Attribute("sendonly")
		_, sendrecv := m.Attribute("sendrecv")
		// pion answers an m-line it has no track for "sendonly" too, but
		// without the track's msid or SSRC.
		_, msid := m.Attribute("msid")
		_, ssrc := m.Attribute("ssrc")
		if (send || sendrecv) && (msid || ssrc) {
			out[webrtc.NewRTPCodecType(m.MediaName.Media)] = true
		}
	}
	return out
}

// ICE timeouts of a relay pull: a parent silent for relayICEDisconnected
// is taken for dead and replaced. Keepalives every relayICEKeepalive keep
// a healthy but quiet link (a show in its grace period) from looking so.
const (
	relayICEDisconnected = 2 * time.Second
	relayICEFailed       = 5 * time.Second
	relayICEKeepalive    = 500 * time.Millisecond
)

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
	if resp, err := p.s.relays.client.Do(req); err == nil {
		resp.Body.Close()
	} else if !errors.Is(err, context.DeadlineExceeded) {
		p.s.log().Debug("stream: relay hang-up", "err", err)
	}
}
