package stream

import (
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
)

// A ring holds the most recent packets of one incoming stream (one track, or
// one simulcast layer), shared read-only by every viewer of the show. Slots
// are indexed by the packet's extended sequence number, not its arrival
// order, so a retransmission that arrives late lands where it belongs and a
// viewer's NACK can be answered from here: viewers keep only cursors, never
// copies of packets, which is what keeps memory per viewer small.
type ring struct {
	kind     string // "video" or "audio"
	keyframe func(payload []byte) bool

	mu    sync.RWMutex
	slots []slot
	mask  uint64
	// head is one past the highest extended sequence number stored; 0 while empty.
	head uint64
	// kf is the extended sequence number of the first packet of the newest
	// keyframe, valid while hasKF and still inside the ring.
	kf    uint64
	hasKF bool
	// frameStart is the first packet of the frame being received (by RTP
	// timestamp): a keyframe begins there, since H.264 sends SPS/PPS before
	// the IDR slice in packets of their own.
	frameStart uint64
	frameTS    uint32
	started    bool
	// wake is closed and replaced on every write: viewers wait on it.
	wake chan struct{}
	// rate: bytes seen in the current and previous second, for layer choice.
	rateStart time.Time
	rateBytes int
	bitrate   int // bits per second over the last full second
	closed    bool
}

type slot struct {
	ext     uint64 // extended sequence number + 1; 0 marks an empty slot
	ts      uint32
	marker  bool
	kf      bool // first packet of a keyframe
	payload []byte
	at      int64 // arrival, Unix nanoseconds: how far behind a viewer is
}

func newRing(kind string, size int, keyframe func([]byte) bool) *ring {
	n := 1
	for n < size {
		n <<= 1
	}
	return &ring{kind: kind, keyframe: keyframe, slots: make([]slot, n), mask: uint64(n - 1), wake: make(chan struct{})}
}

// keyframeFunc picks the keyframe detector for a codec; nil when the codec
// has none we know (every audio packet is a fine place to start).
func keyframeFunc(mime string) func([]byte) bool {
	switch strings.ToLower(mime) {
	case "video/vp8":
		return vp8Keyframe
	case "video/vp9":
		return vp9Keyframe
	case "video/h264":
		return h264Keyframe
	}
	return nil
}

// put stores a packet. The payload is copied once here; viewers share it.
func (r *ring) put(h *rtp.Header, payload []byte, now time.Time) {
	if len(payload) == 0 {
		return // padding-only probes carry nothing a viewer needs
	}
	data := make([]byte, len(payload))
	copy(data, payload)
	isKF := r.keyframe != nil && r.keyframe(payload)

	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	var ext uint64
	if !r.started {
		// Start above zero so packets reordered before the first one still
		// have a place, and so that ext+1 never wraps.
		r.started = true
		ext = 1<<16 + uint64(h.SequenceNumber)
	} else {
		high := r.head - 1
		ext = uint64(int64(high) + int64(int16(h.SequenceNumber-uint16(high))))
	}
	size := uint64(len(r.slots))
	if r.head > size && ext < r.head-size {
		r.mu.Unlock()
		return // older than anything the ring still holds
	}
	r.slots[ext&r.mask] = slot{ext: ext + 1, ts: h.Timestamp, marker: h.Marker, payload: data, at: now.UnixNano()}
	switch {
	case ext >= r.head:
		if r.head == 0 || h.Timestamp != r.frameTS {
			r.frameStart, r.frameTS = ext, h.Timestamp
		}
		r.head = ext + 1
	case h.Timestamp == r.frameTS && ext < r.frameStart:
		r.frameStart = ext // a late packet from the start of the current frame
	}
	if isKF && h.Timestamp == r.frameTS {
		start := r.frameStart
		r.slots[start&r.mask].kf = true
		r.kf, r.hasKF = start, true
	}
	r.rateBytes += len(payload)
	if r.rateStart.IsZero() {
		r.rateStart = now
	} else if d := now.Sub(r.rateStart); d >= time.Second {
		r.bitrate = int(float64(r.rateBytes*8) / d.Seconds())
		r.rateStart, r.rateBytes = now, 0
	}
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
}

// close wakes every waiting viewer for good.
func (r *ring) close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.wake)
	}
	r.mu.Unlock()
}

// get returns the packet with extended sequence number ext, if held.
func (r *ring) get(ext uint64) (slot, bool) {
	r.mu.RLock()
	s := r.slots[ext&r.mask]
	r.mu.RUnlock()
	return s, s.ext == ext+1
}

// view is what a viewer needs to decide where to read next.
type ringView struct {
	head   uint64
	oldest uint64 // lowest sequence number that may still be held
	kf     uint64
	hasKF  bool
	wake   <-chan struct{}
	closed bool
}

func (r *ring) view() ringView {
	r.mu.RLock()
	defer r.mu.RUnlock()
	v := ringView{head: r.head, kf: r.kf, wake: r.wake, closed: r.closed}
	size := uint64(len(r.slots))
	if r.head > size {
		v.oldest = r.head - size
	}
	v.hasKF = r.hasKF && r.kf >= v.oldest && r.started
	if !r.started {
		v.head = 0
	}
	return v
}

func (r *ring) rate() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.bitrate
}

// frames lists the distinct RTP timestamps of [from, to) in order, for the
// fast-start catch-up.
func (r *ring) frames(from, to uint64) []uint32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []uint32
	for e := from; e < to; e++ {
		s := r.slots[e&r.mask]
		if s.ext != e+1 {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != s.ts {
			out = append(out, s.ts)
		}
	}
	return out
}

// ---- keyframe detection: is this packet part of a keyframe? ----

// vp8Keyframe reads the VP8 payload descriptor (RFC 7741 §4.2) and the
// frame tag's inverse key-frame bit (RFC 6386 §9.1) on a partition start.
func vp8Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	i := 1
	if b0&0x80 != 0 { // X: extension byte follows
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID/KEYIDX
			i++
		}
	}
	start := b0&0x10 != 0 && b0&0x07 == 0 // S=1, partition 0
	return start && len(p) > i && p[i]&0x01 == 0
}

// vp9Keyframe: the payload descriptor's P bit (inter-picture predicted) is
// clear and B (start of frame) is set (draft-ietf-payload-vp9 §4.2).
func vp9Keyframe(p []byte) bool {
	return len(p) > 0 && p[0]&0x40 == 0 && p[0]&0x08 != 0
}

// h264Keyframe finds an SPS or IDR slice in a single NAL, a STAP-A or the
// start of an FU-A (RFC 6184).
func h264Keyframe(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; {
	case t == 5 || t == 7:
		return true
	case t == 24: // STAP-A: 16-bit size, NAL, ...
		for i := 1; i+2 < len(p); {
			n := int(p[i])<<8 | int(p[i+1])
			i += 2
			if i >= len(p) {
				break
			}
			if nt := p[i] & 0x1f; nt == 5 || nt == 7 {
				return true
			}
			i += n
		}
	case t == 28: // FU-A: start bit and the fragmented NAL's type
		return len(p) > 1 && p[1]&0x80 != 0 && (p[1]&0x1f == 5 || p[1]&0x1f == 7)
	}
	return false
}
