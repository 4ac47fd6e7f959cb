// Package record writes the shows a node ingests to files, from the RTP the
// node already receives: no decoding, no transcoding. VP8 or VP9 video with
// Opus audio goes into WebM (github.com/at-wat/ebml-go), written block by
// block in clusters, so that a node killed mid-show leaves a file that plays
// up to its last complete block; RepairFile finishes such a file on the next
// start. H.264 video with Opus goes into fragmented MP4
// (github.com/Eyevinn/mp4ff), a fragment at each keyframe, repaired the
// same way.
//
// It never decides whether a show is recorded or who may watch a replay:
// that is the replay service's (internal/replay), asked through Allow and
// told through Started and Finished.
package record

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/stream"
)

// MediaWebM is the media type of the VP8/VP9 (and audio-only) files.
const MediaWebM = "video/webm"

// File is one recording file as the replay service lists it.
type File struct {
	ID     uuid.UUID
	ShowID uuid.UUID
	// Path is relative to the recorder's directory (slash-separated).
	Path      string
	MediaType string
	// Role is whose feed the file holds: stream.RoleHost or stream.RoleGuest.
	Role string
	// StartedAt is the wall-clock time of the file's time 0: a pin at time
	// t is at t-StartedAt in the file.
	StartedAt time.Time
	EndedAt   time.Time
	Duration  time.Duration
	Bytes     int64
}

// Recorder records shows into files under Dir. It implements stream.Recorder.
type Recorder struct {
	// Dir holds the files, one directory per show.
	Dir string
	// Allow reports whether the show is to be recorded. Nil records every show.
	Allow func(ctx context.Context, show uuid.UUID) (bool, error)
	// Started is told of a file when its first frames are written, Finished
	// when it is complete. Either may be nil. An error is logged: the file
	// stays, and Repair or the next start lists it again.
	Started, Finished func(ctx context.Context, f File) error
	// KeyframeEvery is how often the recording asks for a keyframe, so that
	// a replay can seek anywhere (default 3 s).
	KeyframeEvery time.Duration
	// OpenWait is how long a recording waits for both audio and video before
	// it opens the file with what it has (default 3 s).
	OpenWait time.Duration
	Logger   *slog.Logger

	// now, when set (tests), stands in for the wall clock.
	now func() time.Time
}

var _ stream.Recorder = (*Recorder)(nil)

func (r *Recorder) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

func (r *Recorder) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

func (r *Recorder) keyframeEvery() time.Duration {
	if r.KeyframeEvery > 0 {
		return r.KeyframeEvery
	}
	return 3 * time.Second
}

func (r *Recorder) openWait() time.Duration {
	if r.OpenWait > 0 {
		return r.OpenWait
	}
	return 3 * time.Second
}

// Record begins a recording of the show's host or guest (stream.Recorder):
// each is a file of its own, in the show's directory.
func (r *Recorder) Record(show uuid.UUID, role string) (stream.Recording, error) {
	if role != stream.RoleHost && role != stream.RoleGuest {
		return nil, fmt.Errorf("record: no such role %q", role)
	}
	if r.Allow != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ok, err := r.Allow(ctx, show)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("record: may %s be recorded: %w", show, err)
		}
		if !ok {
			return nil, nil
		}
	}
	if err := os.MkdirAll(filepath.Join(r.Dir, show.String()), 0o750); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	id := uuid.New()
	rec := &Recording{
		r:     r,
		start: r.clock(),
		file:  File{ID: id, ShowID: show, Role: role},
	}
	return rec, nil
}

// Track returns the sink of a publisher's track (stream.Recording): VP8,
// VP9, H.264 and Opus are recorded, other codecs are left out (nil).
func (rec *Recording) Track(kind string, codec webrtc.RTPCodecParameters) stream.TrackSink {
	c, ok := codecOf(kind, codec.MimeType)
	if !ok {
		rec.r.log().Warn("record: a track left out of the recording", "show", rec.file.ShowID, "codec", codec.MimeType)
		return nil
	}
	return rec.newSink(c, codec.ClockRate)
}

// codec is what the file knows of a track's codec.
type codec struct {
	kind  string // "video" or "audio"
	mime  string // lower case
	webm  string // Matroska codec ID; "" for H.264, which goes to MP4
	track uint64 // track number in the file
}

func codecOf(kind, mime string) (codec, bool) {
	mime = strings.ToLower(mime)
	switch {
	case kind == "video" && mime == "video/vp8":
		return codec{kind: kind, mime: mime, webm: "V_VP8", track: 1}, true
	case kind == "video" && mime == "video/vp9":
		return codec{kind: kind, mime: mime, webm: "V_VP9", track: 1}, true
	case kind == "video" && mime == "video/h264":
		return codec{kind: kind, mime: mime, track: 1}, true
	case kind == "audio" && mime == "audio/opus":
		return codec{kind: kind, mime: mime, webm: "A_OPUS", track: 2}, true
	}
	return codec{}, false
}

// Path returns the file's place on disk, refusing a path that would leave Dir.
func (r *Recorder) Path(rel string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(rel))
	if !filepath.IsLocal(clean) {
		return "", errors.New("record: path outside the recordings directory")
	}
	return filepath.Join(r.Dir, clean), nil
}

// Delete removes a file (a brand deleted the replay); a missing file is no error.
func (r *Recorder) Delete(rel string) error {
	p, err := r.Path(rel)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// A Recording is one show's file; it outlives publisher sessions (see stream.Recording).
type Recording struct {
	r     *Recorder
	start time.Time // wall time of timestamp 0, before rebasing to the first frame

	mu   sync.Mutex
	file File
	// sinks: the newest track of each kind; an older one (a publisher that
	// left) writes nothing more.
	sinks map[string]*sink
	// codecs of the file's tracks, by kind, fixed when it opens.
	codecs map[string]codec
	// pending frames, before the file opens.
	pending  []frame
	firstAt  time.Time // when the first pending frame came
	sawKey   bool      // a video keyframe is pending
	w        muxer
	base     int64            // ms subtracted from every timestamp: the first frame's
	last     map[string]int64 // newest timestamp written, by kind
	closing  bool             // no new tracks
	closed   bool
	openFail bool
}

// frame is one video frame or audio packet, timestamped in ms since start.
type frame struct {
	kind     string
	mime     string
	keyframe bool
	at       int64
	data     []byte
	width    int
	height   int
	// sps and pps: an H.264 keyframe's parameter sets, for the MP4's avcC.
	sps, pps []byte
}

// muxer is a file being written: WebM (webmFile) or fragmented MP4 (mp4File).
type muxer interface {
	write(track uint64, key bool, atMS int64, data []byte)
	// close finishes the file and returns its size.
	close() (int64, error)
}

// Close finishes the file: what the tracks still hold written, then cues and
// duration, and the replay service told.
func (rec *Recording) Close() error {
	rec.mu.Lock()
	if rec.closing {
		rec.mu.Unlock()
		return nil
	}
	rec.closing = true
	var sinks []*sink
	for _, s := range rec.sinks {
		sinks = append(sinks, s)
	}
	rec.mu.Unlock()
	for _, s := range sinks {
		s.stop()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.closed = true
	if rec.w == nil && len(rec.pending) > 0 && !rec.openFail {
		rec.open() // a short show: write what there is
	}
	if rec.w == nil {
		return nil
	}
	size, err := rec.w.close()
	if err != nil {
		return err
	}
	f := rec.file
	f.Bytes = size
	f.Duration = time.Duration(rec.maxLocked()) * time.Millisecond
	f.EndedAt = rec.r.clock().UTC()
	rec.file = f
	if rec.r.Finished != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rec.r.Finished(ctx, f); err != nil {
			return fmt.Errorf("record: listing %s: %w", f.Path, err)
		}
	}
	rec.r.log().Info("record: recording finished", "show", f.ShowID, "path", f.Path, "duration", f.Duration, "bytes", f.Bytes)
	return nil
}

func (rec *Recording) maxLocked() int64 {
	var m int64
	for _, t := range rec.last {
		m = max(m, t)
	}
	return m
}

// write takes a frame of sink s, in its kind's timestamp order.
func (rec *Recording) write(s *sink, fr frame) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.closed || rec.sinks[fr.kind] != s {
		return // a publisher that has been replaced
	}
	if rec.w != nil {
		rec.put(fr)
		return
	}
	if rec.openFail {
		return
	}
	if fr.kind == "video" && !rec.sawKey && !fr.keyframe {
		return // a replay starts at a picture
	}
	if len(rec.pending) == 0 {
		rec.firstAt = rec.r.clock()
	}
	rec.sawKey = rec.sawKey || (fr.kind == "video" && fr.keyframe)
	rec.pending = append(rec.pending, fr)
	_, audio := rec.sinks["audio"]
	_, video := rec.sinks["video"]
	if (audio && video && rec.sawKey) || rec.r.clock().Sub(rec.firstAt) >= rec.r.openWait() {
		rec.open()
	}
}

// open creates the file with the tracks known now and writes the pending frames.
func (rec *Recording) open() {
	rec.codecs = map[string]codec{}
	base := int64(-1)
	for _, fr := range rec.pending {
		if base < 0 || fr.at < base {
			base = fr.at
		}
	}
	for kind, s := range rec.sinks {
		if kind == "video" && !rec.sawKey {
			continue
		}
		rec.codecs[kind] = s.codec
	}
	var key *frame // the file's first video keyframe: its size, its parameter sets
	for i, fr := range rec.pending {
		if fr.kind == "video" && fr.keyframe && fr.mime == rec.codecs["video"].mime {
			key = &rec.pending[i]
			break
		}
	}
	// H.264 goes to MP4 (WebM has no H.264); the rest, audio alone
	// included, to WebM.
	ext := ".webm"
	rec.file.MediaType = MediaWebM
	if c, ok := rec.codecs["video"]; ok && c.mime == "video/h264" {
		ext, rec.file.MediaType = ".mp4", MediaMP4
	}
	rec.file.Path = rec.file.ShowID.String() + "/" + rec.file.ID.String() + ext
	path, err := rec.r.Path(rec.file.Path)
	if err == nil {
		rec.w, err = rec.create(path, key)
	}
	if err != nil {
		rec.openFail = true
		rec.pending = nil
		rec.r.log().Error("record: cannot create the file; the show is not recorded", "show", rec.file.ShowID, "err", err)
		return
	}
	rec.base = max(base, 0)
	rec.file.StartedAt = rec.start.Add(time.Duration(rec.base) * time.Millisecond).UTC()
	rec.last = map[string]int64{}
	pending := rec.pending
	rec.pending = nil
	sort.SliceStable(pending, func(i, j int) bool { return pending[i].at < pending[j].at })
	for _, fr := range pending {
		rec.put(fr)
	}
	if rec.r.Started != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rec.r.Started(ctx, rec.file); err != nil {
			rec.r.log().Error("record: listing a new recording", "show", rec.file.ShowID, "err", err)
		}
	}
	rec.r.log().Info("record: recording", "show", rec.file.ShowID, "path", rec.file.Path, "tracks", len(rec.codecs))
}

// create makes the file for rec.codecs; key is the first video keyframe (nil: no video).
func (rec *Recording) create(path string, key *frame) (muxer, error) {
	if rec.file.MediaType == MediaMP4 {
		if key == nil {
			// The keyframe pending was another codec's (a publisher who
			// came back with H.264 before the file opened).
			return nil, errors.New("record: no H.264 keyframe to open the file with")
		}
		return createMP4(path, rec.codecs, key.sps, key.pps, rec.r.log())
	}
	var width, height int
	if key != nil {
		width, height = key.width, key.height
	}
	return createWebM(path, rec.codecs, width, height, rec.r.log())
}

// put writes a frame to the open file, its timestamp rebased and kept in
// order. A publisher that came back with another codec is not in this file.
func (rec *Recording) put(fr frame) {
	c, ok := rec.codecs[fr.kind]
	if !ok || c.mime != fr.mime {
		return
	}
	if fr.at < rec.base {
		// The file opened on a frame of another track (a keyframe, while
		// this track's sink was behind): what came before its 0 is left
		// out, not written at 0 — two frames of a track at one time are a
		// file players and ffmpeg refuse to read past.
		return
	}
	at := fr.at - rec.base
	if last, ok := rec.last[fr.kind]; ok && at <= last {
		// A publisher who came back: its clock may start a little behind
		// the last frame written. Each frame keeps a time of its own.
		at = last + 1
	}
	rec.last[fr.kind] = at
	rec.w.write(c.track, fr.keyframe, at, fr.data)
}

// Open opens a file for reading, with its modification time (replay.Files).
func (r *Recorder) Open(rel string) (io.ReadSeekCloser, time.Time, error) {
	p, err := r.Path(rel)
	if err != nil {
		return nil, time.Time{}, err
	}
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, time.Time{}, apperr.Wrap(apperr.NotFound, err, "recording not found")
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("record: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, time.Time{}, fmt.Errorf("record: %w", err)
	}
	return f, st.ModTime(), nil
}

// Repair finishes the file rel whose writer died (RepairFile).
func (r *Recorder) Repair(rel string) (time.Duration, int64, error) {
	p, err := r.Path(rel)
	if err != nil {
		return 0, 0, err
	}
	return RepairFile(p)
}

// Busy reports whether err is Repair's answer for a file still being
// written, or Join's for a file another process is joining.
func (r *Recorder) Busy(err error) bool { return errors.Is(err, ErrBusy) }

// Join writes the files parts (listed paths) into the file out
// (JoinLocked), each placed offsetsMS after the first one's start, and
// lists it with list while its lock is held (replay.Files).
func (r *Recorder) Join(out string, parts []string, offsetsMS []int64, due func() (bool, error), list func(time.Duration, int64) error) error {
	if len(parts) != len(offsetsMS) {
		return errors.New("record: join: a part without an offset")
	}
	dst, err := r.Path(out)
	if err != nil {
		return err
	}
	jp := make([]JoinPart, len(parts))
	for i, p := range parts {
		if jp[i].Path, err = r.Path(p); err != nil {
			return err
		}
		jp[i].OffsetMS = offsetsMS[i]
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return JoinLocked(dst, jp, due, list)
}

// Incompatible reports whether err is Join's answer for files that cannot
// be one.
func (r *Recorder) Incompatible(err error) bool { return errors.Is(err, ErrIncompatible) }

// Kept: a file in the directory is where replays are served from already.
func (r *Recorder) Kept(string) error { return nil }

// Idle lists the recordings in the directory that no writer holds, as
// "<show id>/<recording id>.<ext>" paths; other files are left out.
func (r *Recorder) Idle() ([]string, error) {
	shows, err := os.ReadDir(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	var out []string
	for _, sd := range shows {
		if _, err := uuid.Parse(sd.Name()); err != nil || !sd.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(r.Dir, sd.Name()))
		if err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		for _, f := range files {
			ext := filepath.Ext(f.Name())
			if _, err := uuid.Parse(strings.TrimSuffix(f.Name(), ext)); err != nil || (ext != ".webm" && ext != ".mp4") {
				continue
			}
			if busy, err := locked(filepath.Join(r.Dir, sd.Name(), f.Name())); err != nil || busy {
				continue
			}
			out = append(out, sd.Name()+"/"+f.Name())
		}
	}
	return out, nil
}
