package main

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/record"
	"github.com/pavilion-live/pavilion/internal/record/recordtest"
)

func showState(a *api, show string) string {
	return a.must(200, "GET", "/api/shows/"+show, "", nil)["show"].(map[string]any)["state"].(string)
}

// TestReplayOfARealShow publishes a show for 20+ s from a pion peer, with a
// pin and a drop, and a publisher reconnect in the middle; after the end,
// the replay is one recording of the whole show with video and audio, the
// timeline holds the pin and the drop at their offsets, the media seeks
// (range requests) and an offer bought from the replay lands in the ledger.
func TestReplayOfARealShow(t *testing.T) {
	clip := recordtest.Make(t, 4)
	recordtest.Need(t, "ffprobe")
	dataDir := t.TempDir()
	base := startCmd(t, serveCmd(dataDir, nil, "--demo", "--end-grace", "3s"))
	creds := demoCreds(t, "--data-dir", dataDir, "--public-url", base)
	a := newAPI(t, base)
	show, key := creds["show_id"].(string), creds["stream_key"].(string)
	host, brandAdmin, viewer := creds["host_token"].(string), creds["brand_admin_token"].(string), creds["viewer_token"].(string)
	offers := creds["offer_ids"].([]any)
	pinned, dropped := offers[0].(string), offers[len(offers)-1].(string)

	p := recordtest.Publish(t, base, show, key, clip)
	waitUntil(t, "the show is live", 10*time.Second, func() bool { return showState(a, show) == "live" })
	time.Sleep(4 * time.Second)
	a.must(200, "POST", "/api/shows/"+show+"/pin", host, map[string]any{"offer_id": pinned})
	pinAt := time.Since(p.First)
	time.Sleep(5 * time.Second)

	// The host's connection drops; the host is back within the grace period.
	p.Leave()
	firstLeg := time.Since(p.First)
	time.Sleep(time.Second)
	p2 := recordtest.Publish(t, base, show, key, clip)
	gap := p2.First.Sub(p.First) - firstLeg
	time.Sleep(3 * time.Second)
	if st, _ := a.call("POST", "/api/shows/"+show+"/drops", host, "", map[string]any{"offer_id": dropped, "action": "open", "seconds": 60}); st != 200 {
		t.Fatalf("opening a drop: %d", st)
	}
	dropAt := time.Since(p.First)
	time.Sleep(9 * time.Second)
	p2.Leave()
	total := time.Since(p.First)
	t.Logf("published %v (first leg %v), pin at %v, drop at %v", total, firstLeg, pinAt, dropAt)

	waitUntil(t, "the show ends", 15*time.Second, func() bool { return showState(a, show) == "ended" })

	// One recording, continuous across the reconnect.
	files, _ := filepath.Glob(filepath.Join(dataDir, "recordings", show, "*.webm"))
	if len(files) != 1 {
		t.Fatalf("recording files %v, want one", files)
	}
	var rep struct {
		URL        string `json:"url"`
		MediaType  string `json:"media_type"`
		DurationMS int64  `json:"duration_ms"`
		Timeline   []struct {
			AtMS    int64   `json:"at_ms"`
			Type    string  `json:"type"`
			OfferID *string `json:"offer_id"`
		} `json:"timeline"`
	}
	getJSON(t, base+"/api/shows/"+show+"/replay", "", &rep)
	if rep.MediaType != "video/webm" || rep.URL == "" {
		t.Fatalf("replay %+v", rep)
	}
	if d := time.Duration(rep.DurationMS) * time.Millisecond; math.Abs(float64(d-total)) > float64(1500*time.Millisecond) {
		t.Errorf("replay lasts %v, the show was published for %v", d, total)
	}
	marks := map[string]int64{}
	for _, m := range rep.Timeline {
		if m.OfferID != nil {
			marks[m.Type+" "+*m.OfferID] = m.AtMS
		}
	}
	for what, want := range map[string]time.Duration{"pin " + pinned: pinAt, "drop " + dropped: dropAt} {
		got, ok := marks[what]
		if !ok {
			t.Errorf("timeline %+v has no %s", rep.Timeline, what)
			continue
		}
		if d := time.Duration(got)*time.Millisecond - want; d.Abs() > time.Second {
			t.Errorf("%s at %d ms in the replay, happened %v into the show", what, got, want)
		}
	}

	// Seeking: a range request gets just that range.
	res, part := getRange(t, base+rep.URL, "bytes=1000-1999")
	if res.StatusCode != http.StatusPartialContent || len(part) != 1000 || !strings.HasPrefix(res.Header.Get("Content-Range"), "bytes 1000-1999/") {
		t.Errorf("range request: %d, %d bytes, %q", res.StatusCode, len(part), res.Header.Get("Content-Range"))
	}
	// The whole file, as served, has video and audio of the show's length.
	res, err := http.Get(base + rep.URL)
	if err != nil {
		t.Fatal(err)
	}
	served := filepath.Join(t.TempDir(), "replay.webm")
	out, _ := os.Create(served)
	n, _ := io.Copy(out, res.Body)
	out.Close()
	res.Body.Close()
	st, _ := os.Stat(files[0])
	var payload int
	for _, f := range clip.Video {
		payload += len(f)
	}
	for _, f := range clip.Audio {
		payload += len(f)
	}
	// Disk per hour: the file less its fixed part (the cues' room), over
	// the time media flowed (the show less the reconnect gap), against the
	// clip's own media rate.
	clipRate := float64(payload) / (float64(len(clip.Video)) * recordtest.FrameDur.Seconds())
	fileRate := float64(n-record.CuesSpace) / (total - gap).Seconds()
	t.Logf("replay file: %d bytes for %v (%v without media): %.0f kbit/s of file past the fixed %d bytes of cues room, for %.0f kbit/s of media: %.1f%% container overhead, %.1f MB per hour",
		n, total, gap, fileRate*8/1000, record.CuesSpace, clipRate*8/1000, 100*(fileRate/clipRate-1), fileRate*3600/1e6)
	if n != st.Size() {
		t.Errorf("served %d bytes of %d", n, st.Size())
	}
	streams := recordtest.Probe(t, served)
	kinds := map[string]time.Duration{}
	for _, s := range streams {
		kinds[s.Kind+"/"+s.Codec] = s.Duration
	}
	// And about all of it: the frames and packets sent in both sessions
	// (the first few of each session go while its tracks are bound).
	sentBy := map[string]int64{"video": p.Video.Load() + p2.Video.Load(), "audio": p.Audio.Load() + p2.Audio.Load()}
	for _, st := range streams {
		if float64(st.Packets) < 0.95*float64(sentBy[st.Kind]) || int64(st.Packets) > sentBy[st.Kind] {
			t.Errorf("%s: %d in the file of %d sent", st.Kind, st.Packets, sentBy[st.Kind])
		}
	}
	for _, k := range []string{"video/vp8", "audio/opus"} {
		if d, ok := kinds[k]; !ok || math.Abs(float64(d-total)) > float64(1500*time.Millisecond) {
			t.Errorf("%s lasts %v (present %v), want about %v; streams %+v", k, d, ok, total, streams)
		}
	}

	// Shop the replay: closed with the show until the brand keeps it open.
	buy := func() int {
		st, _ := a.call("POST", "/api/reservations", viewer, uuid.NewString(), map[string]any{"offer_id": pinned, "quantity": 1})
		return st
	}
	if st := buy(); st != http.StatusConflict {
		t.Errorf("buying from an ended show without replay sales: %d, want 409", st)
	}
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	a.must(200, "PUT", "/api/shows/"+show+"/replay/settings", brandAdmin, map[string]any{"record": true, "replay_sales_until": until})
	status, res2 := a.call("POST", "/api/reservations", viewer, uuid.NewString(), map[string]any{"offer_id": pinned, "quantity": 1})
	if status != http.StatusCreated {
		t.Fatalf("buying from the replay: %d %v", status, res2)
	}
	resID := res2["reservation"].(map[string]any)["id"].(string)
	order := a.must(201, "POST", "/api/orders", viewer, map[string]any{"reservation_id": resID,
		"shipping": map[string]string{"name": "Buyer", "line1": "1 Rue", "city": "Lyon", "country": "FR"}, "payment_token": "tok_visa"})["order"].(map[string]any)
	got := a.must(200, "GET", "/api/orders/"+order["id"].(string), brandAdmin, nil)["order"].(map[string]any)
	if got["state"] != "paid" || got["offer_id"] != pinned {
		t.Errorf("order from the replay: %v", got)
	}
}

// TestKilledNodeLeavesAPlayableRecording kills the node mid-show; on the
// next start the file is finished, and it plays up to the kill; the host
// carries on on the restarted node, and after the end the replay is one
// file of the whole show: a VP8 show in WebM, an H.264 one in fragmented
// MP4, and a VP8 show recorded to an S3-compatible bucket.
func TestKilledNodeLeavesAPlayableRecording(t *testing.T) {
	for _, ft := range []struct {
		name, ext, media string
		make             func(testing.TB, int) *recordtest.Clip
		bucket           bool
	}{
		{"VP8-WebM", ".webm", record.MediaWebM, recordtest.Make, false},
		{"H264-MP4", ".mp4", record.MediaMP4, recordtest.MakeH264, false},
		{"VP8-WebM-S3", ".webm", record.MediaWebM, recordtest.Make, true},
	} {
		t.Run(ft.name, func(t *testing.T) {
			dataDir := t.TempDir()
			st := dirStorage(dataDir, ft.ext)
			if ft.bucket {
				st = bucketStorage(t)
			}
			testKilledNode(t, ft.make(t, 4), dataDir, st, ft.ext, ft.media)
		})
	}
}

// storage is where a test's node keeps its recordings: the serve flags,
// and the show's stored files (fetched to local paths).
type storage struct {
	args  []string
	env   []string
	files func(t *testing.T, show string) []string
}

func dirStorage(dataDir, ext string) storage {
	return storage{files: func(t *testing.T, show string) []string {
		files, _ := filepath.Glob(filepath.Join(dataDir, "recordings", show, "*"+ext))
		return files
	}}
}

func testKilledNode(t *testing.T, clip *recordtest.Clip, dataDir string, st storage, ext, media string) {
	recordtest.Need(t, "ffprobe")
	first := serveCmd(dataDir, st.env, append([]string{"--demo", "--end-grace", "2s"}, st.args...)...)
	base := startCmd(t, first)
	creds := demoCreds(t, "--data-dir", dataDir, "--public-url", base)
	a := newAPI(t, base)
	show, key := creds["show_id"].(string), creds["stream_key"].(string)

	p := recordtest.Publish(t, base, show, key, clip)
	waitUntil(t, "the show is live", 10*time.Second, func() bool { return showState(a, show) == "live" })
	time.Sleep(8 * time.Second)
	sent := time.Since(p.First)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	p.Leave()

	// What the node was writing (a bucket's node writes in its spool).
	spool, _ := filepath.Glob(filepath.Join(dataDir, "recordings", show, "*"+ext))
	if len(spool) != 1 {
		t.Fatalf("recording files %v", spool)
	}
	// The restart repairs the file before it serves (the replay below
	// can only list it once it is finished), and stores it.
	base = startCmd(t, serveCmd(dataDir, st.env, append([]string{"--end-grace", "2s"}, st.args...)...))
	files := st.files(t, show)
	if len(files) != 1 {
		t.Fatalf("recording files after the restart %v", files)
	}
	if out := recordtest.Decode(t, files[0]); out != "" {
		t.Errorf("the killed node's file does not decode cleanly:\n%s", out)
	}
	for _, s := range recordtest.Probe(t, files[0]) {
		// A kill loses what was in flight: at most a few seconds.
		if s.Duration < sent-3*time.Second || s.Duration > sent+time.Second {
			t.Errorf("%s/%s lasts %v; %v was sent before the kill", s.Kind, s.Codec, s.Duration, sent)
		}
	}

	// The host carries on on the restarted node, then ends: the replay is
	// one file of the whole show, the file from before the kill and the
	// one from after it joined, the restart a gap in it.
	a = newAPI(t, base)
	p2 := recordtest.Publish(t, base, show, key, clip)
	time.Sleep(5 * time.Second)
	p2.Leave()
	total := time.Since(p.First)
	waitUntil(t, "the show ends", 15*time.Second, func() bool { return showState(a, show) == "ended" })
	var joined []string
	waitUntil(t, "one recording file", 20*time.Second, func() bool {
		joined = st.files(t, show)
		return len(joined) == 1 && filepath.Base(joined[0]) != filepath.Base(files[0])
	})
	var rep struct {
		URL        string `json:"url"`
		MediaType  string `json:"media_type"`
		DurationMS int64  `json:"duration_ms"`
	}
	getJSON(t, base+"/api/shows/"+show+"/replay", "", &rep)
	t.Logf("published %v in all (%v before the kill); the replay lasts %d ms", total, sent, rep.DurationMS)
	// The replay starts with the first file and ends with the second:
	// only what was in flight at the kill (up to 3 s) is missing.
	if d := time.Duration(rep.DurationMS) * time.Millisecond; d < total-2*time.Second || d > total+time.Second {
		t.Errorf("the replay lasts %v; the show was published for %v", d, total)
	}
	if rep.MediaType != media {
		t.Errorf("replay media type %q, want %q", rep.MediaType, media)
	}
	if out := recordtest.Decode(t, joined[0]); out != "" {
		t.Errorf("the joined file does not decode cleanly:\n%s", out)
	}
	for _, s := range recordtest.Probe(t, joined[0]) {
		if s.Duration < total-2*time.Second || s.Duration > total+time.Second {
			t.Errorf("%s/%s lasts %v in the joined file; the show was published for %v", s.Kind, s.Codec, s.Duration, total)
		}
	}
	// The joined file seeks like any other: a range request gets that range.
	res, part := getRange(t, base+rep.URL, "bytes=100-199")
	whole, _ := os.ReadFile(joined[0])
	if res.StatusCode != http.StatusPartialContent || res.Header.Get("Content-Type") != media || len(whole) < 200 || string(part) != string(whole[100:200]) {
		t.Errorf("range request: %d %q, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(part))
	}
}

// getRange GETs a range of url (a Range header's value).
func getRange(t *testing.T, url, ranges string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Range", ranges)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// getJSON GETs url and decodes a 200 answer into v.
func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	status, body := get(t, url, token)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
