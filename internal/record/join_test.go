package record

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/record/recordtest"
	"github.com/pavilion-live/pavilion/stream"
)

// recordFor records d of clip into a new file of its own, as a node does
// for one leg of a show, and returns it.
func recordFor(t *testing.T, r *Recorder, clock *fakeClock, done *[]File, clip *recordtest.Clip, show uuid.UUID, d time.Duration) File {
	t.Helper()
	rec, err := r.Record(show, stream.RoleHost)
	if err != nil {
		t.Fatal(err)
	}
	p := newPublisher(t, rec, clip)
	p.play(clip, clock, d)
	p.leave()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	return (*done)[len(*done)-1]
}

// Two files of one show (a node restarted mid-show: the first repaired,
// the second made when the host came back) join into one file that plays
// the whole show, the restart a gap in it; the index covers both.
func TestJoinFilesAcrossARestart(t *testing.T) { eachFormat(t, testJoinFiles) }

func testJoinFiles(t *testing.T, ft format) {
	recordtest.Need(t, "ffprobe")
	clip := ft.make(t, 2)
	r, clock, done := newRecorder(t)
	show := uuid.New()
	a := recordFor(t, r, clock, done, clip, show, 4*time.Second)
	clock.add(3 * time.Second) // the restart
	b := recordFor(t, r, clock, done, clip, show, 5*time.Second)
	offset := b.StartedAt.Sub(a.StartedAt).Milliseconds()
	if offset < 6900 || offset > 7300 {
		t.Fatalf("the second file starts %d ms after the first", offset)
	}
	pa, _ := r.Path(a.Path)
	pb, _ := r.Path(b.Path)
	out := filepath.Join(r.Dir, show.String(), "joined"+ft.ext)
	d, size, err := JoinFiles(out, []JoinPart{{Path: pa}, {Path: pb, OffsetMS: offset}})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Duration(offset)*time.Millisecond + b.Duration
	if !near(d, want, 300*time.Millisecond) {
		t.Errorf("joined duration %v, want %v (4 s, 3 s away, 5 s)", d, want)
	}
	if st, _ := os.Stat(out); st == nil || st.Size() != size {
		t.Errorf("size %v, told %d", st, size)
	}
	checkStreams(t, out, ft.codec, want)
	if ft.ext == ".mp4" {
		checkIndex(t, out, want)
	}
	// Every frame of both files is in the joined one.
	pkts := map[string]int{}
	for _, p := range []string{pa, pb} {
		for _, s := range recordtest.Probe(t, p) {
			pkts[s.Kind] += s.Packets
		}
	}
	for _, s := range recordtest.Probe(t, out) {
		if s.Packets != pkts[s.Kind] {
			t.Errorf("%s: %d in the joined file, %d in the parts", s.Kind, s.Packets, pkts[s.Kind])
		}
	}
	// The parts are left as they were.
	if _, err := os.Stat(pa); err != nil {
		t.Error(err)
	}
	// Joining into a file that exists is refused.
	if _, _, err := JoinFiles(out, []JoinPart{{Path: pa}}); err == nil {
		t.Error("joined over an existing file")
	}
}

// Files of other containers or codecs stay apart.
func TestJoinRefusesOtherCodecs(t *testing.T) {
	recordtest.Need(t, "ffprobe")
	r, clock, done := newRecorder(t)
	show := uuid.New()
	vp8 := recordFor(t, r, clock, done, recordtest.Make(t, 1), show, time.Second)
	h264 := recordFor(t, r, clock, done, recordtest.MakeH264(t, 1), show, time.Second)
	pv, _ := r.Path(vp8.Path)
	ph, _ := r.Path(h264.Path)
	out := filepath.Join(r.Dir, "x.webm")
	if _, _, err := JoinFiles(out, []JoinPart{{Path: pv}, {Path: ph, OffsetMS: 2000}}); !errors.Is(err, ErrIncompatible) {
		t.Errorf("VP8 WebM then H.264 MP4 joined: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused join left %s: %v", out, err)
	}
}
