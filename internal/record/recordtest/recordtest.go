// Package recordtest makes media for recording tests with ffmpeg (VP8 in
// IVF or H.264 in Annex B, Opus in Ogg, as a browser would send them) and reads recordings back
// with ffprobe. Outside CI a machine without ffmpeg skips those tests; under
// CI=true it fails them (.ci/run installs ffmpeg).
package recordtest

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// Need skips (or, under CI=true, fails) a test when tool is missing.
func Need(t testing.TB, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true (.ci/run installs ffmpeg)", tool)
		}
		t.Skipf("%s not installed", tool)
	}
	return p
}

// Clip is a test clip: VP8 or H.264 frames (30 per second, a keyframe every
// second) and Opus packets (20 ms each).
type Clip struct {
	// Mime is the video's codec: webrtc.MimeTypeVP8 or MimeTypeH264.
	Mime string
	// Video holds the frames: VP8 frames, or H.264 access units in Annex B
	// (start codes), as pion's payloaders take them.
	Video [][]byte
	Key   []bool
	Audio [][]byte
}

// FrameDur and PacketDur are the clip's frame and audio packet durations.
const (
	FrameDur  = time.Second / 30
	PacketDur = 20 * time.Millisecond
)

// Make encodes a VP8 clip of the given length with ffmpeg.
func Make(t testing.TB, seconds int) *Clip {
	t.Helper()
	return makeVP8(t, seconds, "testsrc=size=320x240:rate=30", "-b:v", "400k", "-g", "30")
}

// MakeAt encodes a VP8 clip of the given length at a constant video
// bitrate (ffmpeg's -b:v, e.g. "1500k": the bench's), 1280x720, a keyframe
// every 2 s as the bench publisher sends, with a moving picture the
// encoder cannot shrink below the rate.
func MakeAt(t testing.TB, seconds int, bitrate string) *Clip {
	t.Helper()
	return makeVP8(t, seconds, "testsrc2=size=1280x720:rate=30",
		"-b:v", bitrate, "-minrate", bitrate, "-maxrate", bitrate, "-g", "60")
}

func makeVP8(t testing.TB, seconds int, src string, rate ...string) *Clip {
	t.Helper()
	ff := Need(t, "ffmpeg")
	dir := t.TempDir()
	ivf := filepath.Join(dir, "v.ivf")
	args := []string{"-v", "error", "-f", "lavfi", "-i", src, "-t", strconv.Itoa(seconds), "-c:v", "libvpx"}
	args = append(append(args, rate...), "-deadline", "realtime", "-cpu-used", "8", ivf)
	run(t, ff, args...)
	c := &Clip{Mime: webrtc.MimeTypeVP8}
	f, err := os.Open(ivf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		c.Video = append(c.Video, b)
		c.Key = append(c.Key, len(b) > 0 && b[0]&1 == 0)
	}
	c.Audio = makeOpus(t, ff, dir, seconds)
	return c
}

// MakeH264 encodes an H.264 clip of the given length with ffmpeg, as a
// browser sends it: constrained baseline (no B-frames), one slice a frame.
func MakeH264(t testing.TB, seconds int) *Clip {
	t.Helper()
	ff := Need(t, "ffmpeg")
	dir := t.TempDir()
	raw := filepath.Join(dir, "v.h264")
	run(t, ff, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30", "-t", strconv.Itoa(seconds),
		"-c:v", "libx264", "-profile:v", "baseline", "-tune", "zerolatency", "-preset", "ultrafast",
		"-b:v", "400k", "-g", "30", "-bf", "0", "-pix_fmt", "yuv420p", "-f", "h264", raw)
	f, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := h264reader.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	c := &Clip{Mime: webrtc.MimeTypeH264}
	// An access unit is the NAL units up to a picture's slices; a non-slice
	// unit or a slice starting at macroblock 0 (first_mb_in_slice, ue(v),
	// is 0 when its first bit is 1) begins the next one. x264 cuts a
	// picture in several slices, as browsers' encoders may.
	var au []byte
	slices, key := false, false
	next := func() {
		if slices {
			c.Video = append(c.Video, au)
			c.Key = append(c.Key, key)
		}
		au, slices, key = nil, false, false
	}
	for {
		nal, err := r.NextNAL()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		slice := nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr || nal.UnitType == h264reader.NalUnitTypeCodedSliceNonIdr
		if slices && (!slice || len(nal.Data) > 1 && nal.Data[1]&0x80 != 0) {
			next()
		}
		au = append(au, 0, 0, 0, 1)
		au = append(au, nal.Data...)
		if slice {
			slices = true
			key = key || nal.UnitType == h264reader.NalUnitTypeCodedSliceIdr
		}
	}
	next()
	c.Audio = makeOpus(t, ff, dir, seconds)
	return c
}

// makeOpus encodes seconds of a tone to Opus packets of 20 ms.
func makeOpus(t testing.TB, ff, dir string, seconds int) [][]byte {
	t.Helper()
	ogg := filepath.Join(dir, "a.ogg")
	run(t, ff, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", strconv.Itoa(seconds),
		"-ac", "2", "-c:a", "libopus", "-b:a", "64k", "-page_duration", "20000", ogg)
	g, err := os.Open(ogg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	o, _, err := oggreader.NewWith(g)
	if err != nil {
		t.Fatal(err)
	}
	var audio [][]byte
	for {
		b, h, err := o.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.GranulePosition == 0 {
			continue // the Opus headers
		}
		audio = append(audio, b)
	}
	return audio
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// Stream is one stream of a probed file.
type Stream struct {
	Kind     string        // "video" or "audio"
	Codec    string        // "vp8", "opus"…
	Duration time.Duration // from the last packet's end; 0 when unknown
	Packets  int
}

// Probe reads a file's streams with ffprobe, counting packets (so the
// durations come from the media, not from a header).
func Probe(t testing.TB, path string) []Stream {
	t.Helper()
	fp := Need(t, "ffprobe")
	out, err := exec.Command(fp, "-v", "error", "-show_entries", "stream=codec_type,codec_name:packet=stream_index,pts_time,duration_time",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var res struct {
		Streams []struct {
			Type  string `json:"codec_type"`
			Codec string `json:"codec_name"`
		} `json:"streams"`
		Packets []struct {
			Stream int    `json:"stream_index"`
			PTS    string `json:"pts_time"`
			Dur    string `json:"duration_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	ss := make([]Stream, len(res.Streams))
	for i, s := range res.Streams {
		ss[i] = Stream{Kind: s.Type, Codec: s.Codec}
	}
	for _, p := range res.Packets {
		if p.Stream < 0 || p.Stream >= len(ss) {
			continue
		}
		pts, _ := strconv.ParseFloat(p.PTS, 64)
		dur, _ := strconv.ParseFloat(p.Dur, 64)
		end := time.Duration((pts + dur) * float64(time.Second))
		ss[p.Stream].Packets++
		ss[p.Stream].Duration = max(ss[p.Stream].Duration, end)
	}
	return ss
}

// Decode decodes the whole file with ffmpeg and returns its error output:
// empty for a file that plays to its end. Frames keep their own timestamps
// (millisecond ones, as WebM has): ffmpeg's default of re-timing them at the
// frame rate would round two 33 ms frames onto one slot and complain.
func Decode(t testing.TB, path string) string {
	t.Helper()
	ff := Need(t, "ffmpeg")
	out, _ := exec.Command(ff, "-v", "error", "-i", path, "-fps_mode", "passthrough", "-enc_time_base", "1:1000", "-f", "null", "-").CombinedOutput()
	return string(out)
}
