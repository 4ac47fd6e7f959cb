package record

import (
	"bytes"
	"fmt"
	"os"

	"github.com/Eyevinn/mp4ff/mp4"
)

// IndexSpace is the room kept after an MP4's init segment for its segment
// indexes (one sidx per track), written when the file is finished: 12
// bytes a fragment and track, so hours of show; adjacent fragments share
// an entry when they do not fit. Chromium reads a fragmented file's length
// and seeks it by these, not by the mehd.
const IndexSpace = 256 << 10

// fragInfo is what the index says of one fragment (a moof and its mdat).
type fragInfo struct {
	size  int64
	key   bool            // its video starts with a keyframe
	spans map[uint32]span // by track ID
}

// span is a track's time in a fragment, in the track's timescale.
type span struct{ start, dur uint64 }

// indexTrack is a track the index covers.
type indexTrack struct {
	id    uint32
	scale uint32
	video bool
}

// freeBox returns a free box of n bytes (n >= 8).
func freeBox(n int64) []byte {
	var b bytes.Buffer
	_ = mp4.NewFreeBox(make([]byte, n-8)).Encode(&b)
	return b.Bytes()
}

// writeIndex writes, at the start of the room (at, room bytes) kept after
// the init segment, a sidx per track over frags, and a free box for the
// rest of the room.
func writeIndex(f *os.File, at, room int64, tracks []indexTrack, frags []fragInfo) error {
	for {
		b, err := encodeIndex(tracks, frags, room)
		if err != nil {
			return err
		}
		if b != nil {
			_, err = f.WriteAt(b, at)
			return err
		}
		if len(frags) < 2 {
			return fmt.Errorf("no room for the index (%d bytes)", room)
		}
		frags = mergePairs(frags)
	}
}

// encodeIndex encodes the sidx boxes and the free box filling room, or nil
// when they do not fit.
func encodeIndex(tracks []indexTrack, frags []fragInfo, room int64) ([]byte, error) {
	var boxes []*mp4.SidxBox
	for _, t := range tracks {
		sx := &mp4.SidxBox{Version: 1, ReferenceID: t.id, Timescale: t.scale}
		first := true
		for i, fr := range frags {
			sp, ok := fr.spans[t.id]
			if ok && first {
				sx.EarliestPresentationTime, first = sp.start, false
			}
			// Subsegments follow each other in time: a gap before the
			// track's next fragment (two files joined across a node's
			// restart) belongs to this entry, so the index ends where the
			// media does.
			if ok {
				for _, next := range frags[i+1:] {
					if n, has := next.spans[t.id]; has {
						if n.start > sp.start+sp.dur {
							sp.dur = n.start - sp.start
						}
						break
					}
				}
			}
			sap := uint8(1)
			if t.video && !fr.key {
				sap = 0
			}
			ref := mp4.SidxRef{ReferencedSize: uint32(fr.size), SubSegmentDuration: uint32(sp.dur), StartsWithSAP: sap}
			if sap == 1 {
				ref.SAPType = 1
			}
			sx.SidxRefs = append(sx.SidxRefs, ref)
		}
		if !first {
			boxes = append(boxes, sx)
		}
	}
	var total int64
	for _, sx := range boxes {
		total += int64(sx.Size())
	}
	if total+8 > room {
		return nil, nil
	}
	// Each sidx's first_offset skips the ones after it and the free box:
	// the fragments start where the room ends.
	var b bytes.Buffer
	rest := room
	for _, sx := range boxes {
		rest -= int64(sx.Size())
		sx.FirstOffset = uint64(rest)
		if err := sx.Encode(&b); err != nil {
			return nil, fmt.Errorf("sidx: %w", err)
		}
	}
	b.Write(freeBox(rest))
	return b.Bytes(), nil
}

// mergePairs joins fragments two by two: an index entry may cover several.
func mergePairs(frags []fragInfo) []fragInfo {
	out := make([]fragInfo, 0, (len(frags)+1)/2)
	for i := 0; i < len(frags); i += 2 {
		m := frags[i]
		if i+1 < len(frags) {
			n := frags[i+1]
			spans := map[uint32]span{}
			for id, sp := range m.spans {
				spans[id] = sp
			}
			for id, sp := range n.spans {
				if s, ok := spans[id]; ok {
					s.dur = sp.start + sp.dur - s.start
					spans[id] = s
				} else {
					spans[id] = sp
				}
			}
			m = fragInfo{size: m.size + n.size, key: m.key, spans: spans}
		}
		out = append(out, m)
	}
	return out
}
