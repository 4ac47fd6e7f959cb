package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/Eyevinn/mp4ff/mp4"
)

// MediaMP4 is the media type of the H.264 recordings.
const MediaMP4 = "video/mp4"

// Track timescales: the RTP clocks of H.264 and Opus.
const (
	videoScale = 90000
	audioScale = 48000
)

// Fragment lengths: a fragment starts at each video keyframe (one every
// KeyframeEvery) once the open one holds fragMin, and at fragMax whatever
// comes; a kill loses at most the open fragment.
const (
	fragMin = 500  // ms
	fragMax = 2000 // ms
)

// mp4File is a fragmented MP4 file being written with mp4ff: the init
// segment (ftyp, moov with avcC and dOps) first, then IndexSpace bytes kept
// for the index, then a moof and its mdat per fragment, written whole as
// each fragment closes. A sample's duration
// is the time to the next one of its track, so each track holds its newest
// sample back until the next comes (or the file closes).
type mp4File struct {
	f    *os.File
	log  *slog.Logger
	head []byte // ftyp and moov as written at offset 0: durations are patched in on close
	// tracks by the recording's track number (codec.track).
	tracks map[uint64]*mp4Track
	order  []uint64
	seq    uint32
	endMS  int64 // end of the last sample written
	frags  []fragInfo
	failed bool // a write failed: the file ends at its last whole fragment
}

type mp4Track struct {
	id      uint32 // in the file
	scale   int64
	video   bool
	held    *mp4.FullSample // newest sample, its duration not known yet
	lastDur uint32
	ready   []mp4.FullSample // samples of the open fragment
}

// opusEntry is the Opus sample entry (Encapsulation of Opus in ISO BMFF,
// §4.3): its dOps box says what WebM's OpusHead says, stereo at 48 kHz.
func opusEntry() *mp4.AudioSampleEntryBox {
	dops := []byte{0, 2, 0, 0, 0, 0, 0xbb, 0x80, 0, 0, 0} // version, channels, pre-skip, rate, gain, mapping family
	return mp4.CreateAudioSampleEntryBox("Opus", 2, 16, audioScale, mp4.CreateUnknownBox("dOps", uint64(8+len(dops)), dops))
}

func createMP4(path string, cs map[string]codec, sps, pps []byte, log *slog.Logger) (*mp4File, error) {
	init := mp4.CreateEmptyInit()
	init.Moov.Mvhd.Timescale = 1000
	init.Moov.Mvhd.Version = 1
	// mehd carries the duration for players reading a fragmented file;
	// version 1 (64 bits) so that close can write any length in place.
	init.Moov.Mvex.AddChild(&mp4.MehdBox{Version: 1})
	w := &mp4File{log: log, tracks: map[uint64]*mp4Track{}, seq: 1}
	for _, kind := range []string{"video", "audio"} {
		c, ok := cs[kind]
		if !ok {
			continue
		}
		t := &mp4Track{scale: audioScale, lastDur: 20 * audioScale / 1000}
		if kind == "video" {
			t.scale, t.video, t.lastDur = videoScale, true, videoScale/30
		}
		init.AddEmptyTrack(uint32(t.scale), kind, "und")
		trak := init.Moov.Traks[len(init.Moov.Traks)-1]
		t.id = trak.Tkhd.TrackID
		if kind == "video" {
			if err := trak.SetAVCDescriptor("avc1", [][]byte{sps}, [][]byte{pps}, true); err != nil {
				return nil, fmt.Errorf("record: avcC: %w", err)
			}
		} else {
			trak.Mdia.Minf.Stbl.Stsd.AddChild(opusEntry())
		}
		w.tracks[c.track] = t
		w.order = append(w.order, c.track)
	}
	if len(w.order) == 0 {
		return nil, errors.New("record: no track to write")
	}
	var head bytes.Buffer
	if err := init.Encode(&head); err != nil {
		return nil, fmt.Errorf("record: mp4 init: %w", err)
	}
	w.head = head.Bytes()
	f, err := createLocked(path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(append(w.head, freeBox(IndexSpace)...)); err != nil {
		f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("record: mp4 init: %w", err)
	}
	w.f = f
	return w, nil
}

// write takes a frame at atMS (in order for its track) and closes the open
// fragment when a keyframe or fragMax says so.
func (w *mp4File) write(track uint64, key bool, atMS int64, data []byte) {
	t := w.tracks[track]
	if t == nil || w.failed {
		return // a failed file takes nothing more: nothing piles up in memory
	}
	dt := uint64(atMS * t.scale / 1000)
	if t.held != nil {
		t.lastDur = uint32(dt - t.held.DecodeTime)
		t.held.Dur = t.lastDur
		t.ready = append(t.ready, *t.held)
	}
	flags := mp4.NonSyncSampleFlags
	if key || !t.video {
		flags = mp4.SyncSampleFlags
	}
	t.held = &mp4.FullSample{Sample: mp4.Sample{Flags: flags, Size: uint32(len(data))}, DecodeTime: dt, Data: data}
	if start, ok := w.openSince(); ok && (t.video && key && atMS-start >= fragMin || atMS-start >= fragMax) {
		w.flush()
	}
}

// openSince returns the start of the open fragment, in ms.
func (w *mp4File) openSince() (int64, bool) {
	var start int64
	ok := false
	for _, t := range w.tracks {
		if len(t.ready) == 0 {
			continue
		}
		ms := int64(t.ready[0].DecodeTime) * 1000 / t.scale
		if !ok || ms < start {
			start, ok = ms, true
		}
	}
	return start, ok
}

// flush writes the open fragment: one moof and its mdat, in one write.
func (w *mp4File) flush() {
	var ids []uint32
	for _, n := range w.order {
		if t := w.tracks[n]; len(t.ready) > 0 {
			ids = append(ids, t.id)
		}
	}
	if len(ids) == 0 || w.failed {
		return
	}
	frag, err := mp4.CreateMultiTrackFragment(w.seq, ids)
	info := fragInfo{spans: map[uint32]span{}}
	if err == nil {
		for _, n := range w.order {
			t := w.tracks[n]
			if len(t.ready) == 0 {
				continue
			}
			sp := span{start: t.ready[0].DecodeTime}
			if t.video {
				info.key = mp4.IsSyncSampleFlags(t.ready[0].Flags)
			}
			for _, s := range t.ready {
				if err = frag.AddFullSampleToTrack(s, t.id); err != nil {
					break
				}
				sp.dur += uint64(s.Dur)
				w.endMS = max(w.endMS, int64(s.DecodeTime+uint64(s.Dur))*1000/t.scale)
			}
			info.spans[t.id] = sp
			t.ready = t.ready[:0]
		}
	}
	if err == nil {
		// Durations, sizes and flags common to a track's samples go once in
		// its tfhd: a third of the moof's bytes.
		for _, traf := range frag.Moof.Trafs {
			if err = traf.OptimizeTfhdTrun(); err != nil {
				break
			}
		}
	}
	var b bytes.Buffer
	if err == nil {
		err = frag.Encode(&b)
	}
	if err == nil {
		_, err = w.f.Write(b.Bytes())
	}
	if err != nil {
		// What is on disk ends at a whole fragment or is cut mid-way, which
		// Repair cuts back; nothing more goes in.
		w.failed = true
		w.log.Error("record: mp4 write; the recording stops here", "path", w.f.Name(), "err", err)
		return
	}
	info.size = int64(b.Len())
	w.frags = append(w.frags, info)
	w.seq++
}

// close writes what the tracks hold (the newest sample of each lasting as
// long as the one before it) and the duration, and returns the file's size.
func (w *mp4File) close() (int64, error) {
	for _, t := range w.tracks {
		if t.held != nil {
			t.held.Dur = t.lastDur
			t.ready = append(t.ready, *t.held)
			t.held = nil
		}
	}
	w.flush()
	var tracks []indexTrack
	for _, n := range w.order {
		t := w.tracks[n]
		tracks = append(tracks, indexTrack{id: t.id, scale: uint32(t.scale), video: t.video})
	}
	err := writeIndex(w.f, int64(len(w.head)), IndexSpace, tracks, w.frags)
	if err == nil {
		err = patchDuration(w.f, w.head, w.endMS)
	}
	if err == nil {
		err = w.f.Sync()
	}
	st, serr := w.f.Stat()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("record: mp4 close: %w", err)
	}
	return st.Size(), nil
}

// findBox returns the offset in b of the box at path (each name a child of
// the one before), or -1.
func findBox(b []byte, path ...string) int {
	off := 0
	for depth, name := range path {
		end := len(b)
		for {
			if off+8 > end {
				return -1
			}
			size := int(binary.BigEndian.Uint32(b[off:]))
			if size < 8 || off+size > end {
				return -1
			}
			if string(b[off+4:off+8]) == name {
				if depth == len(path)-1 {
					return off
				}
				end = off + size
				off += 8
				break
			}
			off += size
		}
		b = b[:end]
	}
	return -1
}

// patchDuration writes ms into the mvhd and mehd of the init segment head
// (as it is at the file's offset 0), where players read a fragmented
// file's length.
func patchDuration(f *os.File, head []byte, ms int64) error {
	mvhd := findBox(head, "moov", "mvhd")
	if mvhd < 0 || len(head) < mvhd+40 {
		return errors.New("no mvhd")
	}
	v1 := head[mvhd+8] == 1
	scaleAt, durAt := mvhd+20, mvhd+24
	if v1 {
		scaleAt, durAt = mvhd+28, mvhd+32
	}
	d := uint64(ms * int64(binary.BigEndian.Uint32(head[scaleAt:])) / 1000)
	var b [8]byte
	n := 8
	binary.BigEndian.PutUint64(b[:], d)
	if !v1 {
		n = 4
		binary.BigEndian.PutUint32(b[:], uint32(d))
	}
	if _, err := f.WriteAt(b[:n], int64(durAt)); err != nil {
		return err
	}
	mehd := findBox(head, "moov", "mvex", "mehd")
	if mehd < 0 || len(head) < mehd+20 || head[mehd+8] != 1 {
		return nil // no room for a duration: players count the fragments
	}
	binary.BigEndian.PutUint64(b[:], d)
	_, err := f.WriteAt(b[:], int64(mehd+12))
	return err
}
