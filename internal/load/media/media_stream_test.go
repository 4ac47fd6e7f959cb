package media

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pavilion-live/pavilion/internal/load/scenario"
	"github.com/pavilion-live/pavilion/stream"
)

// TestWHIPToWHEP publishes with runWhip to a real stream.Server and watches
// with three runWhep viewers.
func TestWHIPToWHEP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real WebRTC sessions for a few seconds")
	}
	base := runtime.NumGoroutine()
	reg := prometheus.NewRegistry()
	show := uuid.New()
	const key = "sk_pavload_test"
	srv := &stream.Server{
		UDPAddr: "127.0.0.1:0",
		Keys: func(_ context.Context, id uuid.UUID, k string) (bool, error) {
			return id == show && k == key, nil
		},
		TrackWait: 5 * time.Second,
		Metrics:   stream.NewMetrics(reg),
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whip/{show}", srv.WHIP)
	mux.HandleFunc("POST /whep/{show}", srv.WHEP)
	mux.HandleFunc("DELETE /whip/{show}/{session}", srv.Delete)
	mux.HandleFunc("DELETE /whep/{show}/{session}", srv.Delete)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := httptest.NewServer(mux)
	defer func() {
		hs.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("closing the stream server: %v", err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > base+2 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines: %d now, %d before\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	common := scenario.Common{Base: hs.URL, ShowID: show.String(), MetricsURL: hs.URL + "/metrics"}

	// The publisher runs until told to stop.
	pubCtx, stopPub := context.WithCancel(ctx)
	defer stopPub()
	var pubOut bytes.Buffer
	type pubResult struct {
		rep *whipReport
		err error
	}
	pubDone := make(chan pubResult, 1)
	go func() {
		cfg := &whipConfig{Common: common, key: key, bitrate: 500_000, fps: 30, keyEvery: 2 * time.Second,
			width: 640, height: 360, audio: true, audioBitrate: 48_000, timeout: 10 * time.Second, feedback: true}
		rep, err := runWhip(pubCtx, cfg, &pubOut)
		pubDone <- pubResult{rep, err}
	}()

	var videoPackets int64
	// Both engines, one after the other, against the same publisher.
	for _, engine := range []string{engineLite, enginePion} {
		t.Logf("--engine %s", engine)
		var out bytes.Buffer
		cfg := &whepConfig{Common: common, viewers: 3, ramp: 10, concurrency: 3, duration: 2 * time.Second,
			timeout: 10 * time.Second, engine: engine, feedback: engine == enginePion, interval: 50 * time.Millisecond}
		// The viewers may come before the publisher's media: they retry the 503,
		// and before the publisher at all: then the server answers 404.
		var rep *whepReport
		var err error
		for range 20 {
			out.Reset()
			rep, err = runWhep(ctx, cfg, &out)
			if err != nil || rep.Connect.Failures["http 404"] == 0 {
				break // done, or failed for another reason (reported below)
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Log(out.String())
		if err != nil {
			t.Fatalf("whep: %v", err)
		}

		if rep.Connect.Connected != 3 || rep.Connect.Failed != 0 {
			t.Fatalf("connected %d, failed %d (%v), want 3 and 0", rep.Connect.Connected, rep.Connect.Failed, rep.Connect.Failures)
		}
		video, audio := rep.Tracks["video"], rep.Tracks["audio"]
		if video.Viewers != 3 || audio.Viewers != 3 {
			t.Fatalf("video at %d viewers, audio at %d, want 3 each", video.Viewers, audio.Viewers)
		}
		if video.Codec != "video/vp8" || audio.Codec != "audio/opus" {
			t.Fatalf("codecs %q and %q", video.Codec, audio.Codec)
		}
		if video.Packets == 0 || audio.Packets == 0 || video.Expected < video.Packets {
			t.Fatalf("video %d packets (%d expected), audio %d", video.Packets, video.Expected, audio.Packets)
		}
		if rep.LossPct != 0 || video.Lost != 0 || audio.Lost != 0 {
			t.Fatalf("loss on loopback: %.3f%% (video %d, audio %d lost)", rep.LossPct, video.Lost, audio.Lost)
		}
		if rep.NoKeyframe != 0 || rep.TimeToFirstKeyframe.Count != 3 || rep.TimeToFirstPacket.Count != 3 {
			t.Fatalf("keyframes at %d viewers, first packets at %d, %d without a keyframe",
				rep.TimeToFirstKeyframe.Count, rep.TimeToFirstPacket.Count, rep.NoKeyframe)
		}
		if rep.TimeToFirstKeyframe.P50Ms < rep.TimeToFirstPacket.P50Ms && rep.TimeToFirstKeyframe.MaxMs < rep.TimeToFirstPacket.MaxMs {
			t.Fatalf("first keyframe (%+v) before the first packet (%+v)", rep.TimeToFirstKeyframe, rep.TimeToFirstPacket)
		}
		if video.Stamped == 0 || audio.Stamped == 0 || rep.Latency["video"].Count == 0 || rep.Latency["audio"].Count == 0 {
			t.Fatalf("no send times read: video %d stamped, audio %d; latency %+v", video.Stamped, audio.Stamped, rep.Latency)
		}

		// What the sequence numbers cannot show: frames the server skipped.
		if rep.Server.Skips == nil || *rep.Server.Skips != 0 {
			t.Fatalf("server skips %v, want 0 read from /metrics (errors %v)", rep.Server.Skips, rep.Server.ScrapeErrors)
		}
		for _, kind := range []string{"video", "audio"} {
			f := rep.Frames[kind]
			if f.Viewers != 3 || f.Expected == 0 || f.Received != f.Expected || f.Missing != 0 {
				t.Fatalf("%s frames: %+v, want all 3 viewers with every frame", kind, f)
			}
		}
		if d := rep.Delivery; d.Viewers != 3 || d.SourceMbit <= 0 || d.MinMbit <= 0 {
			t.Fatalf("delivery %+v: want a rate for 3 viewers and the source's", d)
		}
		if rep.TimeToConnected.Count != 3 {
			t.Fatalf("time to connected at %d viewers, want 3", rep.TimeToConnected.Count)
		}
		videoPackets = rep.Tracks["video"].Packets
	}
	stopPub()
	pr := <-pubDone
	t.Log(pubOut.String())
	if pr.err != nil && pr.err != context.Canceled {
		t.Fatalf("whip: %v", pr.err)
	}

	p := pr.rep
	if p.DeleteStatus != "ok" || p.EndedBy != "interrupted" {
		t.Fatalf("publisher ended by %q, DELETE %q", p.EndedBy, p.DeleteStatus)
	}
	if p.Keyframes == 0 || p.VideoPackets < videoPackets/3 || p.WriteErrors != 0 {
		t.Fatalf("publisher sent %d keyframes, %d video packets (viewers got %d each on average), %d write errors",
			p.Keyframes, p.VideoPackets, videoPackets/3, p.WriteErrors)
	}
}
