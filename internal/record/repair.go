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
)

// ErrBusy is Repair's answer for a file whose writer is still alive.
var ErrBusy = errors.New("record: the file is still being written")

// Matroska element IDs the repair reads.
const (
	idEBML        = 0x1A45DFA3
	idSegment     = 0x18538067
	idInfo        = 0x1549A966
	idDuration    = 0x4489
	idCluster     = 0x1F43B675
	idTimecode    = 0xE7
	idSimpleBlock = 0xA3
	idBlockGroup  = 0xA0
)

// RepairFile finishes a file whose writer died (a node killed mid-show): it cuts
// off the element the writer was in the middle of, so the file ends on a
// whole block (a WebM file) or fragment (an MP4 file), and writes the
// duration into the header. Cues are not
// rebuilt: players seek such a file by reading it. It returns the file's
// duration and size; ErrBusy when a live writer holds the file.
func RepairFile(path string) (time.Duration, int64, error) {
	if busy, err := locked(path); err != nil {
		return 0, 0, fmt.Errorf("record: repair: %w", err)
	} else if busy {
		return 0, 0, ErrBusy
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("record: repair: %w", err)
	}
	defer f.Close()
	if isMP4(f) {
		ms, size, err := repairMP4(f)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			return 0, 0, fmt.Errorf("record: repair %s: %w", path, err)
		}
		return time.Duration(ms) * time.Millisecond, size, nil
	}
	sc, err := scan(f)
	if err != nil {
		return 0, 0, fmt.Errorf("record: repair %s: %w", path, err)
	}
	if err := f.Truncate(sc.end); err != nil {
		return 0, 0, fmt.Errorf("record: repair: %w", err)
	}
	if sc.durationAt > 0 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], math.Float64bits(float64(sc.lastMS)))
		if _, err := f.WriteAt(b[:], sc.durationAt); err != nil {
			return 0, 0, fmt.Errorf("record: repair: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, 0, fmt.Errorf("record: repair: %w", err)
	}
	return time.Duration(sc.lastMS) * time.Millisecond, sc.end, nil
}

// scanned is what scan learnt of a WebM file.
type scanned struct {
	end        int64 // end of the last whole element
	lastMS     int64 // timestamp of the last block
	durationAt int64 // offset of the 8-byte Duration value; 0: none
	blocks     int
}

// scan walks a WebM file's elements, entering the Segment and its Clusters
// (both of unknown size, as a live writer leaves them), to the last whole
// element.
func scan(f *os.File) (scanned, error) {
	var sc scanned
	st, err := f.Stat()
	if err != nil {
		return sc, err
	}
	size := st.Size()
	r := &countReader{r: bufio.NewReaderSize(f, 64<<10)}
	var clusterTC int64
	inSegment := false
	for {
		start := r.n
		id, err := readID(r)
		if err != nil {
			break
		}
		n, unknown, err := readSize(r)
		if err != nil {
			break
		}
		dataAt := r.n
		switch {
		case id == idSegment || id == idCluster:
			// Containers: enter them; their children follow.
			if id == idSegment {
				inSegment = true
			}
			if id == idCluster {
				clusterTC = 0
			}
			sc.end = dataAt
			continue
		case unknown:
			return sc, fmt.Errorf("element %x of unknown size", id)
		}
		if dataAt+n > size {
			break // cut off mid-element
		}
		switch id {
		case idTimecode:
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return sc, err
			}
			clusterTC = int64(beUint(b))
		case idSimpleBlock:
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return sc, err
			}
			if tc, ok := blockTimecode(b); ok {
				sc.lastMS = max(sc.lastMS, clusterTC+int64(tc))
				sc.blocks++
			}
		case idInfo:
			// Find Duration among Info's children.
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return sc, err
			}
			if at := findChild(b, idDuration, 8); at >= 0 {
				sc.durationAt = dataAt + int64(at)
			}
		default:
			if _, err := io.CopyN(io.Discard, r, n); err != nil {
				return sc, err
			}
		}
		_ = start
		sc.end = r.n
	}
	if !inSegment {
		return sc, errors.New("not a WebM file")
	}
	return sc, nil
}

// findChild returns the offset in b of the data of the first child element
// id whose data is want bytes long, or -1.
func findChild(b []byte, id uint32, want int64) int {
	r := &countReader{r: bufioBytes(b)}
	for {
		cid, err := readID(r)
		if err != nil {
			return -1
		}
		n, _, err := readSize(r)
		if err != nil {
			return -1
		}
		if cid == id && n == want {
			return int(r.n)
		}
		if _, err := io.CopyN(io.Discard, r, n); err != nil {
			return -1
		}
	}
}

// blockTimecode reads a SimpleBlock's timecode, relative to its cluster.
func blockTimecode(b []byte) (int16, bool) {
	// track number (a vint), then a signed 16-bit timecode
	l := vintLen(b[0])
	if l == 0 || len(b) < l+2 {
		return 0, false
	}
	return int16(binary.BigEndian.Uint16(b[l:])), true
}

func vintLen(b byte) int {
	for i := range 8 {
		if b&(0x80>>i) != 0 {
			return i + 1
		}
	}
	return 0
}

func readID(r *countReader) (uint32, error) {
	b0, err := r.ReadByte()
	if err != nil {
		return 0, err
	}
	l := vintLen(b0)
	if l == 0 || l > 4 {
		return 0, errors.New("bad element ID")
	}
	id := uint32(b0)
	for range l - 1 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		id = id<<8 | uint32(b)
	}
	return id, nil
}

// readSize reads an element's data size; unknown reports the reserved
// all-ones value (a live writer's Segment and Clusters).
func readSize(r *countReader) (int64, bool, error) {
	b0, err := r.ReadByte()
	if err != nil {
		return 0, false, err
	}
	l := vintLen(b0)
	if l == 0 {
		return 0, false, errors.New("bad element size")
	}
	v := uint64(b0 & (0xff >> l))
	all := v == uint64(0xff>>l)
	for range l - 1 {
		b, err := r.ReadByte()
		if err != nil {
			return 0, false, err
		}
		v = v<<8 | uint64(b)
		all = all && b == 0xff
	}
	if all {
		return 0, true, nil
	}
	if v > math.MaxInt64/2 {
		return 0, false, errors.New("element too big")
	}
	return int64(v), false, nil
}

func beUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

type byteReader interface {
	io.Reader
	io.ByteReader
}

type countReader struct {
	r byteReader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func bufioBytes(b []byte) byteReader { return bytes.NewReader(b) }
