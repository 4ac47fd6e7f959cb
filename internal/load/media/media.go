// Package media is `pavload whip` (one synthetic or file-fed publisher) and
// `pavload whep` (N viewers): start-up times, loss, continuity, delivered
// bitrate and the server's own skips.
package media

import (
	"encoding/binary"
	"time"

	"github.com/pion/rtp"
)

// The synthetic media of `pavload whip`. Frames are shaped like an
// encoder's, so that a server that looks at them (keyframe detection, the
// keyframe cache, drop-to-keyframe) sees what it would see from a browser
// or OBS; their bodies are filler, with a stamp at the start of every RTP
// payload's data so that viewers can tell which frame a packet belongs to
// and when it was sent.

const (
	// maxRTPPacket bounds a whole RTP packet (header included) so that it
	// fits a 1280-byte IPv6 path with SRTP's 10-byte tag, UDP and IP.
	maxRTPPacket = 1200
	// rtpHeaderRoom is the fixed RTP header plus room for the header
	// extensions pion adds on the way out (transport-wide sequence number,
	// mid): the payload gets what is left.
	rtpHeaderRoom = 12 + 28
	maxRTPPayload = maxRTPPacket - rtpHeaderRoom

	videoClockRate = 90000
	audioClockRate = 48000

	// vp8DescriptorLen is the payload descriptor pavload writes: X=1, then
	// I=1 with a 15-bit picture ID, as browsers send it (RFC 7741 §4.2).
	vp8DescriptorLen  = 4
	vp8InterHeaderLen = 3  // frame tag
	vp8KeyHeaderLen   = 10 // frame tag, start code, width and height (RFC 6386 §9.1)

	// opusTOC is the first byte of every synthetic Opus packet: config 31
	// (CELT-only, fullband, 20 ms), mono, one frame (RFC 6716 §3.1).
	opusTOC       = 31 << 3
	opusFrameTime = 20 * time.Millisecond
)

// stamp is what pavload puts at the start of each payload's data: a magic
// number, the frame (or audio packet) number and its send time.
type stamp struct {
	Frame  uint32
	SentNs int64 // unix nanoseconds
}

const stampLen = 16

var stampMagic = [4]byte{'P', 'a', 'v', 'L'}

func (s stamp) put(b []byte) {
	copy(b, stampMagic[:])
	binary.BigEndian.PutUint32(b[4:], s.Frame)
	binary.BigEndian.PutUint64(b[8:], uint64(s.SentNs))
}

// readStamp reads a stamp at the start of b; ok is false when there is none
// (media from a file, or another publisher's).
func readStamp(b []byte) (s stamp, ok bool) {
	if len(b) < stampLen || [4]byte(b[:4]) != stampMagic {
		return stamp{}, false
	}
	return stamp{Frame: binary.BigEndian.Uint32(b[4:]), SentNs: int64(binary.BigEndian.Uint64(b[8:]))}, true
}

// vp8Source makes synthetic VP8 frames at a bitrate and frame rate, with a
// keyframe every keyInterval frames (or when asked for one), and cuts them
// into RTP packets.
type vp8Source struct {
	width, height int
	fps           float64
	keyInterval   int // frames
	interBytes    int // a delta frame's size
	keyBytes      int // a keyframe's size

	seq       uint16
	tsBase    uint32
	pictureID uint16 // 15 bits
	frame     uint32 // frames made so far
	sinceKey  int    // frames since the last keyframe; -1: none yet
	buf       []byte
}

// keyframeWeight is how many delta frames' worth of bytes a keyframe
// carries: about what a camera encoder does at this rate.
const keyframeWeight = 8

// newVP8Source sizes the frames so that one keyframe interval carries
// bitrate bits per second on average.
func newVP8Source(bitrate int, fps float64, keyEvery time.Duration, width, height int, seq uint16, ts uint32) *vp8Source {
	interval := max(1, int(keyEvery.Seconds()*fps+0.5))
	perGroup := float64(bitrate) / 8 * float64(interval) / fps
	inter := max(int(perGroup/float64(keyframeWeight+interval-1)), vp8InterHeaderLen+stampLen)
	return &vp8Source{
		width: width, height: height, fps: fps, keyInterval: interval,
		interBytes: inter, keyBytes: max(inter*keyframeWeight, vp8KeyHeaderLen+stampLen),
		seq: seq, tsBase: ts, sinceKey: -1,
	}
}

// timestamp is frame n's RTP timestamp: 90 kHz from the first frame,
// computed from n so that a fractional frame time never drifts.
func (v *vp8Source) timestamp(n uint32) uint32 {
	return v.tsBase + uint32(float64(n)*videoClockRate/v.fps+0.5)
}

// next makes the next frame, a keyframe when one is due or forceKey, and
// returns its packets (valid until the next call) and whether it is a keyframe.
func (v *vp8Source) next(now time.Time, forceKey bool) ([]*rtp.Packet, bool) {
	key := forceKey || v.sinceKey < 0 || v.sinceKey+1 >= v.keyInterval
	size := v.interBytes
	hdr := vp8InterHeaderLen
	if key {
		size, hdr = v.keyBytes, vp8KeyHeaderLen
		v.sinceKey = 0
	} else {
		v.sinceKey++
	}
	n := v.frame
	v.frame++
	st := stamp{Frame: n, SentNs: now.UnixNano()}
	ts := v.timestamp(n)

	// The frame's bytes: header, then filler that changes from frame to frame.
	if cap(v.buf) < size {
		v.buf = make([]byte, size)
	}
	frame := v.buf[:size]
	for i := hdr; i < size; i++ {
		frame[i] = byte(n + uint32(i))
	}
	// The first partition is said to be the first packet's data: a
	// decoder-minded server checks that it fits in the frame.
	chunk := maxRTPPayload - vp8DescriptorLen
	putVP8FrameHeader(frame, key, min(size, chunk)-hdr, v.width, v.height)

	pkts := packetizeVP8(frame, chunk, func(i int, payload []byte) {
		putVP8Descriptor(payload, i == 0, v.pictureID)
		data := payload[vp8DescriptorLen:]
		if i == 0 {
			data = data[hdr:]
		}
		if len(data) >= stampLen {
			st.put(data)
		}
	})
	for _, p := range pkts {
		p.SequenceNumber = v.seq
		p.Timestamp = ts
		v.seq++
	}
	v.pictureID = (v.pictureID + 1) & 0x7fff
	return pkts, key
}

// packetizeVP8 cuts frame into packets of at most chunk bytes of frame data,
// each payload starting with room for the descriptor (filled by fill); the
// last packet carries the marker bit.
func packetizeVP8(frame []byte, chunk int, fill func(i int, payload []byte)) []*rtp.Packet {
	var pkts []*rtp.Packet
	for i, off := 0, 0; off < len(frame); i++ {
		end := min(off+chunk, len(frame))
		payload := make([]byte, vp8DescriptorLen+end-off)
		copy(payload[vp8DescriptorLen:], frame[off:end])
		fill(i, payload)
		pkts = append(pkts, &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: payload})
		off = end
	}
	if len(pkts) > 0 {
		pkts[len(pkts)-1].Marker = true
	}
	return pkts
}

// putVP8Descriptor writes the 4-byte payload descriptor: X=1, S on a
// frame's first packet, partition 0; I=1 and a 15-bit picture ID (M=1).
func putVP8Descriptor(b []byte, start bool, pictureID uint16) {
	b[0] = 0x80 // X
	if start {
		b[0] |= 0x10 // S
	}
	b[1] = 0x80 // I
	b[2] = 0x80 | byte(pictureID>>8&0x7f)
	b[3] = byte(pictureID)
}

// putVP8FrameHeader writes the frame tag (RFC 6386 §9.1): P=0 for a
// keyframe, version 0, show_frame=1, the first partition's size; and for a
// keyframe the start code and the dimensions (scale 0).
func putVP8FrameHeader(b []byte, key bool, firstPart, width, height int) {
	tag := uint32(firstPart)<<5 | 1<<4 // show_frame
	if !key {
		tag |= 1 // P: an interframe
	}
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
		binary.LittleEndian.PutUint16(b[6:], uint16(width&0x3fff))
		binary.LittleEndian.PutUint16(b[8:], uint16(height&0x3fff))
	}
}

// opusSource makes synthetic Opus packets: 20 ms each, sized for a bitrate.
type opusSource struct {
	size   int
	seq    uint16
	tsBase uint32
	n      uint32
}

func newOpusSource(bitrate int, seq uint16, ts uint32) *opusSource {
	size := max(bitrate/8*int(opusFrameTime/time.Millisecond)/1000, 1+stampLen)
	return &opusSource{size: size, seq: seq, tsBase: ts}
}

// next makes the next audio packet.
func (o *opusSource) next(now time.Time) *rtp.Packet {
	payload := make([]byte, o.size)
	payload[0] = opusTOC
	stamp{Frame: o.n, SentNs: now.UnixNano()}.put(payload[1:])
	for i := 1 + stampLen; i < len(payload); i++ {
		payload[i] = byte(o.n + uint32(i))
	}
	p := &rtp.Packet{Header: rtp.Header{
		Version:        2,
		SequenceNumber: o.seq,
		Timestamp:      o.tsBase + o.n*uint32(audioClockRate*opusFrameTime/time.Second),
	}, Payload: payload}
	o.seq++
	o.n++
	return p
}

// vp8Info is what a receiver learns from one VP8 RTP payload.
type vp8Info struct {
	start    bool // the first packet of a frame (S=1, partition 0)
	keyframe bool // ... of a keyframe
	data     int  // offset of the frame data after the descriptor and, on a start packet, the frame header
}

// parseVP8 reads a VP8 RTP payload's descriptor (RFC 7741 §4.2) and, on a
// frame's first packet, the frame tag; ok is false for a malformed payload.
func parseVP8(p []byte) (info vp8Info, ok bool) {
	if len(p) < 1 {
		return info, false
	}
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return info, false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I
			if len(p) <= i {
				return info, false
			}
			if p[i]&0x80 != 0 { // M: 15-bit picture ID
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	if len(p) < i {
		return info, false
	}
	info.data = i
	info.start = p[0]&0x10 != 0 && p[0]&0x07 == 0
	if !info.start {
		return info, true
	}
	if len(p) < i+vp8InterHeaderLen {
		return info, false
	}
	info.keyframe = p[i]&0x01 == 0
	if info.keyframe {
		if len(p) < i+vp8KeyHeaderLen || p[i+3] != 0x9d || p[i+4] != 0x01 || p[i+5] != 0x2a {
			return info, false
		}
		info.data += vp8KeyHeaderLen
	} else {
		info.data += vp8InterHeaderLen
	}
	return info, true
}

// h264Keyframe reports whether an H.264 RTP payload (RFC 6184) starts an
// IDR picture or carries a sequence parameter set: a single NAL unit, a
// STAP-A holding one, or the first fragment of an FU-A.
func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	isKey := func(t byte) bool { return t == 5 || t == 7 }
	switch t := p[0] & 0x1f; {
	case t >= 1 && t <= 23:
		return isKey(t)
	case t == 24: // STAP-A: 16-bit sizes, each followed by a NAL unit
		for i := 1; i+2 < len(p); {
			n := int(binary.BigEndian.Uint16(p[i:]))
			if n == 0 || i+2+n > len(p) {
				return false
			}
			if isKey(p[i+2] & 0x1f) {
				return true
			}
			i += 2 + n
		}
	case t == 28: // FU-A
		return len(p) >= 2 && p[1]&0x80 != 0 && isKey(p[1]&0x1f)
	}
	return false
}
