package record

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

// checkIndex reads an MP4's sidx boxes: each covers every byte of the
// fragments, from the end of the room to the end of the file, and lasts
// want (its track's samples, to within a frame).
func checkIndex(t *testing.T, path string, want time.Duration) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		if size < 8 || off+size > len(b) {
			t.Fatalf("a box of %d bytes at %d in a file of %d", size, off, len(b))
		}
		if string(b[off+4:off+8]) == "sidx" {
			box, err := mp4.DecodeBox(uint64(off), bytes.NewReader(b[off:off+size]))
			if err != nil {
				t.Fatal(err)
			}
			sx := box.(*mp4.SidxBox)
			var bytesIn int64
			var dur uint64
			for _, r := range sx.SidxRefs {
				bytesIn += int64(r.ReferencedSize)
				dur += uint64(r.SubSegmentDuration)
			}
			first := int64(off+size) + int64(sx.FirstOffset)
			if first+bytesIn != int64(len(b)) || string(b[first+4:first+8]) != "moof" {
				t.Errorf("track %d: the index covers %d bytes from %d, the file has %d", sx.ReferenceID, bytesIn, first, len(b))
			}
			d := time.Duration(sx.EarliestPresentationTime+dur) * time.Second / time.Duration(sx.Timescale)
			if !near(d, want, 100*time.Millisecond) {
				t.Errorf("track %d: the index ends at %v, want %v", sx.ReferenceID, d, want)
			}
			n++
		}
		off += size
	}
	if n != 2 {
		t.Errorf("%d sidx boxes, want one per track", n)
	}
}

// An index that does not fit its room covers the same bytes and time with
// fewer entries.
func TestIndexThinsOutToFitItsRoom(t *testing.T) {
	tracks := []indexTrack{{id: 1, scale: 90000, video: true}, {id: 2, scale: 48000}}
	var frags []fragInfo
	for i := range 101 {
		frags = append(frags, fragInfo{size: 1000 + int64(i), key: i%2 == 0, spans: map[uint32]span{
			1: {start: uint64(i) * 90000, dur: 90000}, 2: {start: uint64(i) * 48000, dur: 48000}}})
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "index"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const room = 1000 // 101 entries would take 2 × (44 + 12 × 101) bytes
	if err := writeIndex(f, 0, room, tracks, frags); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.Name())
	if len(b) != room {
		t.Fatalf("wrote %d bytes, the room is %d", len(b), room)
	}
	var total int64
	for _, fr := range frags {
		total += fr.size
	}
	off := 0
	for _, tr := range tracks {
		box, err := mp4.DecodeBox(uint64(off), bytes.NewReader(b[off:]))
		if err != nil {
			t.Fatal(err)
		}
		sx := box.(*mp4.SidxBox)
		var size, dur uint64
		for _, r := range sx.SidxRefs {
			size += uint64(r.ReferencedSize)
			dur += uint64(r.SubSegmentDuration)
		}
		if sx.ReferenceID != tr.id || len(sx.SidxRefs) >= len(frags) || size != uint64(total) || dur != 101*uint64(tr.scale) {
			t.Errorf("track %d: %d entries, %d bytes, %d of time", sx.ReferenceID, len(sx.SidxRefs), size, dur)
		}
		if int(sx.FirstOffset)+off+int(sx.Size()) != room {
			t.Errorf("track %d: first offset %d does not reach the room's end", tr.id, sx.FirstOffset)
		}
		off += int(sx.Size())
	}
	if string(b[off+4:off+8]) != "free" {
		t.Errorf("the rest of the room is %q", b[off+4:off+8])
	}
}
