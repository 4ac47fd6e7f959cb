package stream

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// A feed is one show's media as its viewers see it. It outlives a publisher
// session: when the host's connection drops, viewers stay attached for the
// grace period, and a publisher who comes back within it feeds the same
// viewers again (they switch at the new publisher's first keyframe, with
// sequence numbers and timestamps kept continuous).
type feed struct {
	s    *Server
	show uuid.UUID
	// edge: the feed relays a show published on another node.
	edge bool
	// guestOf is the show whose guest publishes this feed here (guest.go);
	// uuid.Nil for a host's feed and for every edge's.
	guestOf uuid.UUID
	// depth is the edge's place in the show's relay tree (1: under the
	// origin), as of its last attach.
	depth atomic.Int64

	mu      sync.Mutex
	pub     *publisher // nil while in the grace period
	video   []*source  // simulcast layers, lowest first; one without simulcast
	audio   *source
	viewers map[string]*viewer
	// changed is closed and replaced whenever the sources change, so viewer
	// loops pick up new layers or a new publisher.
	changed chan struct{}
	grace   *time.Timer
	ended   bool
	// conflicts counts an edge's heartbeats in a row whose link to its
	// parent the directory refused (refreshRelay).
	conflicts int
	// takenOver is the publisher session a take-over ended last (takeover.go).
	takenOver string
	// egress bytes of viewers that have left, for the metrics.
	goneBytes uint64
	// ingest bytes, video and audio, across publisher sessions.
	ingest [2]atomic.Uint64
	// rec is the show's recording on this node, nil when not recorded.
	rec Recording
}

// source is one incoming stream: a ring plus the way to ask its sender for a keyframe.
type source struct {
	*ring
	rid   string
	codec webrtc.RTPCodecParameters
	pub   *publisher
	ssrc  uint32

	mu      sync.Mutex
	lastPLI time.Time
	pending bool
}

type publisher struct {
	s    *Server
	id   string
	feed *feed
	pc   *webrtc.PeerConnection
	// relay: this "publisher" is an edge's pull from its parent node, at location.
	relay    bool
	location string
	// kinds the offer sends; ready closes when each has a track.
	expected map[webrtc.RTPCodecType]bool
	ready    chan struct{}
	done     chan struct{}

	mu        sync.Mutex
	parent    Node // of a relay pull: the node it pulls from
	kinds     map[webrtc.RTPCodecType]bool
	srcs      []*source
	once      sync.Once
	readyOnce sync.Once
}

func (p *publisher) showID() uuid.UUID { return p.feed.show }

// snapshot returns what viewer bindings read: the video layers and the audio
// source (a viewer picks its layer with pickLayer), and the channel that
// closes when they change.
func (f *feed) snapshot() (video []*source, audio *source, changed <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.video, f.audio, f.changed
}

// touch announces new sources to the viewers. Call with f.mu held.
func (f *feed) touch() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// layerRank orders simulcast layers whose bitrates are not measured yet by
// their conventional names.
func layerRank(rid string) int {
	switch strings.ToLower(rid) {
	case "q", "l", "low", "0":
		return 0
	case "h", "m", "mid", "medium", "1":
		return 1
	case "f", "high", "hi", "2":
		return 2
	}
	return 1
}

func (p *publisher) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	// pion runs this on a goroutine of its own: a panic here would stop
	// the node, so it ends this publisher instead.
	defer p.s.endOnPanic("stream_track", p, p.id)
	codec := remote.Codec()
	kind := remote.Kind()
	size := 256
	if kind == webrtc.RTPCodecTypeVideo {
		size = 2048
	}
	rid := remote.RID()
	if p.relay {
		rid = strings.TrimPrefix(remote.ID(), relayTrackPrefix) // a layer as the parent names it
	}
	src := &source{
		ring:  newRing(kind.String(), size, keyframeFunc(codec.MimeType)),
		rid:   rid,
		codec: codec,
		pub:   p,
		ssrc:  uint32(remote.SSRC()),
	}
	f := p.feed
	f.mu.Lock()
	if f.pub != p || f.ended {
		f.mu.Unlock()
		return
	}
	if kind == webrtc.RTPCodecTypeVideo {
		// Layers of an earlier publisher (or relay pull) are over: a viewer
		// picking a layer by name must find this one.
		layers := make([]*source, 0, len(f.video)+1)
		for _, l := range f.video {
			if l.pub == p {
				layers = append(layers, l)
			}
		}
		f.video = append(layers, src)
		sort.SliceStable(f.video, func(i, j int) bool { return layerRank(f.video[i].rid) < layerRank(f.video[j].rid) })
	} else if f.audio == nil || f.audio.pub != p {
		f.audio = src
	}
	f.touch()
	f.mu.Unlock()

	p.mu.Lock()
	p.srcs = append(p.srcs, src)
	p.kinds[kind] = true
	all := true
	for k := range p.expected {
		all = all && p.kinds[k]
	}
	p.mu.Unlock()
	if all {
		p.readyOnce.Do(func() { close(p.ready) })
	}
	// OnTrack runs in pion's own goroutine; the read loop stays there and
	// ends when the publisher's PeerConnection closes.
	if !p.s.enter() {
		return
	}
	defer p.s.wg.Done()
	if kind == webrtc.RTPCodecTypeVideo {
		src.requestKeyframe() // fill the keyframe cache at once
	}
	var sink TrackSink
	f.mu.Lock()
	if f.rec != nil {
		sink = f.rec.Track(kind.String(), codec)
	}
	f.mu.Unlock()
	if sink != nil {
		defer sink.Close()
	}
	p.read(remote, src, sink)
}

// read copies the publisher's packets into the source's ring, and to the
// recording when there is one.
func (p *publisher) read(remote *webrtc.TrackRemote, src *source, sink TrackSink) {
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	counter := &p.feed.ingest[0]
	if src.kind == "audio" {
		counter = &p.feed.ingest[1]
	}
	for {
		n, _, err := remote.Read(buf)
		if err != nil {
			src.close()
			return
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		src.put(&pkt.Header, pkt.Payload, time.Now())
		counter.Add(uint64(n))
		if sink != nil && len(pkt.Payload) > 0 {
			// The sink keeps its packet: a copy of its own.
			if sink.WriteRTP(pkt.Clone()) {
				src.requestKeyframe()
			}
		}
	}
}

// requestKeyframe sends a PLI for this source, at most once per
// PLIInterval; a request inside the interval is sent when it ends.
func (src *source) requestKeyframe() {
	p := src.pub
	iv := p.s.pliInterval()
	src.mu.Lock()
	if src.pending {
		src.mu.Unlock()
		return
	}
	wait := iv - time.Since(src.lastPLI)
	if wait <= 0 {
		src.lastPLI = time.Now()
		src.mu.Unlock()
		src.sendPLI()
		return
	}
	src.pending = true
	src.mu.Unlock()
	p.s.goTracked(func() {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-p.done:
			return
		}
		src.mu.Lock()
		src.pending = false
		src.lastPLI = time.Now()
		src.mu.Unlock()
		src.sendPLI()
	})
}

func (src *source) sendPLI() {
	p := src.pub
	select {
	case <-p.done:
		return
	default:
	}
	if p.s.metrics != nil {
		p.s.metrics.keyframeRequests.Inc()
	}
	_ = p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: src.ssrc}})
}

// closeMedia closes the publisher's connection and its sources (their
// viewers see them end).
func (p *publisher) closeMedia() {
	if p.pc != nil {
		_ = p.pc.Close()
	}
	p.mu.Lock()
	srcs := p.srcs
	p.mu.Unlock()
	for _, src := range srcs {
		src.close()
	}
}

// end closes the publisher's connection and starts the feed's grace period.
func (p *publisher) end(reason string) {
	p.once.Do(func() {
		close(p.done)
		s, f := p.s, p.feed
		closed := s.forget(p.id)
		p.closeMedia()
		if p.relay {
			if !s.goTracked(p.hangUp) { // a dead parent must not hold the re-attach up
				p.hangUp()
			}
			if closed {
				f.mu.Lock()
				if f.pub == p {
					f.pub = nil // finish must not end p again: we are inside p.once
				}
				f.mu.Unlock()
				f.end("server closed")
				return
			}
			// The origin runs the grace period; an edge finds another
			// parent, or ends when the show has.
			f.relayLost(p, reason)
			return
		}
		f.mu.Lock()
		if f.pub == p {
			f.pub = nil
			if !f.ended && !closed {
				f.grace = time.AfterFunc(s.endGrace(), f.graceOver)
			}
			f.touch()
		}
		f.mu.Unlock()
		s.log().Info("stream: publisher ended", "show", f.show, "session", p.id, "reason", reason)
		if closed {
			f.end("server closed")
		}
	})
}

// newPublisher is a publisher session, or (relay) an edge's pull from its parent node.
func (s *Server) newPublisher(relay bool) *publisher {
	return &publisher{
		s: s, id: uuid.NewString(), relay: relay,
		ready: make(chan struct{}), done: make(chan struct{}),
		expected: map[webrtc.RTPCodecType]bool{}, kinds: map[webrtc.RTPCodecType]bool{},
	}
}

// newFeed is a show's feed on this node: published here, or relayed
// from another node (edge).
func (s *Server) newFeed(show uuid.UUID, edge bool) *feed {
	return &feed{s: s, show: show, edge: edge, viewers: map[string]*viewer{}, changed: make(chan struct{})}
}

// abandon undoes claim after a failed negotiation: a new feed disappears
// without a trace; a resumed one goes back to its grace period.
func (s *Server) abandon(p *publisher, fresh bool) {
	p.once.Do(func() {
		close(p.done)
		if p.pc != nil {
			_ = p.pc.Close()
		}
	})
	f := p.feed
	f.mu.Lock()
	if f.pub != p {
		f.mu.Unlock()
		return
	}
	f.pub = nil
	if fresh && len(f.viewers) == 0 {
		f.ended = true
		f.mu.Unlock()
		s.drop(f)
		if !f.edge {
			s.releaseOrigin(f.show)
		}
		return
	}
	f.grace = time.AfterFunc(s.endGrace(), f.graceOver)
	f.mu.Unlock()
}

// graceOver ends the feed unless a publisher came back in time.
func (f *feed) graceOver() {
	defer f.s.panics().Recover("stream_timer", "show", f.show) // a timer's goroutine: OnEnded runs here
	f.finish("publisher did not come back", true)
}

// end finishes the feed: its viewers are ended and the show is reported off air.
func (f *feed) end(reason string) { f.finish(reason, false) }

func (f *feed) finish(reason string, onlyIdle bool) {
	f.mu.Lock()
	if f.ended || (onlyIdle && f.pub != nil) {
		f.mu.Unlock()
		return
	}
	f.ended = true
	if f.grace != nil {
		f.grace.Stop()
	}
	pub := f.pub
	vs := make([]*viewer, 0, len(f.viewers))
	for _, v := range f.viewers {
		vs = append(vs, v)
	}
	f.touch()
	f.mu.Unlock()
	s := f.s
	closed := s.drop(f)
	if pub != nil {
		pub.end(reason)
	}
	for _, v := range vs {
		v.end("show ended")
	}
	f.stopRecording()
	s.log().Info("stream: show off air", "show", f.show, "reason", reason)
	// A server shutting down does not end the show: the host may carry on
	// on another node, and an operator's restart is not the host's decision.
	if !f.edge {
		s.releaseOrigin(f.show)
	} else {
		s.leaveRelay(f.show)
	}
	switch {
	case closed || f.edge:
	case f.guestOf != uuid.Nil:
		s.guestWent(f.guestOf, false)
	case s.OnEnded != nil:
		s.OnEnded(f.show)
	}
}
