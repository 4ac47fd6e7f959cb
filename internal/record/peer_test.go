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
	r, finished, hs := recordingIngest(t)
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

// TestRealPeerGuestRecorded: a host (VP8) and a guest (H.264) publish into
// one show from pion peers over WHIP, in real time; the guest is recorded
// beside the host, in a file of its own in the muxer its codec takes (an
// MP4 beside the host's WebM), tagged as the guest's. The guest drops and
// comes back within the grace period: one guest file, continued.
func TestRealPeerGuestRecorded(t *testing.T) {
	vp8, h264 := recordtest.Make(t, 2), recordtest.MakeH264(t, 2)
	recordtest.Need(t, "ffprobe")
	r, finished, hs := recordingIngest(t)
	show := uuid.New()

	host := recordtest.Publish(t, hs.URL, show.String(), "key", vp8)
	time.Sleep(time.Second)
	g1 := recordtest.Publish(t, hs.URL, show.String()+"?guest=1", "guest", h264)
	time.Sleep(3 * time.Second)
	g1.Leave() // the guest's connection drops…
	time.Sleep(time.Second)
	g2 := recordtest.Publish(t, hs.URL, show.String()+"?guest=1", "guest", h264) // …and is back in time
	time.Sleep(3 * time.Second)
	g2.Leave()
	guestSpan := time.Since(g1.First)
	time.Sleep(500 * time.Millisecond)
	host.Leave()

	got := map[string]File{}
	for len(got) < 2 {
		select {
		case f := <-finished:
			if _, dup := got[f.Role]; dup {
				t.Fatalf("a second %s file: %+v", f.Role, f)
			}
			got[f.Role] = f
		case <-time.After(20 * time.Second):
			t.Fatalf("finished %v, want the host's and the guest's", got)
		}
	}
	h, g := got[stream.RoleHost], got[stream.RoleGuest]
	if h.ShowID != show || g.ShowID != show || h.MediaType != MediaWebM || g.MediaType != MediaMP4 {
		t.Fatalf("host %+v, guest %+v: want the show's WebM and MP4", h, g)
	}
	if files, _ := filepath.Glob(filepath.Join(r.Dir, show.String(), "*")); len(files) != 2 {
		t.Fatalf("files %v, want the host's and one of the guest's", files)
	}
	// The guest's file starts when the guest came on, about a second in.
	if off := g.StartedAt.Sub(h.StartedAt); off < 500*time.Millisecond || off > 2500*time.Millisecond {
		t.Errorf("the guest's file starts %v after the host's", off)
	}
	if !near(g.Duration, guestSpan, 1500*time.Millisecond) {
		t.Errorf("the guest's file lasts %v, the guest was on for %v (a drop included)", g.Duration, guestSpan)
	}
	hp, _ := r.Path(h.Path)
	gp, _ := r.Path(g.Path)
	checkStreams(t, hp, "vp8", h.Duration)
	checkStreams(t, gp, "h264", g.Duration)
	sent := g1.Video.Load() + g2.Video.Load()
	for _, st := range recordtest.Probe(t, gp) {
		if st.Kind == "video" && (float64(st.Packets) < 0.9*float64(sent) || int64(st.Packets) > sent) {
			t.Errorf("the guest's video: %d frames in the file of %d sent", st.Packets, sent)
		}
	}
}

// recordingIngest is a WHIP server on loopback whose shows r records: the
// host publishes with the key "key", a guest with "guest"; each finished
// file arrives on the channel.
func recordingIngest(t *testing.T) (*Recorder, chan File, *httptest.Server) {
	t.Helper()
	finished := make(chan File, 4)
	r := &Recorder{Dir: t.TempDir(), Finished: func(_ context.Context, f File) error { finished <- f; return nil }}
	srv := &stream.Server{
		UDPAddr:  "127.0.0.1:0",
		NoTCP:    true,
		EndGrace: 3 * time.Second,
		Recorder: r,
		Keys:     func(_ context.Context, _ uuid.UUID, key string) (bool, error) { return key == "key", nil },
		Guests:   func(_ context.Context, _ uuid.UUID, key string) (bool, error) { return key == "guest", nil },
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
	return r, finished, hs
}
