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
// fragment (a moof and all of its mdat) and writes the duration of what is
// left into the header. It returns the duration in ms and the new size.
func repairMP4(f *os.File) (int64, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	size := st.Size()
	var (
		head   []byte               // ftyp and moov
		scales = map[uint32]int64{} // timescale by track ID
		end    int64                // end of the last whole box kept
		moof   []byte               // a moof waiting for its mdat
		endMS  int64
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
				if err := trackScales(b, scales); err != nil {
					return 0, 0, err
				}
			}
			end = off + n
		case "moof":
			moof = make([]byte, n)
			if _, err := f.ReadAt(moof, off); err != nil {
				return 0, 0, err
			}
		case "mdat":
			if moof != nil {
				ms, err := fragmentEnd(moof, off-int64(len(moof)), scales)
				if err != nil {
					return 0, 0, err
				}
				endMS = max(endMS, ms)
				moof = nil
			}
			end = off + n
		default:
			end = off + n
		}
		off += n
	}
	if findBox(head, "moov") < 0 {
		return 0, 0, errors.New("no moov: nothing playable was written")
	}
	if err := f.Truncate(end); err != nil {
		return 0, 0, err
	}
	if err := patchDuration(f, head, endMS); err != nil {
		return 0, 0, err
	}
	return endMS, end, nil
}

// trackScales reads each track's timescale from a moov box.
func trackScales(moov []byte, scales map[uint32]int64) error {
	b, err := mp4.DecodeBox(0, bytes.NewReader(moov))
	if err != nil {
		return fmt.Errorf("moov: %w", err)
	}
	m, ok := b.(*mp4.MoovBox)
	if !ok {
		return errors.New("moov: not a moov box")
	}
	for _, t := range m.Traks {
		scales[t.Tkhd.TrackID] = int64(t.Mdia.Mdhd.Timescale)
	}
	return nil
}

// fragmentEnd returns the end, in ms, of the last sample of a moof's tracks.
func fragmentEnd(moof []byte, at int64, scales map[uint32]int64) (int64, error) {
	b, err := mp4.DecodeBox(uint64(at), bytes.NewReader(moof))
	if err != nil {
		return 0, fmt.Errorf("moof: %w", err)
	}
	m, ok := b.(*mp4.MoofBox)
	if !ok {
		return 0, errors.New("moof: not a moof box")
	}
	var endMS int64
	for _, traf := range m.Trafs {
		scale := scales[traf.Tfhd.TrackID]
		if scale == 0 || traf.Tfdt == nil {
			continue
		}
		t := traf.Tfdt.BaseMediaDecodeTime()
		for _, trun := range traf.Truns {
			for _, s := range trun.Samples {
				t += uint64(s.Dur)
			}
		}
		endMS = max(endMS, int64(t)*1000/scale)
	}
	return endMS, nil
}
