package record

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/pavilion-live/pavilion/stream"
)

// A sink takes one publisher track's packets (stream.TrackSink). The
// publisher's read loop only queues them; a goroutine of the sink puts
// them back in order (pion's samplebuilder), joins them into frames and
// writes them, so a slow disk costs the recording packets, never the live
// show its media.
type sink struct {
	rec   *Recording
	codec codec
	rate  uint32

	in   chan arrival
	done chan struct{}

	mu       sync.Mutex
	inClosed bool

	wantKey atomic.Bool
	dropped atomic.Uint64

	// Timestamps: the sink's first packet is placed at the wall-clock time
	// it came (so a publisher who reconnects goes on where the clock is),
	// every frame by its RTP timestamp from there.
	started bool
	baseMS  int64
	lastTS  uint32
	popped  bool // a frame went out: the next must come after it
	ext     int64
	lastKey time.Time
	// sps and pps: the newest H.264 parameter sets the publisher sent.
	sps, pps []byte
}

// arrival is a packet and when the publisher's read loop got it: the time
// a frame is placed at does not depend on how long it waited in the queue.
type arrival struct {
	p  *rtp.Packet
	at time.Time
}

func (rec *Recording) newSink(c codec, rate uint32) stream.TrackSink {
	if rate == 0 {
		rate = 90000
		if c.kind == "audio" {
			rate = 48000
		}
	}
	size := 2048
	if c.kind == "audio" {
		size = 256
	}
	s := &sink{rec: rec, codec: c, rate: rate, in: make(chan arrival, size), done: make(chan struct{})}
	rec.mu.Lock()
	if rec.closing {
		rec.mu.Unlock()
		return nil
	}
	if rec.sinks == nil {
		rec.sinks = map[string]*sink{}
	}
	rec.sinks[c.kind] = s
	rec.mu.Unlock()
	go s.run()
	return s
}

// WriteRTP queues p, or drops it when the queue is full.
func (s *sink) WriteRTP(p *rtp.Packet) bool {
	s.mu.Lock()
	if !s.inClosed {
		select {
		case s.in <- arrival{p: p, at: s.rec.r.clock()}:
		default:
			s.dropped.Add(1)
		}
	}
	s.mu.Unlock()
	return s.wantKey.Swap(false)
}

// Close ends the track: what is queued is still written.
func (s *sink) Close() {
	s.mu.Lock()
	if !s.inClosed {
		s.inClosed = true
		close(s.in)
	}
	s.mu.Unlock()
}

// stop closes the track and waits until its frames are written.
func (s *sink) stop() {
	s.Close()
	<-s.done
}

func (s *sink) run() {
	defer close(s.done)
	defer func() {
		// Packets come from a client: one that trips the depacketizer costs
		// this track of the recording, not the node.
		if v := recover(); v != nil {
			s.rec.r.log().Error("record: a track failed; it is left out from here", "show", s.rec.file.ShowID, "kind", s.codec.kind, "panic", v)
			for range s.in {
			}
		}
	}()
	var dep rtp.Depacketizer
	maxLate := uint16(64)
	switch s.codec.mime {
	case "video/vp8":
		dep, maxLate = &codecs.VP8Packet{}, 1024
	case "video/vp9":
		dep, maxLate = &codecs.VP9Packet{}, 1024
	case "video/h264":
		// IsAVC: NAL units come out length-prefixed, as MP4 samples hold them.
		dep, maxLate = &codecs.H264Packet{IsAVC: true}, 1024
	default:
		dep = &codecs.OpusPacket{}
	}
	sb := samplebuilder.New(maxLate, dep, s.rate)
	for a := range s.in {
		if !s.started {
			s.started = true
			s.baseMS = a.at.Sub(s.rec.start).Milliseconds()
			s.lastTS = a.p.Timestamp
		}
		sb.Push(a.p)
		for smp := sb.Pop(); smp != nil; smp = sb.Pop() {
			s.frame(smp)
		}
	}
	sb.Flush()
	for smp := sb.Pop(); smp != nil; smp = sb.Pop() {
		s.frame(smp)
	}
	if n := s.dropped.Load(); n > 0 {
		s.rec.r.log().Warn("record: packets dropped on a slow disk", "show", s.rec.file.ShowID, "kind", s.codec.kind, "packets", n)
	}
}

func (s *sink) frame(smp *media.Sample) {
	if len(smp.Data) == 0 {
		return
	}
	now := s.rec.r.clock()
	step := int64(int32(smp.PacketTimestamp - s.lastTS))
	if s.popped && step <= 0 {
		// A frame is one timestamp: pion's samplebuilder, flushed with an
		// H.264 frame in it, hands that frame out a second time.
		return
	}
	s.popped = true
	s.ext += step
	s.lastTS = smp.PacketTimestamp
	fr := frame{kind: s.codec.kind, mime: s.codec.mime, at: s.baseMS + s.ext*1000/int64(s.rate), data: smp.Data, keyframe: true}
	if s.codec.kind == "video" {
		switch s.codec.mime {
		case "video/vp8":
			fr.keyframe, fr.width, fr.height = vp8Key(smp.Data)
		case "video/vp9":
			fr.keyframe, fr.width, fr.height = vp9Key(smp.Data)
		case "video/h264":
			fr.keyframe = s.h264Key(smp.Data)
			if fr.keyframe {
				fr.sps, fr.pps = s.sps, s.pps
			}
		}
		if fr.keyframe {
			s.lastKey = now
		} else if now.Sub(s.lastKey) >= s.rec.r.keyframeEvery() {
			s.wantKey.Store(true)
		}
	}
	s.rec.write(s, fr)
}

// h264Key reads an access unit of length-prefixed NAL units: it keeps its
// parameter sets, and reports whether it holds an IDR slice that they
// decode (a keyframe without an SPS and PPS seen cannot start a file).
func (s *sink) h264Key(b []byte) bool {
	idr := false
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint32(b))
		if n == 0 || n > len(b)-4 {
			break
		}
		nalu := b[4 : 4+n]
		switch nalu[0] & 0x1f {
		case 5:
			idr = true
		case 7:
			s.sps = append(s.sps[:0:0], nalu...)
		case 8:
			s.pps = append(s.pps[:0:0], nalu...)
		}
		b = b[4+n:]
	}
	return idr && s.sps != nil && s.pps != nil
}

// vp8Key reads a VP8 frame's header (RFC 6386 §9.1): whether it is a key
// frame, and then its size.
func vp8Key(b []byte) (key bool, w, h int) {
	if len(b) < 10 || b[0]&1 != 0 {
		return false, 0, 0
	}
	if b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return true, 0, 0
	}
	return true, int(binary.LittleEndian.Uint16(b[6:]) & 0x3fff), int(binary.LittleEndian.Uint16(b[8:]) & 0x3fff)
}

// vp9Key reads a VP9 frame's uncompressed header (VP9 bitstream §6.2):
// whether it is a key frame, and for profile 0 its size.
func vp9Key(b []byte) (key bool, w, h int) {
	br := bitReader{b: b}
	if br.read(2) != 2 { // frame_marker
		return false, 0, 0
	}
	profile := br.read(1) | br.read(1)<<1
	if profile == 3 {
		br.read(1)
	}
	if br.read(1) == 1 { // show_existing_frame
		return false, 0, 0
	}
	if br.read(1) != 0 { // frame_type: 0 is a key frame
		return false, 0, 0
	}
	br.read(2) // show_frame, error_resilient_mode
	if br.read(24) != 0x498342 || profile != 0 {
		return true, 0, 0
	}
	if br.read(3) != 7 { // color_space other than RGB: color_range
		br.read(1)
	}
	w, h = br.read(16)+1, br.read(16)+1
	if br.over {
		return true, 0, 0
	}
	return true, w, h
}

type bitReader struct {
	b    []byte
	pos  int
	over bool
}

func (r *bitReader) read(n int) int {
	v := 0
	for range n {
		if r.pos >= len(r.b)*8 {
			r.over = true
			return 0
		}
		v = v<<1 | int(r.b[r.pos/8]>>(7-r.pos%8))&1
		r.pos++
	}
	return v
}
