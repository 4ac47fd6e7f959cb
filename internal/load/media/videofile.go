package media

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
)

// videoFile reads the frames of an IVF (VP8) or Annex-B H.264 file, from
// the start again when it ends.
type videoFile struct {
	path string
	mime string
	f    *os.File
	ivf  *ivfreader.IVFReader
	h264 *h264reader.H264Reader
	au   []byte // the H.264 access unit being gathered
}

// openVideoFile opens path and tells its format from its first bytes. The
// file's own timing is not used: frames go out at --fps.
func openVideoFile(path string) (*videoFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	v := &videoFile{path: path, f: f}
	head := make([]byte, 4)
	if _, err := io.ReadFull(f, head); err != nil {
		f.Close()
		return nil, fmt.Errorf("--file %s: too short to be video", path)
	}
	switch {
	case string(head) == "DKIF":
		v.mime = webrtc.MimeTypeVP8
	case bytes.Equal(head[:3], []byte{0, 0, 1}) || bytes.Equal(head, []byte{0, 0, 0, 1}):
		v.mime = webrtc.MimeTypeH264
	default:
		f.Close()
		return nil, fmt.Errorf("--file %s is neither IVF nor Annex-B H.264", path)
	}
	if err := v.rewind(); err != nil {
		f.Close()
		return nil, err
	}
	if v.ivf != nil {
		if _, _, err := v.ivf.ParseNextFrame(); err != nil {
			f.Close()
			return nil, fmt.Errorf("--file %s: no frame: %w", path, err)
		}
		if err := v.rewind(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return v, nil
}

func (v *videoFile) rewind() error {
	if _, err := v.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(v.f, 256<<10)
	var err error
	if v.mime == webrtc.MimeTypeVP8 {
		var h *ivfreader.IVFFileHeader
		v.ivf, h, err = ivfreader.NewWith(r)
		if err == nil && string(h.FourCC[:]) != "VP80" {
			err = fmt.Errorf("the IVF file holds %q, not VP8", h.FourCC[:])
		}
	} else {
		v.h264, err = h264reader.NewReader(r)
	}
	if err != nil {
		return fmt.Errorf("--file %s: %w", v.path, err)
	}
	return nil
}

// next returns the next frame (an H.264 access unit in Annex-B form, up to
// and including its first slice) and whether it is a keyframe.
func (v *videoFile) next() ([]byte, bool, error) {
	for range 2 { // at most one rewind per frame
		frame, key, err := v.read()
		if err == nil {
			return frame, key, nil
		}
		if !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		if err := v.rewind(); err != nil {
			return nil, false, err
		}
	}
	return nil, false, fmt.Errorf("--file %s holds no frame", v.path)
}

func (v *videoFile) read() ([]byte, bool, error) {
	if v.ivf != nil {
		frame, _, err := v.ivf.ParseNextFrame()
		if err != nil {
			return nil, false, err
		}
		return frame, len(frame) > 0 && frame[0]&1 == 0, nil
	}
	v.au = v.au[:0]
	key := false
	for {
		nal, err := v.h264.NextNAL()
		if err != nil {
			return nil, false, err
		}
		v.au = append(v.au, 0, 0, 0, 1)
		v.au = append(v.au, nal.Data...)
		switch nal.UnitType {
		case h264reader.NalUnitTypeCodedSliceIdr:
			return v.au, true, nil
		case h264reader.NalUnitTypeCodedSliceNonIdr:
			return v.au, key, nil
		case h264reader.NalUnitTypeSPS:
			key = true
		}
	}
}

func (v *videoFile) close() { v.f.Close() }
