package stream

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestRingOrdersBySequenceAcrossWrapAndReordering(t *testing.T) {
	r := newRing("video", 64, vp8Keyframe)
	now := time.Now()
	put := func(seq uint16, ts uint32, key bool) {
		payload := []byte{0x10, 0x01, 0, 0}
		if key {
			payload[1] = 0x00
		}
		r.put(&rtp.Header{SequenceNumber: seq, Timestamp: ts}, payload, now)
	}
	// Sequence numbers wrap from 65534 to 1; 65535 arrives late.
	put(65533, 100, true)
	put(65534, 100, false)
	put(0, 200, false)
	put(1, 200, false)
	put(65535, 100, false)
	v := r.view()
	base := v.head - 5
	var got []uint32
	for e := base; e < v.head; e++ {
		s, ok := r.get(e)
		if !ok {
			t.Fatalf("packet %d missing", e-base)
		}
		got = append(got, s.ts)
	}
	want := []uint32{100, 100, 100, 200, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("timestamps in sequence order: %v, want %v", got, want)
		}
	}
	if !v.hasKF || v.kf != base {
		t.Fatalf("keyframe at %d (has %v), want %d", v.kf, v.hasKF, base)
	}
	if frames := r.frames(base, v.head); len(frames) != 2 {
		t.Fatalf("frames %v, want 2", frames)
	}
	// A packet older than the ring holds is dropped, not stored over a newer one.
	for i := range 100 {
		put(uint16(2+i), 300+uint32(i), false)
	}
	put(65533, 100, true)
	if _, ok := r.get(base); ok {
		t.Fatal("a packet older than the ring was stored")
	}
}

// An H.264 keyframe starts at the SPS packet that precedes the IDR slice
// in the same frame, so a viewer starting there can decode it.
func TestRingKeyframeStartsAtFrameStart(t *testing.T) {
	r := newRing("video", 64, h264Keyframe)
	now := time.Now()
	r.put(&rtp.Header{SequenceNumber: 10, Timestamp: 1}, []byte{0x41, 1}, now)    // non-IDR slice
	r.put(&rtp.Header{SequenceNumber: 11, Timestamp: 2}, []byte{0x06, 1}, now)    // SEI opens the frame
	r.put(&rtp.Header{SequenceNumber: 12, Timestamp: 2}, []byte{0x7c, 0x85}, now) // FU-A start of an IDR
	v := r.view()
	if !v.hasKF || v.kf != v.head-2 {
		t.Fatalf("keyframe at %d, want the frame's first packet %d", v.kf, v.head-2)
	}
}

func TestKeyframeDetectors(t *testing.T) {
	for _, c := range []struct {
		name string
		fn   func([]byte) bool
		p    []byte
		want bool
	}{
		{"vp8 key", vp8Keyframe, []byte{0x10, 0x00}, true},
		{"vp8 delta", vp8Keyframe, []byte{0x10, 0x01}, false},
		{"vp8 continuation", vp8Keyframe, []byte{0x00, 0x00}, false},
		{"vp8 key, 15-bit picture id", vp8Keyframe, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"vp8 key, picture id + tl0 + tid", vp8Keyframe, []byte{0x90, 0xe0, 0x05, 0x01, 0x20, 0x00}, true},
		{"vp8 truncated", vp8Keyframe, []byte{0x90}, false},
		{"h264 IDR", h264Keyframe, []byte{0x65}, true},
		{"h264 SPS", h264Keyframe, []byte{0x67}, true},
		{"h264 P slice", h264Keyframe, []byte{0x41}, false},
		{"h264 STAP-A with SPS", h264Keyframe, []byte{0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce}, true},
		{"h264 STAP-A without", h264Keyframe, []byte{0x78, 0x00, 0x02, 0x06, 0x05}, false},
		{"h264 STAP-A truncated", h264Keyframe, []byte{0x78, 0x00}, false},
		{"h264 FU-A IDR start", h264Keyframe, []byte{0x7c, 0x85}, true},
		{"h264 FU-A IDR middle", h264Keyframe, []byte{0x7c, 0x05}, false},
		{"vp9 key start", vp9Keyframe, []byte{0x08}, true},
		{"vp9 inter", vp9Keyframe, []byte{0x48}, false},
		{"empty", vp8Keyframe, nil, false},
	} {
		if got := c.fn(c.p); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
