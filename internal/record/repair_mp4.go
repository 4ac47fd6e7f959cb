package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"os"

	"github.com/Eyevinn/mp4ff/mp4"
)

// isMP4 reports whether f starts with an ftyp box (the MP4 recordings do).
func isMP4(f *os.File) bool {
	var b [8]byte
	_, err := f.ReadAt(b[:], 0)
	return err == nil && string(b[4:]) == "ftyp"
}

// repairMP4 cuts a fragmented MP4 whose writer died back to its last whole
// fragment (a moof and all of its mdat), and writes the index of what is
// left and its duration. It returns the duration in ms and the new size.
func repairMP4(f *os.File) (int64, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := st.Size()
	var (
		head      []byte // ftyp and moov
		tracks    []indexTrack
		end       int64 // end of the last whole box kept
		roomAt    int64 // the index's room: from the moov to the first moof
		room      int64
		moof      []byte // a moof waiting for its mdat
		frags     []fragInfo
		endMS     int64
		firstMoof = true
	)
	for off := int64(0); off+8 <= size; {
		var h [16]byte
		if _, err := f.ReadAt(h[:8], off); err != nil {
			return 0, 0, err
		}
		n, typ, hdr := int64(binary.BigEndian.Uint32(h[:])), string(h[4:8]), int64(8)
		if n == 1 { // a 64-bit size
			if _, err := f.ReadAt(h[8:16], off+8); err != nil {
				break
			}
			n, hdr = int64(binary.BigEndian.Uint64(h[8:])), 16
		}
		if n < hdr || off+n > size {
			break // the box the writer was in the middle of
		}
		switch typ {
		case "ftyp", "moov":
			b := make([]byte, n)
			if _, err := f.ReadAt(b, off); err != nil {
				return 0, 0, err
			}
			head = append(head, b...)
			if typ == "moov" {
				if tracks, err = tracksOf(b); err != nil {
					return 0, 0, err
				}
				roomAt = off + n
			}
			end = off + n
		case "moof":
			if firstMoof {
				room, firstMoof = off-roomAt, false
			}
			moof = make([]byte, n)
			if _, err := f.ReadAt(moof, off); err != nil {
				return 0, 0, err
			}
		case "mdat":
			if moof != nil {
				info, ms, err := fragmentOf(moof, off-int64(len(moof)), tracks)
				if err != nil {
					return 0, 0, err
				}
				info.size = int64(len(moof)) + n
				frags = append(frags, info)
				endMS = max(endMS, ms)
				moof = nil
			}
			end = off + n
		default:
			end = off + n
		}
		off += n
	}
	if tracks == nil {
		return 0, 0, errors.New("no moov: nothing playable was written")
	}
	if firstMoof {
		room = end - roomAt
	}
	if err := f.Truncate(end); err != nil {
		return 0, 0, err
	}
	if room > 0 {
		if err := writeIndex(f, roomAt, room, tracks, frags); err != nil {
			return 0, 0, err
		}
	}
	if err := patchDuration(f, head, endMS); err != nil {
		return 0, 0, err
	}
	return endMS, end, nil
}

// decodeMoov decodes a moov box.
func decodeMoov(moov []byte) (*mp4.MoovBox, error) {
	b, err := mp4.DecodeBox(0, bytes.NewReader(moov))
	if err != nil {
		return nil, fmt.Errorf("moov: %w", err)
	}
	m, ok := b.(*mp4.MoovBox)
	if !ok {
		return nil, errors.New("moov: not a moov box")
	}
	return m, nil
}

// tracksOf reads a moov box's tracks.
func tracksOf(moov []byte) ([]indexTrack, error) {
	m, err := decodeMoov(moov)
	if err != nil {
		return nil, err
	}
	var ts []indexTrack
	for _, t := range m.Traks {
		ts = append(ts, indexTrack{id: t.Tkhd.TrackID, scale: t.Mdia.Mdhd.Timescale, video: t.Mdia.Hdlr.HandlerType == "vide"})
	}
	return ts, nil
}

// fragmentOf reads a moof: each track's span, whether its video starts with
// a keyframe, and the end of its last sample in ms.
func fragmentOf(moof []byte, at int64, tracks []indexTrack) (fragInfo, int64, error) {
	info := fragInfo{spans: map[uint32]span{}}
	b, err := mp4.DecodeBox(uint64(at), bytes.NewReader(moof))
	if err != nil {
		return info, 0, fmt.Errorf("moof: %w", err)
	}
	m, ok := b.(*mp4.MoofBox)
	if !ok {
		return info, 0, errors.New("moof: not a moof box")
	}
	var endMS int64
	for _, traf := range m.Trafs {
		var tr *indexTrack
		for i := range tracks {
			if tracks[i].id == traf.Tfhd.TrackID {
				tr = &tracks[i]
			}
		}
		if tr == nil || tr.scale == 0 || traf.Tfdt == nil {
			continue
		}
		sp := span{start: traf.Tfdt.BaseMediaDecodeTime()}
		for i, trun := range traf.Truns {
			// The writer keeps durations and flags common to a track's
			// samples in the tfhd.
			trun.AddSampleDefaultValues(traf.Tfhd, nil)
			if i == 0 && tr.video && len(trun.Samples) > 0 {
				info.key = mp4.IsSyncSampleFlags(trun.Samples[0].Flags)
			}
			for _, s := range trun.Samples {
				sp.dur += uint64(s.Dur)
			}
		}
		info.spans[tr.id] = sp
		endMS = max(endMS, int64(sp.start+sp.dur)*1000/int64(tr.scale))
	}
	return info, endMS, nil
}
