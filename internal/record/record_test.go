package record

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/record/recordtest"
	"github.com/pavilion-live/pavilion/stream"
)

// fakeClock is the wall clock the recorder sees, moved by the test as the
// media plays, so that seconds of media take milliseconds.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// publisher packetizes a clip as a browser would: VP8 or H.264 and Opus RTP
// with their own random SSRCs, sequence numbers and timestamps.
type publisher struct {
	video, audio     stream.TrackSink
	vpack, apack     rtp.Packetizer
	vi, ai           int
	vTime, aTime     time.Duration // media time sent
	payload          int           // bytes of media sent
	keyframeRequests int
}

func newPublisher(t *testing.T, rec stream.Recording, c *recordtest.Clip) *publisher {
	t.Helper()
	v := rec.Track("video", webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.Mime, ClockRate: 90000}})
	a := rec.Track("audio", webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}})
	if v == nil || a == nil {
		t.Fatalf("%s and Opus tracks are recorded", c.Mime)
	}
	var pay rtp.Payloader = &codecs.VP8Payloader{}
	if c.Mime == webrtc.MimeTypeH264 {
		pay = &codecs.H264Payloader{}
	}
	return &publisher{video: v, audio: a,
		vpack: rtp.NewPacketizer(1200, 96, uuid.New().ID(), pay, rtp.NewRandomSequencer(), 90000),
		apack: rtp.NewPacketizer(1200, 111, uuid.New().ID(), &codecs.OpusPayloader{}, rtp.NewRandomSequencer(), 48000),
	}
}

// play sends d of the clip (looping), moving the clock along.
func (p *publisher) play(c *recordtest.Clip, clock *fakeClock, d time.Duration) {
	end := p.aTime + d
	for p.aTime < end {
		for p.vTime <= p.aTime {
			p.payload += len(c.Video[p.vi%len(c.Video)])
			for _, pkt := range p.vpack.Packetize(c.Video[p.vi%len(c.Video)], 3000) {
				if p.video.WriteRTP(pkt) {
					p.keyframeRequests++
				}
			}
			p.vi++
			p.vTime += recordtest.FrameDur
		}
		p.payload += len(c.Audio[p.ai%len(c.Audio)])
		for _, pkt := range p.apack.Packetize(c.Audio[p.ai%len(c.Audio)], 960) {
			p.audio.WriteRTP(pkt)
		}
		p.ai++
		p.aTime += recordtest.PacketDur
		clock.add(recordtest.PacketDur)
		time.Sleep(100 * time.Microsecond) // let the sinks keep up: their queues are bounded
	}
}

func (p *publisher) leave() { p.video.Close(); p.audio.Close() }

func newRecorder(t *testing.T) (*Recorder, *fakeClock, *[]File) {
	clock := &fakeClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	var done []File
	r := &Recorder{Dir: t.TempDir(), now: clock.now,
		Finished: func(_ context.Context, f File) error { mu.Lock(); done = append(done, f); mu.Unlock(); return nil }}
	return r, clock, &done
}

func near(got, want, tol time.Duration) bool { return got >= want-tol && got <= want+tol }

// format is a kind of recording: a video codec and the file it goes to.
type format struct {
	name  string
	make  func(testing.TB, int) *recordtest.Clip
	codec string // as ffprobe names it
	media string
	ext   string
	// lost: how much of what was sent a file cut by a kill may lack (WebM
	// writes every block as it comes, MP4 a fragment at a time).
	lost time.Duration
}

var formats = []format{
	{name: "VP8-WebM", make: recordtest.Make, codec: "vp8", media: MediaWebM, ext: ".webm", lost: time.Second},
	{name: "H264-MP4", make: recordtest.MakeH264, codec: "h264", media: MediaMP4, ext: ".mp4", lost: 2 * fragMax * time.Millisecond},
}

// eachFormat runs test once per format, as a subtest.
func eachFormat(t *testing.T, test func(t *testing.T, ft format)) {
	for _, ft := range formats {
		t.Run(ft.name, func(t *testing.T) { test(t, ft) })
	}
}

func checkStreams(t *testing.T, path, video string, want time.Duration) {
	t.Helper()
	ss := recordtest.Probe(t, path)
	if len(ss) != 2 {
		t.Fatalf("streams %+v, want video and audio", ss)
	}
	for _, s := range ss {
		if s.Kind == "video" && s.Codec != video || s.Kind == "audio" && s.Codec != "opus" {
			t.Errorf("stream %+v", s)
		}
		if !near(s.Duration, want, 300*time.Millisecond) {
			t.Errorf("%s lasts %v, want %v", s.Kind, s.Duration, want)
		}
	}
	if out := recordtest.Decode(t, path); out != "" {
		t.Errorf("the file does not decode cleanly:\n%s", out)
	}
}

func TestRecordsVideoAndOpus(t *testing.T) { eachFormat(t, testRecordsVideoAndOpus) }

func testRecordsVideoAndOpus(t *testing.T, ft format) {
	clip := ft.make(t, 2)
	r, clock, done := newRecorder(t)
	show := uuid.New()
	rec, err := r.Record(show, stream.RoleHost)
	if err != nil || rec == nil {
		t.Fatal(rec, err)
	}
	p := newPublisher(t, rec, clip)
	p.play(clip, clock, 5*time.Second)
	p.leave()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if len(*done) != 1 {
		t.Fatalf("finished %d files", len(*done))
	}
	f := (*done)[0]
	if f.ShowID != show || f.MediaType != ft.media || !strings.HasPrefix(f.Path, show.String()+"/") || !strings.HasSuffix(f.Path, ft.ext) {
		t.Errorf("file %+v", f)
	}
	if !near(f.Duration, 5*time.Second, 200*time.Millisecond) {
		t.Errorf("duration %v", f.Duration)
	}
	path, _ := r.Path(f.Path)
	st, err := os.Stat(path)
	if err != nil || st.Size() != f.Bytes {
		t.Fatalf("size %v %v, listed %d", st, err, f.Bytes)
	}
	checkStreams(t, path, ft.codec, 5*time.Second)
	if ft.ext == ".mp4" {
		checkIndex(t, path, 5*time.Second)
	}
	// Every frame and audio packet sent is in the file (the last ones too:
	// Close flushes the reorder buffers).
	for _, st := range recordtest.Probe(t, path) {
		sent := p.vi
		if st.Kind == "audio" {
			sent = p.ai
		}
		if st.Packets < sent-1 || st.Packets > sent {
			t.Errorf("%s: %d in the file, %d sent", st.Kind, st.Packets, sent)
		}
	}
	// What the container costs (README, "Disk"): the file less the media
	// sent, per second of show.
	t.Logf("%s: %d bytes of media (%.0f kbit/s), a file of %d bytes: %.0f bytes a second of container (fixed room for cues included)",
		ft.name, p.payload, float64(p.payload)*8/5/1000, f.Bytes, float64(f.Bytes-int64(p.payload))/5)
}

// A publisher that reconnects (new SSRCs, sequence numbers, timestamps)
// goes on in the same file, after the gap it was away.
func TestReconnectContinuesTheFile(t *testing.T) { eachFormat(t, testReconnectContinuesTheFile) }

func testReconnectContinuesTheFile(t *testing.T, ft format) {
	clip := ft.make(t, 2)
	r, clock, done := newRecorder(t)
	rec, _ := r.Record(uuid.New(), stream.RoleHost)
	p := newPublisher(t, rec, clip)
	p.play(clip, clock, 3*time.Second)
	p.leave()
	time.Sleep(50 * time.Millisecond)
	clock.add(2 * time.Second) // away
	p2 := newPublisher(t, rec, clip)
	p2.play(clip, clock, 3*time.Second)
	p2.leave()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if len(*done) != 1 {
		t.Fatalf("finished %d files, want one", len(*done))
	}
	if d := (*done)[0].Duration; !near(d, 8*time.Second, 300*time.Millisecond) {
		t.Errorf("duration %v, want 8 s (3 + 2 away + 3)", d)
	}
	path, _ := r.Path((*done)[0].Path)
	checkStreams(t, path, ft.codec, 8*time.Second)
}

// The file opens on the first keyframe once both tracks are known; a track
// whose sink is behind then hands in frames from before that keyframe.
// Those are left out: each track's times only go forward (CI once saw two
// Opus packets at one time in a file after a node's restart, which ffmpeg
// refuses to decode past).
func TestFramesBeforeTheFilesStartAreLeftOut(t *testing.T) {
	// What put does is the same for both containers: WebM's frames are
	// the simplest to hand in.
	clip := recordtest.Make(t, 2)
	r, _, done := newRecorder(t)
	rec, _ := r.Record(uuid.New(), stream.RoleHost)
	p := newPublisher(t, rec, clip)
	rc := rec.(*Recording)
	vs, as := p.video.(*sink), p.audio.(*sink)
	// Frames as the sinks would hand them in: video from 500 ms, its first
	// a keyframe, which opens the file; audio from 0, handed in after it.
	video := func(i int) frame {
		fr := frame{kind: "video", mime: vs.codec.mime, at: 500 + int64(i)*1000/30, data: clip.Video[i%len(clip.Video)]}
		fr.keyframe, fr.width, fr.height = vp8Key(fr.data)
		return fr
	}
	rc.write(vs, video(0))
	if rc.w == nil {
		t.Fatal("the file did not open on the keyframe")
	}
	next := 1
	for i := range 100 {
		at := int64(i) * 20
		for ; video(next).at <= at; next++ {
			rc.write(vs, video(next))
		}
		rc.write(as, frame{kind: "audio", mime: as.codec.mime, at: at, data: clip.Audio[i%len(clip.Audio)], keyframe: true})
	}
	p.leave()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if len(*done) != 1 {
		t.Fatalf("finished %d files", len(*done))
	}
	path, _ := r.Path((*done)[0].Path)
	if out := recordtest.Decode(t, path); out != "" {
		t.Errorf("the file does not decode cleanly:\n%s", out)
	}
	for _, st := range recordtest.Probe(t, path) {
		if st.Kind == "audio" && st.Packets != 75 {
			t.Errorf("%d audio packets in the file, want the 75 from the keyframe on", st.Packets)
		}
	}
}

// A writer killed mid-show leaves a file that Repair finishes: it plays to
// within ft.lost of what was sent.
func TestKilledWriterLeavesAPlayableFile(t *testing.T) {
	eachFormat(t, testKilledWriterLeavesAPlayableFile)
}

func testKilledWriterLeavesAPlayableFile(t *testing.T, ft format) {
	clip := ft.make(t, 2)
	r, clock, _ := newRecorder(t)
	show := uuid.New()
	rec, _ := r.Record(show, stream.RoleHost)
	p := newPublisher(t, rec, clip)
	p.play(clip, clock, 6*time.Second)
	time.Sleep(100 * time.Millisecond) // the sinks drain into the file
	// What a kill leaves: the bytes written so far, cut mid-block (copied,
	// since this process still writes the original).
	entries, _ := os.ReadDir(filepath.Join(r.Dir, show.String()))
	if len(entries) != 1 {
		t.Fatalf("%d files", len(entries))
	}
	live := filepath.Join(r.Dir, show.String(), entries[0].Name())
	if _, _, err := RepairFile(live); err != ErrBusy {
		t.Errorf("repairing a file being written: %v, want ErrBusy", err)
	}
	b, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	crashed := filepath.Join(t.TempDir(), "crashed"+ft.ext)
	if err := os.WriteFile(crashed, b[:len(b)-37], 0o600); err != nil {
		t.Fatal(err)
	}
	d, size, err := RepairFile(crashed)
	if err != nil {
		t.Fatal(err)
	}
	if d > 6*time.Second+300*time.Millisecond || d < 6*time.Second-ft.lost {
		t.Errorf("repaired duration %v, want 6 s less at most %v", d, ft.lost)
	}
	if st, _ := os.Stat(crashed); st.Size() != size || size >= int64(len(b)-37) {
		t.Errorf("size %d, repaired %d, cut %d", st.Size(), size, len(b)-37)
	}
	checkStreams(t, crashed, ft.codec, d)
	if ft.ext == ".mp4" {
		checkIndex(t, crashed, d)
	}
	p.leave()
	_ = rec.Close()
}

func TestAllowSwitchesRecordingOff(t *testing.T) {
	r := &Recorder{Dir: t.TempDir(), Allow: func(context.Context, uuid.UUID) (bool, error) { return false, nil }}
	rec, err := r.Record(uuid.New(), stream.RoleHost)
	if rec != nil || err != nil {
		t.Fatalf("%v %v, want no recording", rec, err)
	}
	entries, _ := os.ReadDir(r.Dir)
	if len(entries) != 0 {
		t.Errorf("files made: %v", entries)
	}
}

func TestOtherCodecsAreLeftOut(t *testing.T) {
	r := &Recorder{Dir: t.TempDir()}
	rec, _ := r.Record(uuid.New(), stream.RoleHost)
	if s := rec.Track("video", webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1}}); s != nil {
		t.Error("an AV1 track got a sink")
	}
	_ = rec.Close()
}

func TestPathStaysInDir(t *testing.T) {
	r := &Recorder{Dir: t.TempDir()}
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../x"} {
		if _, err := r.Path(bad); err == nil {
			t.Errorf("%q allowed", bad)
		}
	}
}

// TestDiskPerHour records a minute of show at the bench's bitrate (VP8 at
// 1.5 Mbit/s, Opus) into a real file and reports what an hour of show
// costs on disk (README, "Disk"; bench/results/2026-12-04-replay.md). Byte
// counts: the machine's load does not change them.
func TestDiskPerHour(t *testing.T) {
	clip := recordtest.MakeAt(t, 4, "1500k")
	r, clock, done := newRecorder(t)
	rec, _ := r.Record(uuid.New(), stream.RoleHost)
	p := newPublisher(t, rec, clip)
	const show = time.Minute
	p.play(clip, clock, show)
	p.leave()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	f := (*done)[0]
	media := float64(p.payload) * 8 / show.Seconds()
	perHour := float64(f.Bytes-CuesSpace) / show.Seconds() * 3600
	t.Logf("a %v show: %d bytes of media sent (%.0f kbit/s), a file of %d bytes lasting %v: %.2f%% over the media past the fixed %d bytes of cues room; %.0f MB an hour of show",
		show, p.payload, media/1000, f.Bytes, f.Duration, 100*(float64(f.Bytes-CuesSpace)/float64(p.payload)-1), CuesSpace, perHour/1e6)
	if f.Bytes < int64(p.payload) || float64(f.Bytes-CuesSpace) > 1.05*float64(p.payload) {
		t.Errorf("a file of %d bytes for %d bytes of media", f.Bytes, p.payload)
	}
}
