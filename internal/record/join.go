package record

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// ErrIncompatible is JoinFiles' answer for parts that cannot be one file:
// another container, or tracks of another codec (a host who came back
// after a restart with another camera codec).
var ErrIncompatible = errors.New("record: the recordings cannot be joined")

// JoinPart is one file to join, and where its time 0 falls in the joined
// file (its start less the first part's, in ms).
type JoinPart struct {
	Path     string
	OffsetMS int64
}

// JoinFiles writes to out (created, not there before) the finished files
// parts one after the other, each at its offset: the first part whole,
// then the media of each other part with its timestamps moved by its
// offset (no decoding: WebM clusters and MP4 fragments are copied with new
// times). The time between two parts (a node's restart) is a gap, as a
// publisher's reconnect is. The index (WebM Cues, MP4 sidx) and the
// duration cover the whole. It returns the joined file's duration and
// size. ErrIncompatible: the parts cannot be one file (out is removed).
// The parts are left as they are.
func JoinFiles(out string, parts []JoinPart) (time.Duration, int64, error) {
	if len(parts) == 0 {
		return 0, 0, errors.New("record: join: no file")
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o640)
	if err != nil {
		return 0, 0, fmt.Errorf("record: join: %w", err)
	}
	d, size, err := joinTo(f, parts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out)
		return 0, 0, err
	}
	return d, size, nil
}

// joinTo writes the joined parts to f (empty, at its start), synced, and
// returns its duration and size.
func joinTo(f *os.File, parts []JoinPart) (time.Duration, int64, error) {
	ms, err := joinInto(f, parts)
	if err == nil {
		err = f.Sync()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			size = st.Size()
		}
	}
	if err != nil {
		if errors.Is(err, ErrIncompatible) {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("record: join %s: %w", f.Name(), err)
	}
	return time.Duration(ms) * time.Millisecond, size, nil
}

// JoinLocked is JoinFiles for a join that may be done again (its process
// died half-way) or by two processes at once: out may exist (what a dead
// join left is written over), and its lock is held from before due to
// after list. due reports whether the join is still to be made (false:
// out is left as it is, or removed if this call made it empty); list is
// told the joined file's duration and size, and a list that fails removes
// out. ErrBusy: another process holds out's lock (it is joining).
func JoinLocked(out string, parts []JoinPart, due func() (bool, error), list func(time.Duration, int64) error) error {
	if len(parts) == 0 {
		return errors.New("record: join: no file")
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("record: join: %w", err)
	}
	defer f.Close() // and the lock with it
	if err := lock(f); errors.Is(err, errLocked) {
		return ErrBusy
	} else if err != nil {
		return fmt.Errorf("record: join: lock %s: %w", out, err)
	}
	ok, err := due()
	if err != nil || !ok {
		// Another process joined and listed these parts (and a bucket's
		// store may have taken the file from the spool: this call made an
		// empty one, which goes).
		if st, serr := f.Stat(); serr == nil && st.Size() == 0 {
			_ = os.Remove(out)
		}
		return err
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("record: join: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("record: join: %w", err)
	}
	d, size, err := joinTo(f, parts)
	if err == nil {
		err = list(d, size)
	}
	if err != nil {
		_ = os.Remove(out)
		return err
	}
	return nil
}

func joinInto(out *os.File, parts []JoinPart) (int64, error) {
	first, err := os.Open(parts[0].Path)
	if err != nil {
		return 0, err
	}
	mp4File := isMP4(first)
	_, err = io.Copy(out, first)
	first.Close()
	if err != nil {
		return 0, err
	}
	for _, p := range parts[1:] {
		f, err := os.Open(p.Path)
		if err != nil {
			return 0, err
		}
		same := isMP4(f) == mp4File
		f.Close()
		if !same {
			return 0, fmt.Errorf("%w: WebM and MP4", ErrIncompatible)
		}
	}
	if mp4File {
		return joinMP4(out, parts[1:])
	}
	return joinWebM(out, parts[1:])
}

// --- WebM ---------------------------------------------------------------

// Matroska element IDs the join reads, besides the repair's.
const (
	idTracks     = 0x1654AE6B
	idTrackEntry = 0xAE
	idTrackNum   = 0xD7
	idCodecID    = 0x86
	idCues       = 0x1C53BB6B
	idVoid       = 0xEC
	idPrevSize   = 0xAB
)

// webmLayout is what joinWebM reads of a file: where its segment's data
// and the room for the cues are, its tracks, and its clusters.
type webmLayout struct {
	segData    int64
	roomAt     int64 // the Cues or Void element the writer kept for the cues; -1: none
	durationAt int64
	tracks     map[uint64]string // codec ID by track number
	clusters   []clusterMark
	lastMS     int64
}

type clusterMark struct {
	pos   int64 // offset in the file
	tc    int64 // ms
	track uint64
}

// maxElement bounds what the join reads into memory at once: a frame, an
// MP4 fragment, the header (a damaged size field must not exhaust memory).
const maxElement = 64 << 20

// element is one EBML element read whole (children of the clusters only
// hold frames: a few hundred kB at most).
type element struct {
	id   uint32
	pos  int64
	size int64
	unk  bool
}

// walkWebM reads a WebM file's elements in order, entering the Segment and
// its Clusters, and calls fn with each element inside a Cluster (with the
// cluster's timecode); it returns the layout.
func walkWebM(r io.Reader, fn func(e element, data []byte, clusterTC int64) error) (webmLayout, error) {
	l := webmLayout{roomAt: -1, tracks: map[uint64]string{}}
	cr := &countReader{r: bufio.NewReaderSize(r, 64<<10)}
	inSegment, inCluster := false, false
	var clusterTC int64
	// run: where the Cues and Void elements just before the first cluster
	// begin (the room kept for the cues, the cues written into it and a
	// Void over the rest); -1 after anything else.
	run := int64(-1)
	for {
		pos := cr.n
		id, err := readID(cr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return l, err
		}
		n, unk, err := readSize(cr)
		if err != nil {
			return l, err
		}
		e := element{id: id, pos: pos, size: n, unk: unk}
		switch id {
		case idSegment:
			inSegment, l.segData = true, cr.n
			continue
		case idCluster:
			// Of unknown size (a live writer's) or not, its children follow.
			if len(l.clusters) == 0 {
				l.roomAt = run
			}
			inCluster, clusterTC = true, 0
			l.clusters = append(l.clusters, clusterMark{pos: pos})
			continue
		case idSeekHead, idInfo, idTracks, idCues:
			inCluster = false
		}
		if unk {
			return l, fmt.Errorf("element %x of unknown size", id)
		}
		if n > maxElement {
			return l, fmt.Errorf("element %x of %d bytes", id, n)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(cr, data); err != nil {
			return l, fmt.Errorf("cut short: %w", err)
		}
		switch {
		case !inSegment:
		case inCluster:
			c := &l.clusters[len(l.clusters)-1]
			switch id {
			case idTimecode:
				clusterTC = int64(beUint(data))
				c.tc = clusterTC
			case idSimpleBlock:
				if tc, ok := blockTimecode(data); ok {
					l.lastMS = max(l.lastMS, clusterTC+int64(tc))
					if c.track == 0 {
						c.track = uint64(data[0] & 0x7f) // our track numbers fit in one byte
					}
				}
			}
			if err := fn(e, data, clusterTC); err != nil {
				return l, err
			}
		case id == idInfo:
			if at := findChild(data, idDuration, 8); at >= 0 {
				l.durationAt = cr.n - n + int64(at)
			}
		case id == idTracks:
			if err := readTracks(data, l.tracks); err != nil {
				return l, err
			}
		}
		if inSegment && !inCluster {
			if id != idCues && id != idVoid {
				run = -1
			} else if run < 0 {
				run = pos
			}
		}
	}
	if !inSegment {
		return l, errors.New("not a WebM file")
	}
	return l, nil
}

const idSeekHead = 0x114D9B74

// readTracks reads the codec ID of each track of a Tracks element's data.
func readTracks(b []byte, into map[uint64]string) error {
	return eachChild(b, func(id uint32, d []byte) error {
		if id != idTrackEntry {
			return nil
		}
		var num uint64
		var codec string
		err := eachChild(d, func(id uint32, v []byte) error {
			switch id {
			case idTrackNum:
				num = beUint(v)
			case idCodecID:
				codec = string(bytes.TrimRight(v, "\x00"))
			}
			return nil
		})
		into[num] = codec
		return err
	})
}

// eachChild calls fn with each child element of b.
func eachChild(b []byte, fn func(id uint32, data []byte) error) error {
	r := &countReader{r: bufioBytes(b)}
	for r.n < int64(len(b)) {
		id, err := readID(r)
		if err != nil {
			return err
		}
		n, unk, err := readSize(r)
		if err != nil || unk || r.n+n > int64(len(b)) {
			return errors.New("bad element")
		}
		if err := fn(id, b[r.n:r.n+n]); err != nil {
			return err
		}
		if _, err := io.CopyN(io.Discard, r, n); err != nil {
			return err
		}
	}
	return nil
}

// putElement writes an EBML element: its ID, its size (8 bytes), its data.
func putElement(w io.Writer, id uint32, data []byte) error {
	var h [12]byte
	n := 0
	for shift := 24; shift >= 0; shift -= 8 {
		if b := byte(id >> shift); b != 0 || n > 0 {
			h[n] = b
			n++
		}
	}
	binary.BigEndian.PutUint64(h[n:], uint64(len(data))|0x01<<56)
	if _, err := w.Write(h[:n+8]); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// unknownCluster is a Cluster's ID and the "unknown" size, as the live
// writer leaves them: the cluster ends where the next one begins.
var unknownCluster = []byte{0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}

func joinWebM(out *os.File, rest []JoinPart) (int64, error) {
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	head, err := walkWebM(out, func(element, []byte, int64) error { return nil })
	if err != nil {
		return 0, err
	}
	end, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(out, 256<<10)
	pos := end
	clusters, lastMS := head.clusters, head.lastMS
	for _, p := range rest {
		in, err := os.Open(p.Path)
		if err != nil {
			return 0, err
		}
		err = compatibleTracks(head.tracks, in)
		if err == nil {
			_, err = in.Seek(0, io.SeekStart)
		}
		if err != nil {
			in.Close()
			return 0, err
		}
		_, err = walkWebM(in, func(e element, data []byte, tc int64) error {
			switch e.id {
			case idTimecode:
				// A new cluster of the part: opened here, with the moved time.
				var v [8]byte
				binary.BigEndian.PutUint64(v[:], uint64(tc+p.OffsetMS))
				clusters = append(clusters, clusterMark{pos: pos, tc: tc + p.OffsetMS})
				if _, err := w.Write(unknownCluster); err != nil {
					return err
				}
				pos += int64(len(unknownCluster))
				if err := putElement(w, idTimecode, v[:]); err != nil {
					return err
				}
				pos += 1 + 8 + 8
				return nil
			case idPrevSize:
				return nil // the size of a cluster of the part, not of this file
			case idSimpleBlock:
				if btc, ok := blockTimecode(data); ok {
					lastMS = max(lastMS, tc+int64(btc)+p.OffsetMS)
					if c := &clusters[len(clusters)-1]; c.track == 0 {
						c.track = uint64(data[0] & 0x7f)
					}
				}
			}
			pos += int64(idLen(e.id)) + 8 + int64(len(data))
			return putElement(w, e.id, data)
		})
		in.Close()
		if err != nil {
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if head.roomAt > 0 && len(head.clusters) > 0 {
		if err := writeCues(out, head, clusters); err != nil {
			return 0, err
		}
	}
	if head.durationAt > 0 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(float64(lastMS)))
		if _, err := out.WriteAt(b[:], head.durationAt); err != nil {
			return 0, err
		}
	}
	return lastMS, nil
}

func idLen(id uint32) int {
	switch {
	case id > 0xFFFFFF:
		return 4
	case id > 0xFFFF:
		return 3
	case id > 0xFF:
		return 2
	}
	return 1
}

// compatibleTracks checks that the part read from in has no track the
// joined file does not declare with the same codec.
func compatibleTracks(want map[uint64]string, in *os.File) error {
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return err
	}
	// The header is at the start: read up to the first cluster.
	l, err := walkWebM(io.LimitReader(in, 1<<20), func(element, []byte, int64) error { return errStop })
	if err != nil && !errors.Is(err, errStop) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if len(l.tracks) == 0 {
		return fmt.Errorf("%w: a part has no tracks", ErrIncompatible)
	}
	for n, c := range l.tracks {
		if want[n] != c {
			return fmt.Errorf("%w: track %d is %s, not %q", ErrIncompatible, n, c, want[n])
		}
	}
	return nil
}

var errStop = errors.New("stop")

// writeCues writes the cues of all the clusters into the room the first
// part's writer kept for them (thinned out, as ebml-go does, when they do
// not fit), and a Void over what is left.
func writeCues(out *os.File, l webmLayout, clusters []clusterMark) error {
	var points []webm.CuePoint
	for _, c := range clusters {
		if c.track == 0 {
			continue // no block: the empty cluster a writer ends with
		}
		points = append(points, webm.CuePoint{CueTime: uint64(c.tc), CueTrackPositions: []webm.CueTrackPosition{
			{CueTrack: c.track, CueClusterPosition: uint64(c.pos - l.segData)}}})
	}
	room := l.clusters[0].pos - l.roomAt
	if room < 9 {
		return nil // no room was kept: players read the file to seek
	}
	for len(points) > 0 {
		var b bytes.Buffer
		if err := ebml.Marshal(&struct {
			Cues webm.Cues `ebml:"Cues"`
		}{webm.Cues{CuePoint: points}}, &b); err != nil {
			return err
		}
		left := room - int64(b.Len())
		if left == 0 || left >= 9 {
			if left > 0 {
				b.Write(voidOf(left))
			}
			_, err := out.WriteAt(b.Bytes(), l.roomAt)
			return err
		}
		thin := points[:0:0]
		for i := 0; i < len(points); i += 2 {
			thin = append(thin, points[i])
		}
		if len(thin) == len(points) {
			break
		}
		points = thin
	}
	_, err := out.WriteAt(voidOf(room), l.roomAt)
	return err
}

// voidOf is a Void element of n bytes (n >= 9).
func voidOf(n int64) []byte {
	b := make([]byte, n)
	b[0] = idVoid
	binary.BigEndian.PutUint64(b[1:], uint64(n-9)|0x01<<56)
	return b
}

// --- MP4 ----------------------------------------------------------------

// joinTrack is what the join knows of a track of a part: its handler and
// sample entry, its ID and timescale.
type joinTrack struct {
	handler, entry string
	id, scale      uint32
}

func mp4Tracks(moov []byte) ([]joinTrack, error) {
	m, err := decodeMoov(moov)
	if err != nil {
		return nil, err
	}
	var ts []joinTrack
	for _, t := range m.Traks {
		jt := joinTrack{handler: t.Mdia.Hdlr.HandlerType, id: t.Tkhd.TrackID, scale: t.Mdia.Mdhd.Timescale}
		if stsd := t.Mdia.Minf.Stbl.Stsd; stsd != nil && len(stsd.Children) > 0 {
			jt.entry = stsd.Children[0].Type()
		}
		ts = append(ts, jt)
	}
	return ts, nil
}

// eachBox calls fn with each top-level box of f: its type, offset and whole bytes.
func eachBox(f *os.File, fn func(typ string, off int64, box []byte) error) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	for off := int64(0); off+8 <= size; {
		var h [16]byte
		if _, err := f.ReadAt(h[:8], off); err != nil {
			return err
		}
		n, typ := int64(binary.BigEndian.Uint32(h[:])), string(h[4:8])
		if n == 1 {
			if _, err := f.ReadAt(h[8:16], off+8); err != nil {
				return err
			}
			n = int64(binary.BigEndian.Uint64(h[8:]))
		}
		if n < 8 || off+n > size {
			return errors.New("a box cut short")
		}
		if n > maxElement {
			return fmt.Errorf("a %s box of %d bytes", typ, n)
		}
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil {
			return err
		}
		if err := fn(typ, off, b); err != nil {
			return err
		}
		off += n
	}
	return nil
}

func joinMP4(out *os.File, rest []JoinPart) (int64, error) {
	var tracks []joinTrack
	var seq uint32
	err := eachBox(out, func(typ string, off int64, b []byte) error {
		switch typ {
		case "moov":
			var err error
			tracks, err = mp4Tracks(b)
			return err
		case "moof":
			if len(b) >= 24 && string(b[12:16]) == "mfhd" {
				seq = max(seq, binary.BigEndian.Uint32(b[20:24]))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if _, err := out.Seek(0, io.SeekEnd); err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(out, 256<<10)
	for _, p := range rest {
		in, err := os.Open(p.Path)
		if err != nil {
			return 0, err
		}
		// Each of the part's tracks goes to the first part's track of the
		// same handler, sample entry and timescale.
		var to map[uint32]joinTrack
		err = eachBox(in, func(typ string, off int64, b []byte) error {
			switch typ {
			case "moov":
				theirs, err := mp4Tracks(b)
				if err != nil {
					return err
				}
				to = map[uint32]joinTrack{}
				for _, t := range theirs {
					found := false
					for _, o := range tracks {
						if o.handler == t.handler && o.entry == t.entry && o.scale == t.scale {
							to[t.id], found = o, true
						}
					}
					if !found {
						return fmt.Errorf("%w: a %s track (%s) the first file has not", ErrIncompatible, t.handler, t.entry)
					}
				}
			case "moof":
				if to == nil {
					return errors.New("a moof before the moov")
				}
				seq++
				moof, err := moveMoof(b, off, seq, p.OffsetMS, to)
				if err != nil {
					return err
				}
				_, err = w.Write(moof)
				return err
			case "mdat":
				_, err := w.Write(b)
				return err
			}
			return nil
		})
		in.Close()
		if err != nil {
			return 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	// The repair reads every fragment back and writes the index and the
	// duration of them all.
	ms, _, err := repairMP4(out)
	return ms, err
}

// moveMoof renumbers a part's moof, gives its tracks the joined file's
// IDs and moves its times by offsetMS.
func moveMoof(b []byte, off int64, seq uint32, offsetMS int64, to map[uint32]joinTrack) ([]byte, error) {
	box, err := mp4.DecodeBox(uint64(off), bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("moof: %w", err)
	}
	m, ok := box.(*mp4.MoofBox)
	if !ok || m.Mfhd == nil {
		return nil, errors.New("moof: not a moof box")
	}
	m.Mfhd.SequenceNumber = seq
	for _, traf := range m.Trafs {
		t, ok := to[traf.Tfhd.TrackID]
		if !ok || traf.Tfdt == nil {
			return nil, fmt.Errorf("%w: a fragment of an unknown track", ErrIncompatible)
		}
		if traf.Tfhd.HasBaseDataOffset() {
			return nil, fmt.Errorf("%w: fragments with absolute data offsets", ErrIncompatible)
		}
		traf.Tfhd.TrackID = t.id
		traf.Tfdt.SetBaseMediaDecodeTime(traf.Tfdt.BaseMediaDecodeTime() + uint64(offsetMS)*uint64(t.scale)/1000)
	}
	// A tfdt that grew to 64 bits moves the samples' data further from
	// the moof's start, where the truns' data offsets count from.
	if delta := int64(m.Size()) - int64(len(b)); delta != 0 {
		for _, traf := range m.Trafs {
			for _, trun := range traf.Truns {
				if trun.HasDataOffset() {
					trun.DataOffset += int32(delta)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
