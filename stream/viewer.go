package stream

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// maxLag is how far behind live a viewer may fall before its video skips to
// the next keyframe (and its audio to the live edge). Packets older than
// this are not worth sending, nor worth resending on a NACK.
const maxLag = 500 * time.Millisecond

// viewer is one WHEP session. One goroutine (run) writes both of its tracks
// from the feed's rings; another reads their RTCP (readRTCP; a relay
// session, one per track).
type viewer struct {
	s    *Server
	id   string
	feed *feed
	pc   *webrtc.PeerConnection
	done chan struct{}
	once sync.Once
	// up closes when ICE and DTLS are through: pion drops packets written
	// before that, and the first ones are the cached keyframe.
	up     chan struct{}
	upOnce sync.Once

	video, audio *binding
	// relay: the viewer is another node pulling the show. It gets every
	// video layer, each on a binding of its own (layers), instead of video.
	relay  bool
	layers []*binding
	// layer is the viewer's own pick ("" for automatic), set at WHEP time or later.
	layer atomic.Pointer[string]
	// auto layer choice state, from the viewer's receiver reports.
	autoMu    sync.Mutex
	autoLevel int // index into the layers; -1: not chosen yet (start high)
	goodSince time.Time
	remb      uint64
}

func (v *viewer) showID() uuid.UUID { return v.feed.show }

// binding is a viewer's side of one track. It implements webrtc.TrackLocal,
// so pion hands it the negotiated SSRC, payload type and write stream, and
// rewrites nothing itself: sequence numbers and timestamps are ours to keep
// continuous across skips, layer switches and publisher reconnects.
type binding struct {
	v     *viewer
	kind  webrtc.RTPCodecType
	codec webrtc.RTPCodecCapability
	sid   string
	// tid is the track id ("" for the kind); a relay layer's carries its
	// RID (relayTrackPrefix), which is also the layer it is pinned to.
	tid string
	rid string

	mu     sync.Mutex
	bound  bool
	ssrc   uint32
	pt     uint8
	ws     rtpWriter
	src    *source
	cursor uint64
	waitKF bool
	// out sequence = ext + off; out timestamp = ts + tsOff (or catch[ts]).
	off     int64
	tsOff   uint32
	lastOut uint64
	lastTS  uint32
	lastAt  time.Time
	// tsAt is when the first packet with timestamp lastTS went out, and
	// srAt when the last sender report did (senderReport).
	tsAt, srAt time.Time
	sent       bool
	segs       []segment
	// catchTo ends the fast-start catch-up: packets before it are exempt
	// from the lag check (their timestamps are the segment's catch map).
	catchTo uint64
	// pending is the source being switched to, read from pendCur until its next keyframe.
	pending *source
	pendCur uint64

	// hdr is the header being written, kept here so that a packet costs no
	// allocation (pion's writer takes a pointer; it does not keep it).
	hdr rtp.Header

	bytes   atomic.Uint64
	packets atomic.Uint64
}

// rtpWriter is where a viewer track's packets go: pion's write stream for
// the track, which adds the viewer's header extensions and encrypts.
type rtpWriter interface {
	WriteRTP(h *rtp.Header, payload []byte) (int, error)
}

// segment maps a run of output sequence numbers back to a source, for NACKs.
type segment struct {
	from  uint64 // first output (extended) sequence number of the run
	off   int64
	src   *source
	tsOff uint32
	catch map[uint32]uint32
}

func (b *binding) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	c, ok := matchCodec(b.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	b.mu.Lock()
	b.bound = true
	b.ssrc = uint32(ctx.SSRC())
	b.pt = uint8(c.PayloadType)
	b.ws = ctx.WriteStream()
	if wrap := b.v.s.wrapWriter; wrap != nil {
		b.ws = wrap(b.v.id, b.ws)
	}
	b.mu.Unlock()
	return c, nil
}

func (b *binding) Unbind(webrtc.TrackLocalContext) error {
	b.mu.Lock()
	b.bound = false
	b.mu.Unlock()
	return nil
}

func (b *binding) ID() string {
	if b.tid != "" {
		return b.tid
	}
	return b.kind.String()
}
func (b *binding) RID() string                      { return "" }
func (b *binding) StreamID() string                 { return b.sid }
func (b *binding) Kind() webrtc.RTPCodecType        { return b.kind }
func (b *binding) Codec() webrtc.RTPCodecCapability { return b.codec }

// matchCodec finds the negotiated codec for want: the same MIME type and,
// for H.264, the same packetization mode (a viewer must not get
// interleaved-mode packets it did not agree to).
func matchCodec(want webrtc.RTPCodecCapability, have []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var fallback *webrtc.RTPCodecParameters
	for i, c := range have {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if c.SDPFmtpLine == want.SDPFmtpLine {
			return c, true
		}
		if strings.EqualFold(want.MimeType, webrtc.MimeTypeH264) && fmtpValue(c.SDPFmtpLine, "packetization-mode") != fmtpValue(want.SDPFmtpLine, "packetization-mode") {
			continue
		}
		if fallback == nil {
			fallback = &have[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return webrtc.RTPCodecParameters{}, false
}

func fmtpValue(line, key string) string {
	for _, kv := range strings.Split(line, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		if strings.EqualFold(k, key) {
			return v
		}
	}
	if key == "packetization-mode" {
		return "0"
	}
	return ""
}

// ---- the writer ----

// run writes the viewer's tracks until the viewer ends. It is the only
// goroutine that advances cursors; NACK answers read the same state under
// the binding's lock.
func (v *viewer) run() {
	select {
	case <-v.up:
	case <-v.done:
		return
	}
	if v.relay {
		v.runRelay()
		return
	}
	for {
		video, audio, changed := v.feed.snapshot()
		var wv, wa <-chan struct{}
		var err error
		if v.video != nil {
			if wv, err = v.video.pump(v.pickLayer(video)); err != nil {
				v.end("write: " + err.Error())
				return
			}
		}
		if v.audio != nil {
			if wa, err = v.audio.pump(audio); err != nil {
				v.end("write: " + err.Error())
				return
			}
		}
		v.senderReports()
		select {
		case <-wv:
		case <-wa:
		case <-changed:
		case <-v.done:
			return
		}
	}
}

// runRelay is run for a relay session: each layer binding follows the
// layer of its RID, whatever the viewers of this node pick.
func (v *viewer) runRelay() {
	for {
		video, audio, changed := v.feed.snapshot()
		cases := make([]reflect.SelectCase, 0, len(v.layers)+3)
		wait := func(ch <-chan struct{}) {
			if ch != nil {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
			}
		}
		for _, b := range v.layers {
			var target *source
			for _, l := range video {
				if l.rid == b.rid {
					target = l
				}
			}
			ch, err := b.pump(target)
			if err != nil {
				v.end("write: " + err.Error())
				return
			}
			wait(ch)
		}
		if v.audio != nil {
			ch, err := v.audio.pump(audio)
			if err != nil {
				v.end("write: " + err.Error())
				return
			}
			wait(ch)
		}
		v.senderReports()
		wait(changed)
		wait(v.done)
		reflect.Select(cases)
		select {
		case <-v.done:
			return
		default:
		}
	}
}

// bindings lists the viewer's tracks.
func (v *viewer) bindings() []*binding {
	out := make([]*binding, 0, 2+len(v.layers))
	for _, b := range append([]*binding{v.video, v.audio}, v.layers...) {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

// pump sends what the binding's source holds beyond its cursor and returns
// the channel to wait on for more.
func (b *binding) pump(target *source) (<-chan struct{}, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.bound || target == nil {
		return nil, nil
	}
	if !strings.EqualFold(target.codec.MimeType, b.codec.MimeType) {
		return nil, errCodecChanged
	}
	now := time.Now()
	switch {
	case b.src == nil:
		b.start(target)
	case target == b.src:
		b.pending = nil // a switch asked for and taken back before it happened
	case b.pending != target:
		// A new layer or a new publisher: keep going on the old source until
		// the new one reaches a keyframe.
		b.pending = target
		b.pendCur = target.view().head
		if b.kind == webrtc.RTPCodecTypeVideo {
			target.requestKeyframe()
		}
	}
	if b.pending != nil {
		b.switchAtKeyframe(now)
	}
	src := b.src
	view := src.view()
	if b.cursor < view.oldest {
		b.cursor = view.oldest
	}
	for b.cursor < view.head {
		e := b.cursor
		s, ok := src.get(e)
		if !ok {
			b.cursor++
			continue // lost at ingest or overwritten: the viewer may NACK it
		}
		if b.waitKF {
			if !s.kf {
				b.cursor++
				continue
			}
			b.waitKF = false
			b.newSegment(src, e, b.tsOff, nil)
		}
		if e >= b.catchTo && now.Sub(time.Unix(0, s.at)) > maxLag {
			b.skip(src, view)
			if b.waitKF || b.cursor != e {
				continue
			}
		}
		b.cursor++
		if err := b.write(e, s, now); err != nil {
			return nil, err
		}
	}
	switch {
	case b.pending != nil && view.closed:
		if pv := b.pending.view(); !pv.closed {
			return pv.wake, nil
		}
		return nil, nil
	case view.closed:
		return nil, nil // the publisher left: wait for the feed to change
	}
	// With a switch pending, the new source is looked at whenever the old
	// one delivers, which is at least every frame.
	return view.wake, nil
}

// errCodecChanged ends a viewer whose returning publisher sends another
// codec: only a new negotiation can fix that, and the player reconnects.
var errCodecChanged = errors.New("the publisher changed codec")

// start begins a new viewer. Video starts at the cached keyframe, with the
// frames since then given timestamps squeezed just before the live edge:
// the decoder gets everything it needs at once and shows the current
// picture, and playout is not held back by the age of the keyframe.
func (b *binding) start(src *source) {
	view := src.view()
	b.src = src
	b.off = int64(rand.Uint32()) + 1<<32
	if b.kind == webrtc.RTPCodecTypeAudio {
		b.cursor = view.head
		b.newSegment(src, view.head, 0, nil)
		return
	}
	if !view.hasKF {
		b.cursor = view.head
		b.waitKF = true
		src.requestKeyframe()
		return
	}
	b.cursor = view.kf
	frames := src.frames(view.kf, view.head)
	var catch map[uint32]uint32
	if len(frames) > 1 {
		catch = make(map[uint32]uint32, len(frames))
		last := frames[len(frames)-1]
		for i, ts := range frames {
			catch[ts] = last - uint32(len(frames)-1-i)
		}
	}
	b.catchTo = view.head
	b.newSegment(src, view.kf, 0, catch)
}

// switchAtKeyframe moves to the pending source once it has a keyframe.
func (b *binding) switchAtKeyframe(now time.Time) {
	p := b.pending
	pv := p.view()
	if b.pendCur < pv.oldest {
		b.pendCur = pv.oldest
	}
	for ; b.pendCur < pv.head; b.pendCur++ {
		s, ok := p.get(b.pendCur)
		if !ok || (b.kind == webrtc.RTPCodecTypeVideo && !s.kf) {
			continue
		}
		// Continue the timeline: the new source's first timestamp lands
		// where the old one would be by now.
		clock := b.codec.ClockRate
		if clock == 0 {
			clock = 90000
		}
		var tsOff uint32
		if b.sent {
			elapsed := uint32(now.Sub(b.lastAt).Seconds() * float64(clock))
			if elapsed == 0 {
				elapsed = 1
			}
			tsOff = b.lastTS + elapsed - s.ts
		}
		b.src, b.pending = p, nil
		b.cursor = b.pendCur
		b.waitKF = false
		b.catchTo = 0
		b.newSegment(p, b.cursor, tsOff, nil)
		return
	}
}

// skip drops a lagging viewer to the live edge: video waits for the next
// keyframe (asked for now), audio jumps ahead.
func (b *binding) skip(src *source, view ringView) {
	if m := b.v.s.metrics; m != nil {
		m.skips.Inc()
	}
	b.catchTo = 0
	b.cursor = view.head
	if b.kind == webrtc.RTPCodecTypeVideo {
		b.waitKF = true
		src.requestKeyframe()
	}
}

// newSegment starts a run whose first packet is ext, continuing the output sequence.
func (b *binding) newSegment(src *source, ext uint64, tsOff uint32, catch map[uint32]uint32) {
	if b.sent {
		b.off = int64(b.lastOut+1) - int64(ext)
	}
	b.tsOff = tsOff
	seg := segment{from: uint64(int64(ext) + b.off), off: b.off, src: src, tsOff: tsOff, catch: catch}
	if len(b.segs) >= 8 {
		copy(b.segs, b.segs[1:])
		b.segs = b.segs[:7]
	}
	b.segs = append(b.segs, seg)
}

func (seg *segment) timestamp(ts uint32) uint32 {
	if t, ok := seg.catch[ts]; ok {
		return t + seg.tsOff
	}
	return ts + seg.tsOff
}

// write sends packet ext of the current source. Called with b.mu held.
func (b *binding) write(ext uint64, s slot, now time.Time) error {
	out := uint64(int64(ext) + b.off)
	seg := &b.segs[len(b.segs)-1]
	ts := seg.timestamp(s.ts)
	b.hdr = rtp.Header{Version: 2, PayloadType: b.pt, SequenceNumber: uint16(out), Timestamp: ts, SSRC: b.ssrc, Marker: s.marker}
	if _, err := b.ws.WriteRTP(&b.hdr, s.payload); err != nil {
		if errors.Is(err, io.ErrClosedPipe) {
			return err
		}
	}
	if !b.sent || out > b.lastOut {
		if !b.sent || ts != b.lastTS {
			b.tsAt = now
		}
		b.lastOut = out
		b.lastTS = ts
		b.lastAt = now
	}
	b.sent = true
	b.bytes.Add(uint64(len(s.payload) + 12))
	b.packets.Add(1)
	return nil
}

// resend answers a NACK from the shared ring. Packets older than maxLag are
// not resent: by the time they arrive the viewer has played past them.
func (b *binding) resend(seqs []uint16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.sent {
		return
	}
	now := time.Now()
	for _, seq := range seqs {
		out := uint64(int64(b.lastOut) + int64(int16(seq-uint16(b.lastOut))))
		if out > b.lastOut {
			continue
		}
		var seg *segment
		for i := len(b.segs) - 1; i >= 0; i-- {
			if b.segs[i].from <= out {
				seg = &b.segs[i]
				break
			}
		}
		if seg == nil {
			continue
		}
		ext := uint64(int64(out) - seg.off)
		s, ok := seg.src.get(ext)
		if !ok || now.Sub(time.Unix(0, s.at)) > maxLag+time.Second {
			continue
		}
		b.hdr = rtp.Header{Version: 2, PayloadType: b.pt, SequenceNumber: seq, Timestamp: seg.timestamp(s.ts), SSRC: b.ssrc, Marker: s.marker}
		if _, err := b.ws.WriteRTP(&b.hdr, s.payload); err != nil {
			return
		}
		if m := b.v.s.metrics; m != nil {
			m.retransmits.Inc()
		}
	}
}

// ---- sender reports ----

// srInterval is how often a viewer gets a sender report per track.
const srInterval = time.Second

// senderReports sends each track's RTCP sender report when one is due. The
// player needs them to line audio up with video (RFC 3550 §6.4.1). They
// are written here, by the viewer's writer as media flows, rather than by
// pion's report interceptor, which costs every viewer a goroutine, a
// ticker, and a lock and a map lookup on every packet.
func (v *viewer) senderReports() {
	now := time.Now()
	var pkts []rtcp.Packet
	for _, b := range v.bindings() {
		b.mu.Lock()
		if b.bound && b.sent && now.Sub(b.srAt) >= srInterval {
			b.srAt = now
			clock := b.codec.ClockRate
			if clock == 0 {
				clock = 90000
			}
			n, bytes := b.packets.Load(), b.bytes.Load()
			pkts = append(pkts, &rtcp.SenderReport{
				SSRC:        b.ssrc,
				NTPTime:     ntpTime(now),
				RTPTime:     b.lastTS + uint32(now.Sub(b.tsAt).Seconds()*float64(clock)),
				PacketCount: uint32(n),
				OctetCount:  uint32(bytes - 12*n), // payload octets: bytes counts 12 of header a packet
			})
		}
		b.mu.Unlock()
	}
	if len(pkts) > 0 {
		_ = v.pc.WriteRTCP(pkts) // a lost report is replaced a second later
	}
}

// ntpTime is t as a 64-bit NTP timestamp: seconds since 1900 and their fraction.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800 // seconds from 1900 to 1970
	secs := uint64(t.Unix()) + unixToNTP
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// ---- RTCP from the viewer ----

// rtcpPoll is how often the RTCP of a viewer's other tracks is read when
// one goroutine reads them all (readRTCP).
const rtcpPoll = time.Second

// rtcpTrack is one of a viewer's tracks, for readRTCP.
type rtcpTrack struct {
	sender *webrtc.RTPSender
	b      *binding
}

// readRTCP drains a viewer's RTCP with one goroutine: it waits on the
// first track's (the video's: keyframe requests and NACKs are answered at
// once) and, every rtcpPoll, reads what the others' streams hold (the
// audio's receiver reports, which nothing waits for). A goroutine per
// track would cost every viewer another stack for packets that can wait a
// second; unread, pion would queue them (up to 100 KB a track). A relay
// session, whose every layer takes keyframe requests, reads each track
// with a goroutine of its own (readTrackRTCP).
func (v *viewer) readRTCP(tracks []rtcpTrack) {
	if len(tracks) == 0 {
		return
	}
	main, rest := tracks[0], tracks[1:]
	// A deadline can be set once the connection is up (pion's sender
	// has its stream then).
	select {
	case <-v.up:
	case <-v.done:
		return
	}
	buf := make([]byte, 1500)
	next := time.Now().Add(rtcpPoll)
	for {
		if len(rest) > 0 {
			if err := main.sender.SetReadDeadline(next); err != nil {
				// No deadlines after all: a goroutine for each.
				for _, t := range rest {
					v.s.goTracked(func() {
						defer v.s.endOnPanic("stream_viewer", v, v.id)
						v.readTrackRTCP(t)
					})
				}
				rest = nil
			}
		}
		n, _, err := main.sender.Read(buf)
		switch {
		case err == nil:
			v.onRTCP(main.b, buf[:n])
		case isTimeout(err):
		default:
			return
		}
		if now := time.Now(); len(rest) > 0 && !now.Before(next) {
			next = now.Add(rtcpPoll)
			for i := 0; i < len(rest); i++ {
				if !v.drainRTCP(rest[i], buf) {
					rest = append(rest[:i], rest[i+1:]...) // closed
					i--
				}
			}
		}
	}
}

// drainRTCP reads what t's RTCP stream holds now; false once it is closed.
func (v *viewer) drainRTCP(t rtcpTrack, buf []byte) bool {
	// A deadline already past fails a read before it looks at the queue.
	if err := t.sender.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	for {
		n, _, err := t.sender.Read(buf)
		switch {
		case err == nil:
			v.onRTCP(t.b, buf[:n])
		case isTimeout(err):
			return true
		default:
			return false
		}
	}
}

// readTrackRTCP drains one track's RTCP until the connection closes.
func (v *viewer) readTrackRTCP(t rtcpTrack) {
	buf := make([]byte, 1500)
	for {
		n, _, err := t.sender.Read(buf)
		if err != nil {
			if isTimeout(err) {
				_ = t.sender.SetReadDeadline(time.Time{})
				continue
			}
			return
		}
		v.onRTCP(t.b, buf[:n])
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// onRTCP acts on one compound RTCP packet of b's track: keyframe requests
// go to the publisher (rate-limited per source), NACKs are answered from
// the ring, receiver reports and REMB steer the automatic layer choice.
func (v *viewer) onRTCP(b *binding, raw []byte) {
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil {
		return
	}
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			b.mu.Lock()
			src := b.src
			b.mu.Unlock()
			if src != nil {
				src.requestKeyframe()
			}
		case *rtcp.TransportLayerNack:
			var seqs []uint16
			for _, pair := range p.Nacks {
				seqs = append(seqs, pair.PacketList()...)
				if len(seqs) > 256 {
					break
				}
			}
			b.resend(seqs)
		case *rtcp.ReceiverReport:
			if b.kind == webrtc.RTPCodecTypeVideo {
				for _, r := range p.Reports {
					v.observeLoss(float64(r.FractionLost) / 256)
				}
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			v.autoMu.Lock()
			v.remb = uint64(p.Bitrate)
			v.autoMu.Unlock()
		}
	}
}

// ---- simulcast layer choice ----

// observeLoss moves the automatic choice down a layer when a receiver
// report shows heavy loss, and up again after a quiet spell.
func (v *viewer) observeLoss(frac float64) {
	v.autoMu.Lock()
	defer v.autoMu.Unlock()
	now := time.Now()
	switch {
	case frac > 0.10:
		if v.autoLevel > 0 {
			v.autoLevel--
		}
		v.goodSince = now
	case frac < 0.02:
		if v.goodSince.IsZero() {
			v.goodSince = now
		} else if now.Sub(v.goodSince) > 8*time.Second {
			v.autoLevel++
			v.goodSince = now
		}
	default:
		v.goodSince = now
	}
}

// pickLayer returns the video source for this viewer: its own pick when it
// made one, else the highest layer its loss and REMB estimate allow.
func (v *viewer) pickLayer(layers []*source) *source {
	if len(layers) == 0 {
		return nil
	}
	if p := v.layer.Load(); p != nil && *p != "" {
		for _, l := range layers {
			if strings.EqualFold(l.rid, *p) {
				return l
			}
		}
	}
	v.autoMu.Lock()
	defer v.autoMu.Unlock()
	if v.autoLevel < 0 || v.autoLevel >= len(layers) {
		v.autoLevel = len(layers) - 1 // start at the top; loss moves it down
	}
	i := v.autoLevel
	for i > 0 && v.remb > 0 && uint64(layers[i].rate()) > v.remb {
		i--
	}
	return layers[i]
}

// ---- ending ----

func (v *viewer) end(reason string) {
	v.once.Do(func() {
		close(v.done)
		f := v.feed
		f.mu.Lock()
		delete(f.viewers, v.id)
		for _, b := range v.bindings() {
			f.goneBytes += b.bytes.Load()
		}
		f.mu.Unlock()
		v.s.forget(v.id)
		_ = v.pc.Close()
		v.s.log().Debug("stream: viewer ended", "show", f.show, "session", v.id, "reason", reason)
	})
}
