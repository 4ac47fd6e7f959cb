package media

import (
	"encoding/binary"
	"testing"
	"time"
)

func TestVP8SourceShape(t *testing.T) {
	const fps = 30
	v := newVP8Source(1_500_000, fps, 2*time.Second, 1280, 720, 65530, 4294967000)
	if v.keyInterval != 60 {
		t.Fatalf("key interval %d frames, want 60", v.keyInterval)
	}
	now := time.Unix(1700000000, 0)
	var total int
	var prevSeq uint16
	var frames, keys int
	for n := range 3 * v.keyInterval {
		pkts, key := v.next(now, false)
		wantKey := n%v.keyInterval == 0
		if key != wantKey {
			t.Fatalf("frame %d: keyframe %v, want %v", n, key, wantKey)
		}
		frames++
		if key {
			keys++
		}
		wantTS := uint32(4294967000) + uint32(n*videoClockRate/fps) // wraps past 2^32
		for i, p := range pkts {
			if n > 0 || i > 0 {
				if p.SequenceNumber != prevSeq+1 {
					t.Fatalf("frame %d packet %d: seq %d after %d", n, i, p.SequenceNumber, prevSeq)
				}
			}
			prevSeq = p.SequenceNumber
			if p.Timestamp != wantTS {
				t.Fatalf("frame %d packet %d: timestamp %d, want %d", n, i, p.Timestamp, wantTS)
			}
			if p.Marker != (i == len(pkts)-1) {
				t.Fatalf("frame %d packet %d of %d: marker %v", n, i, len(pkts), p.Marker)
			}
			if size := 12 + len(p.Payload); size > maxRTPPacket-28 {
				t.Fatalf("frame %d packet %d: %d bytes leave no room for header extensions under %d", n, i, size, maxRTPPacket)
			}
			total += len(p.Payload)
			info, ok := parseVP8(p.Payload)
			if !ok {
				t.Fatalf("frame %d packet %d: not a VP8 payload", n, i)
			}
			if info.start != (i == 0) {
				t.Fatalf("frame %d packet %d: S=%v", n, i, info.start)
			}
			if info.keyframe != (key && i == 0) {
				t.Fatalf("frame %d packet %d: keyframe=%v", n, i, info.keyframe)
			}
			st, ok := readStamp(p.Payload[info.data:])
			if !ok || st.Frame != uint32(n) || st.SentNs != now.UnixNano() {
				t.Fatalf("frame %d packet %d: stamp %+v %v", n, i, st, ok)
			}
		}
		first := pkts[0].Payload
		if first[0] != 0x90 || first[1] != 0x80 || first[2]&0x80 == 0 {
			t.Fatalf("frame %d: descriptor % x", n, first[:4])
		}
		if pid := binary.BigEndian.Uint16(first[2:]) & 0x7fff; pid != uint16(n) {
			t.Fatalf("frame %d: picture ID %d", n, pid)
		}
		tag := first[vp8DescriptorLen:]
		if key {
			if tag[0]&1 != 0 || tag[3] != 0x9d || tag[4] != 0x01 || tag[5] != 0x2a {
				t.Fatalf("keyframe %d header % x", n, tag[:10])
			}
			if w, h := binary.LittleEndian.Uint16(tag[6:]), binary.LittleEndian.Uint16(tag[8:]); w != 1280 || h != 720 {
				t.Fatalf("keyframe %d: %dx%d", n, w, h)
			}
			if len(pkts) < 2 {
				t.Fatalf("keyframe %d fits one packet: it should be large", n)
			}
		} else if tag[0]&1 != 1 {
			t.Fatalf("interframe %d has P=0", n)
		}
		if tag[0]&0x10 == 0 {
			t.Fatalf("frame %d: show_frame=0", n)
		}
		firstPart := int(uint32(tag[0])|uint32(tag[1])<<8|uint32(tag[2])<<16) >> 5
		if firstPart <= 0 || firstPart > len(first) {
			t.Fatalf("frame %d: first partition size %d", n, firstPart)
		}
	}
	if keys != 3 {
		t.Fatalf("%d keyframes in %d frames", keys, frames)
	}
	bitrate := float64(total) * 8 / (float64(frames) / fps)
	if bitrate < 1_400_000 || bitrate > 1_600_000 {
		t.Fatalf("payload bitrate %.0f bit/s, want about 1.5 Mbit/s", bitrate)
	}

	// A forced keyframe comes at once and restarts the interval.
	if _, key := v.next(now, true); !key {
		t.Fatal("forced keyframe is not a keyframe")
	}
	if _, key := v.next(now, false); key {
		t.Fatal("the frame after a forced keyframe is a keyframe")
	}
}

func TestOpusSource(t *testing.T) {
	o := newOpusSource(48000, 10, 100)
	now := time.Unix(1700000000, 5)
	for n := range 5 {
		p := o.next(now)
		if len(p.Payload) != 120 || p.Payload[0] != opusTOC {
			t.Fatalf("packet %d: %d bytes, TOC %#x", n, len(p.Payload), p.Payload[0])
		}
		if p.SequenceNumber != uint16(10+n) || p.Timestamp != uint32(100+960*n) {
			t.Fatalf("packet %d: seq %d ts %d", n, p.SequenceNumber, p.Timestamp)
		}
		if st, ok := readStamp(p.Payload[1:]); !ok || st.Frame != uint32(n) || st.SentNs != now.UnixNano() {
			t.Fatalf("packet %d: stamp %+v", n, st)
		}
	}
}

func TestParseVP8(t *testing.T) {
	cases := []struct {
		name     string
		payload  []byte
		ok       bool
		start    bool
		keyframe bool
		data     int
	}{
		{"minimal descriptor, interframe", []byte{0x10, 0x01, 0, 0, 'x'}, true, true, false, 4},
		{"minimal descriptor, keyframe", []byte{0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a, 1, 0, 1, 0}, true, true, true, 11},
		{"keyframe without start code", []byte{0x10, 0x00, 0, 0, 1, 2, 3, 1, 0, 1, 0}, false, true, true, 11},
		{"7-bit picture ID, continuation", []byte{0x80, 0x80, 0x05, 'x'}, true, false, false, 3},
		{"picture ID, TL0PICIDX, TID", []byte{0x90, 0xe0, 0x81, 0x02, 7, 0x40, 0x01, 0, 0}, true, true, false, 9},
		{"start of partition 1 is not a frame start", []byte{0x11, 'x'}, true, false, false, 1},
		{"truncated", []byte{0x80}, false, false, false, 0},
		{"empty", nil, false, false, false, 0},
	}
	for _, c := range cases {
		info, ok := parseVP8(c.payload)
		if ok != c.ok {
			t.Errorf("%s: ok=%v", c.name, ok)
			continue
		}
		if ok && (info.start != c.start || info.keyframe != c.keyframe || info.data != c.data) {
			t.Errorf("%s: %+v", c.name, info)
		}
	}
}

func TestH264Keyframe(t *testing.T) {
	cases := []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"IDR slice", []byte{0x65, 1, 2}, true},
		{"non-IDR slice", []byte{0x41, 1, 2}, false},
		{"SPS", []byte{0x67, 1}, true},
		{"STAP-A with SPS and PPS", []byte{0x78, 0, 2, 0x67, 1, 0, 2, 0x68, 1}, true},
		{"STAP-A with SEI only", []byte{0x78, 0, 2, 0x06, 1}, false},
		{"STAP-A truncated", []byte{0x78, 0, 9, 0x67}, false},
		{"FU-A start of IDR", []byte{0x7c, 0x85, 1}, true},
		{"FU-A middle of IDR", []byte{0x7c, 0x05, 1}, false},
		{"FU-A start of non-IDR", []byte{0x5c, 0x81, 1}, false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		if got := h264Keyframe(c.payload); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestSeqTracker(t *testing.T) {
	type want struct{ expected, received, lost, dups, late, gaps int64 }
	cases := []struct {
		name string
		seqs []uint16
		want want
	}{
		{"in order", []uint16{10, 11, 12, 13}, want{4, 4, 0, 0, 0, 0}},
		{"one gap", []uint16{10, 11, 14, 15}, want{6, 4, 2, 0, 0, 1}},
		{"wrap-around in order", []uint16{65533, 65534, 65535, 0, 1, 2}, want{6, 6, 0, 0, 0, 0}},
		{"loss across the wrap", []uint16{65534, 65535, 2, 3}, want{6, 4, 2, 0, 0, 1}},
		{"reordered", []uint16{1, 3, 2, 4}, want{4, 4, 0, 0, 1, 1}},
		{"reordered across the wrap", []uint16{65535, 1, 0, 2}, want{4, 4, 0, 0, 1, 1}},
		{"retransmission fills a gap", []uint16{1, 2, 5, 6, 3, 4}, want{6, 6, 0, 0, 2, 1}},
		{"duplicates", []uint16{1, 2, 2, 3, 1}, want{3, 3, 0, 2, 0, 0}},
		{"first packet late", []uint16{5, 4, 6}, want{3, 3, 0, 0, 1, 0}},
		{"many wraps", nil, want{}},
	}
	// Three full cycles with every tenth packet lost.
	var long []uint16
	lost := int64(0)
	for i := range 3 * 65536 {
		if i%10 == 5 {
			lost++
			continue
		}
		long = append(long, uint16(i+100))
	}
	cases[len(cases)-1].seqs = long
	cases[len(cases)-1].want = want{3 * 65536, 3*65536 - lost, lost, 0, 0, lost}

	for _, c := range cases {
		var tr seqTracker
		for _, s := range c.seqs {
			tr.add(s)
		}
		got := want{tr.expected(), tr.received, tr.lost(), tr.dups, tr.late, tr.gaps}
		if got != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
