package record

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
)

// CuesSpace is the room kept after the header for the seek index (Cues),
// written when the file is finished: about 20 bytes a cue, one cue a
// cluster (a keyframe every few seconds), so hours of show. ebml-go thins
// the cues out when they do not fit.
const CuesSpace = 256 << 10

// webmFile is a WebM file being written by ebml-go's block writer: the
// header first, then each frame as a SimpleBlock as it comes, in clusters
// that start at video keyframes. Nothing is held back in memory, so what
// was written before a crash stays readable.
type webmFile struct {
	f      *os.File
	tracks map[uint64]webm.BlockWriteCloser
	all    []webm.BlockWriteCloser
	log    *slog.Logger
}

// opusHead is the Opus identification header (RFC 7845 §5.1): stereo,
// 48 kHz, no pre-skip, which is what WebRTC sends.
var opusHead = []byte{'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, 2, 0, 0, 0x80, 0xbb, 0, 0, 0, 0, 0}

// createLocked creates a recording's file, locked for as long as this
// process writes it (see lock).
func createLocked(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("record: lock %s: %w", path, err)
	}
	return f, nil
}

func createWebM(path string, cs map[string]codec, width, height int, log *slog.Logger) (*webmFile, error) {
	f, err := createLocked(path)
	if err != nil {
		return nil, err
	}
	var entries []webm.TrackEntry
	var order []uint64
	for _, kind := range []string{"video", "audio"} {
		c, ok := cs[kind]
		if !ok {
			continue
		}
		e := webm.TrackEntry{Name: kind, TrackNumber: c.track, TrackUID: c.track, CodecID: c.webm}
		if kind == "video" {
			e.TrackType = 1
			e.Video = &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)}
		} else {
			e.TrackType = 2
			e.CodecPrivate = opusHead
			e.Audio = &webm.Audio{SamplingFrequency: 48000, Channels: 2}
		}
		entries = append(entries, e)
		order = append(order, c.track)
	}
	if len(entries) == 0 {
		f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("record: no track to write")
	}
	w := &webmFile{f: f, tracks: map[uint64]webm.BlockWriteCloser{}, log: log}
	main := order[0] // video when there is video: clusters start at its keyframes
	opts := []mkvcore.BlockWriterOption{
		mkvcore.WithSegmentInfo(&webm.Info{TimecodeScale: 1000000, MuxingApp: "pavilion", WritingApp: "pavilion"}),
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(CuesSpace),
		mkvcore.WithMinMaxClusterDuration(main, 1000, 30000),
		// Blocks go out in time order across tracks; the video track's frames
		// come later than audio's (bigger frames, a deeper reorder buffer), so
		// wait for up to 128 blocks (2.5 s of audio) before giving up on a
		// track, rather than ebml-go's default 16, which would drop video
		// frames as outdated when its goroutine falls behind on a busy node.
		mkvcore.WithBlockInterceptor(mkvcore.MustBlockInterceptor(mkvcore.NewMultiTrackBlockSorter(
			mkvcore.WithMaxDelayedPackets(128), mkvcore.WithSortRule(mkvcore.BlockSorterDropOutdated)))),
		mkvcore.WithOnErrorHandler(func(err error) { log.Warn("record: webm", "path", path, "err", err) }),
		// ebml-go panics on a fatal error by default: a full disk must not stop the node.
		mkvcore.WithOnFatalHandler(func(err error) { log.Error("record: webm", "path", path, "err", err) }),
	}
	ws, err := webm.NewSimpleBlockWriter(f, entries, opts...)
	if err != nil {
		f.Close()
		_ = os.Remove(path)
		return nil, fmt.Errorf("record: webm header: %w", err)
	}
	for i, bw := range ws {
		w.tracks[order[i]] = bw
	}
	w.all = ws
	return w, nil
}

func (w *webmFile) write(track uint64, key bool, atMS int64, data []byte) {
	if bw := w.tracks[track]; bw != nil {
		if _, err := bw.Write(key, atMS, data); err != nil {
			w.log.Warn("record: webm write", "err", err)
		}
	}
}

// close finishes the file (cues, duration) and returns its size.
func (w *webmFile) close() (int64, error) {
	// ebml-go closes the file after the last track writer closes.
	for _, bw := range w.all {
		if err := bw.Close(); err != nil {
			return 0, fmt.Errorf("record: webm close: %w", err)
		}
	}
	st, err := os.Stat(w.f.Name())
	if err != nil {
		return 0, fmt.Errorf("record: %w", err)
	}
	return st.Size(), nil
}
