package record

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/record/recordtest"
	"github.com/pavilion-live/pavilion/stream"
)

// TestRealPeerH264ToMP4 publishes H.264 and Opus from a pion peer over WHIP
// to a stream.Server that records, in real time: a copy of the file taken
// mid-show and cut mid-fragment (what a kill leaves) repairs to a playable
// file; the publisher drops and comes back within the grace period, and
// the show's recording is one MP4 of the whole show, all the frames and
// packets sent in it.
func TestRealPeerH264ToMP4(t *testing.T) {
	clip := recordtest.MakeH264(t, 4)
	recordtest.Need(t, "ffprobe")
	finished := make(chan File, 4)
	r := &Recorder{Dir: t.TempDir(), Finished: func(_ context.Context, f File) error { finished <- f; return nil }}
	srv := &stream.Server{
		UDPAddr:  "127.0.0.1:0",
		NoTCP:    true,
		EndGrace: 3 * time.Second,
		Recorder: r,
		Keys:     func(_ context.Context, _ uuid.UUID, key string) (bool, error) { return key == "key", nil },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whip/{show}", srv.WHIP)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	show := uuid.New()

	p := recordtest.Publish(t, hs.URL, show.String(), "key", clip)
	time.Sleep(5 * time.Second)
	// What a kill leaves at this point: the file so far, cut in its last
	// fragment (copied: the recording goes on).
	files, _ := filepath.Glob(filepath.Join(r.Dir, show.String(), "*.mp4"))
	if len(files) != 1 {
		t.Fatalf("recording files %v, want one MP4", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	sentByKill := time.Since(p.First)
	crashed := filepath.Join(t.TempDir(), "crashed.mp4")
	if err := os.WriteFile(crashed, b[:len(b)-100], 0o600); err != nil {
		t.Fatal(err)
	}
	d, _, err := RepairFile(crashed)
	if err != nil {
		t.Fatal(err)
	}
	// Lost: the fragment the writer held, the one cut, and the packets
	// still in the sinks' queues on a loaded machine.
	if d > sentByKill || d < sentByKill-2*fragMax*time.Millisecond-time.Second {
		t.Errorf("repaired file lasts %v, %v were sent", d, sentByKill)
	}
	checkStreams(t, crashed, "h264", d)

	// The host drops and is back within the grace period.
	p.Leave()
	firstLeg := time.Since(p.First)
	time.Sleep(time.Second)
	p2 := recordtest.Publish(t, hs.URL, show.String(), "key", clip)
	gap := p2.First.Sub(p.First) - firstLeg
	time.Sleep(3 * time.Second)
	p2.Leave()
	total := time.Since(p.First)

	var f File
	select {
	case f = <-finished:
	case <-time.After(15 * time.Second):
		t.Fatal("the recording was not finished after the show ended")
	}
	files, _ = filepath.Glob(filepath.Join(r.Dir, show.String(), "*"))
	if len(files) != 1 || f.MediaType != MediaMP4 || filepath.Ext(f.Path) != ".mp4" {
		t.Fatalf("files %v, finished %+v: want one MP4", files, f)
	}
	t.Logf("published %v (a gap of %v); the file: %d bytes, %v", total, gap, f.Bytes, f.Duration)
	if !near(f.Duration, total, 1500*time.Millisecond) {
		t.Errorf("recording lasts %v, the show was published for %v", f.Duration, total)
	}
	path, _ := r.Path(f.Path)
	checkStreams(t, path, "h264", f.Duration)
	// All of it: the frames and packets sent in both sessions, less the
	// first few of each that go while its tracks are bound.
	sent := map[string]int64{"video": p.Video.Load() + p2.Video.Load(), "audio": p.Audio.Load() + p2.Audio.Load()}
	for _, st := range recordtest.Probe(t, path) {
		if float64(st.Packets) < 0.95*float64(sent[st.Kind]) || int64(st.Packets) > sent[st.Kind] {
			t.Errorf("%s: %d in the file of %d sent", st.Kind, st.Packets, sent[st.Kind])
		}
	}
}
