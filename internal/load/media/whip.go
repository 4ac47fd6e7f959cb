package media

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// whipConfig is everything `pavload whip` is told.
type whipConfig struct {
	scenario.Common
	key   string
	token string

	bitrate      int
	fps          float64
	keyEvery     time.Duration
	width        int
	height       int
	audio        bool
	audioBitrate int
	file         string
	duration     time.Duration
	timeout      time.Duration
	feedback     bool
	progress     time.Duration
}

const whipUsage = `Usage: pavload whip [flags]

One WHIP publisher (POST /whip/{show}, RFC 9725) on pion/webrtc: a
synthetic VP8 video at --bitrate and --fps with a keyframe every
--keyframe-interval (and at once when the server asks for one), plus Opus
(20 ms packets at --audio-bitrate). The frames are shaped like an encoder's
(VP8 payload descriptor, frame tag, keyframe start code and size) and every
RTP payload carries the frame number and its send time, which pavload whep
turns into end-to-end latency. With --file it sends an IVF (VP8) or Annex-B
H.264 file instead, looping (no send times then).

Unless --key is given it asks for a fresh stream key first
(POST /api/shows/{id}/stream-key as a host or brand admin: --token, or the
demo file's brand admin token); that replaces the show's old key.

It publishes for --duration (0: until interrupted), then DELETEs its
session and prints what it sent (and the JSON with --json).

  pavilion demo --json --data-dir ./data > demo.json
  pavload whip --demo demo.json --duration 60s

Flags:`

func (c *whipConfig) register(fs *flag.FlagSet) {
	c.RegisterCommon(fs, "platform admin bearer token: asks for the stream key when --token is not given (default: from --demo)",
		"show to publish (default: show_id from --demo)")
	fs.StringVar(&c.key, "key", "", "the show's stream key (default: ask the server for a fresh one)")
	fs.StringVar(&c.token, "token", "", "host or brand admin bearer token, to ask for the stream key (default: brand_admin_token from --demo)")
	fs.IntVar(&c.bitrate, "bitrate", 1_500_000, "video bitrate, bits a second (synthetic video)")
	fs.Float64Var(&c.fps, "fps", 30, "video frames a second")
	fs.DurationVar(&c.keyEvery, "keyframe-interval", 2*time.Second, "time between keyframes (synthetic video)")
	fs.IntVar(&c.width, "width", 1280, "video width written in keyframes (synthetic video)")
	fs.IntVar(&c.height, "height", 720, "video height written in keyframes (synthetic video)")
	fs.BoolVar(&c.audio, "audio", true, "send an Opus track too")
	fs.IntVar(&c.audioBitrate, "audio-bitrate", 48_000, "Opus bitrate, bits a second")
	fs.StringVar(&c.file, "file", "", "send this IVF (VP8) or Annex-B H.264 file as the video, looping, instead of synthetic frames")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to publish (0: until interrupted)")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "bound on each HTTP request and on ICE connecting")
	fs.BoolVar(&c.feedback, "feedback", true, "answer NACKs and send sender reports, as a browser does")
	fs.DurationVar(&c.progress, "progress", 5*time.Second, "print a progress line this often (0: never)")
}

func (c *whipConfig) complete(ctx context.Context) error {
	d, err := c.LoadDemo()
	if err != nil {
		return err
	}
	if d != nil {
		c.token = scenario.FirstSet(c.token, scenario.FirstSet(d.BrandAdminToken, d.HostToken))
	}
	c.token = scenario.FirstSet(c.token, c.AdminToken)
	p := needTarget(&c.Common)
	p.need(c.key != "" || c.token != "", "give --key, or --token (or --demo) to ask for one")
	p.need(c.bitrate >= 50_000 && c.bitrate <= 50_000_000, "--bitrate must be from 50000 to 50000000 bits a second")
	p.need(c.fps >= 1 && c.fps <= 120, "--fps must be from 1 to 120")
	p.need(c.keyEvery > 0, "--keyframe-interval must be positive")
	p.need(c.width >= 16 && c.width <= 16383 && c.height >= 16 && c.height <= 16383, "--width and --height must be from 16 to 16383")
	p.need(c.audioBitrate >= 6_000 && c.audioBitrate <= 510_000, "--audio-bitrate must be from 6000 to 510000")
	p.need(c.duration >= 0, "--duration must not be negative")
	p.need(c.timeout > 0, "--timeout must be positive")
	p.need(c.progress >= 0, "--progress must not be negative")
	if err := p.err(); err != nil {
		return err
	}
	if err := requireLoopback(ctx, c.Base); err != nil {
		return err
	}
	if c.file != "" {
		f, err := openVideoFile(c.file)
		if err != nil {
			return err
		}
		f.close()
	}
	return nil
}

// WHIP is `pavload whip` with its arguments.
func WHIP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg whipConfig
	if _, err := scenario.ParseFlags("whip", whipUsage, args, stderr, cfg.register); err != nil {
		return err
	}
	if err := cfg.complete(ctx); err != nil {
		return fmt.Errorf("whip: %w", err)
	}
	_, err := scenario.RunReport(&cfg.Common, stdout, func() (*whipReport, error) { return runWhip(ctx, &cfg, stdout) })
	return err
}

// whipReport is every figure of a `pavload whip` run; --json writes it as is.
type whipReport struct {
	Label          string             `json:"label,omitempty"`
	Base           string             `json:"base_url"`
	ShowID         string             `json:"show_id"`
	Location       string             `json:"location,omitempty"`
	StartedAt      time.Time          `json:"started_at"`
	FinishedAt     time.Time          `json:"finished_at"`
	Client         measure.ClientInfo `json:"client"`
	Source         string             `json:"source"` // synthetic VP8, or the file and its codec
	Bitrate        int                `json:"bitrate_target"`
	FPS            float64            `json:"fps"`
	KeyframeEveryS float64            `json:"keyframe_interval_seconds"`
	Audio          bool               `json:"audio"`
	KeyFetched     bool               `json:"stream_key_fetched"` // asked the server for a fresh key

	NegotiateMs  float64 `json:"negotiate_ms"`     // POST /whip until the answer
	ConnectedMs  float64 `json:"ice_connected_ms"` // POST /whip until the PeerConnection connected
	Seconds      float64 `json:"seconds"`          // publishing
	VideoFrames  int64   `json:"video_frames"`
	Keyframes    int64   `json:"keyframes"`
	ForcedKeys   int64   `json:"forced_keyframes"` // sent early because the server asked
	VideoPackets int64   `json:"video_packets"`
	VideoBytes   int64   `json:"video_payload_bytes"`
	VideoBitrate float64 `json:"video_bitrate"` // payload bits a second, as sent
	AudioPackets int64   `json:"audio_packets"`
	AudioBytes   int64   `json:"audio_payload_bytes"`
	LateFrames   int64   `json:"late_frames"` // sent more than a frame time behind schedule
	WriteErrors  int64   `json:"write_errors"`
	PLIs         int64   `json:"plis_received"`
	FIRs         int64   `json:"firs_received"`
	NACKs        int64   `json:"nacks_received"` // NACK packets (each may ask for several)
	EndedBy      string  `json:"ended_by"`       // duration, interrupted, connection <state>
	DeleteStatus string  `json:"delete,omitempty"`
	ClientCPUPct float64 `json:"client_cpu_pct"` // pavload's own CPU while publishing
}

// publisherCounters are what the send loops and RTCP readers count.
type publisherCounters struct {
	frames, keys, forced, vpkts, vbytes, apkts, abytes, late, writeErrs atomic.Int64
	plis, firs, nacks                                                   atomic.Int64
	wantKey                                                             atomic.Bool
}

// runWhip publishes until --duration ends or ctx is cancelled, and returns
// the report; the report is returned, as far as it got, with an error too.
func runWhip(ctx context.Context, cfg *whipConfig, out io.Writer) (*whipReport, error) {
	rep := &whipReport{
		Label: cfg.Label, Base: cfg.Base, ShowID: cfg.ShowID, StartedAt: time.Now().UTC(),
		Client:  measure.ClientInfo{GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)},
		Bitrate: cfg.bitrate, FPS: cfg.fps, KeyframeEveryS: cfg.keyEvery.Seconds(), Audio: cfg.audio,
		Source: "synthetic VP8",
	}
	fmt.Fprintf(out, "pavload whip %sagainst %s, show %s\n", scenario.LabelPrefix(cfg.Label), cfg.Base, cfg.ShowID)

	key := cfg.key
	if key == "" {
		c, err := apiclient.NewClient(cfg.Base, 2, cfg.timeout)
		if err != nil {
			return rep, err
		}
		var got struct {
			StreamKey string `json:"stream_key"`
		}
		err = c.Call(ctx, http.MethodPost, "/api/shows/"+url.PathEscape(cfg.ShowID)+"/stream-key", cfg.token, nil, &got, http.StatusCreated)
		c.Close()
		if err != nil {
			return rep, fmt.Errorf("asking for a stream key: %w", err)
		}
		if got.StreamKey == "" {
			return rep, errors.New("the server answered without a stream key")
		}
		key, rep.KeyFetched = got.StreamKey, true
	}

	api, err := newRTCAPI(rtcOptions{publisher: true, feedback: cfg.feedback, localOnly: true})
	if err != nil {
		return rep, err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return rep, err
	}
	defer pc.Close()

	streamID := "pavload-" + scenario.NewRunID()
	var file *videoFile
	var videoRTP *webrtc.TrackLocalStaticRTP
	var videoSample *webrtc.TrackLocalStaticSample
	var video webrtc.TrackLocal
	if cfg.file != "" {
		if file, err = openVideoFile(cfg.file); err != nil {
			return rep, err
		}
		defer file.close()
		rep.Source = cfg.file + " (" + file.mime + ")"
		videoSample, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: file.mime}, "video", streamID)
		video = videoSample
	} else {
		videoRTP, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: videoClockRate}, "video", streamID)
		video = videoRTP
	}
	if err != nil {
		return rep, err
	}
	var n publisherCounters
	var readers sync.WaitGroup
	defer readers.Wait() // after pc.Close (deferred later, runs first)
	addTrack := func(t webrtc.TrackLocal) error {
		sender, err := pc.AddTrack(t)
		if err != nil {
			return err
		}
		readers.Go(func() { readPublisherRTCP(sender, &n) })
		return nil
	}
	if err := addTrack(video); err != nil {
		return rep, err
	}
	var audio *webrtc.TrackLocalStaticRTP
	if cfg.audio {
		audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: audioClockRate, Channels: 2}, "audio", streamID)
		if err != nil {
			return rep, err
		}
		if err := addTrack(audio); err != nil {
			return rep, err
		}
	}
	defer pc.Close()

	connected := make(chan struct{})
	failed := make(chan string, 1)
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		switch s {
		case webrtc.PeerConnectionStateConnected:
			once.Do(func() { close(connected) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed, webrtc.PeerConnectionStateDisconnected:
			select {
			case failed <- "connection " + s.String():
			default:
			}
		}
	})

	hc := newMediaHTTP(2, cfg.timeout)
	defer hc.CloseIdleConnections()
	start := time.Now()
	sess, err := negotiate(ctx, hc, pc, strings.TrimRight(cfg.Base, "/")+"/whip/"+url.PathEscape(cfg.ShowID), key)
	if err != nil {
		return rep, fmt.Errorf("POST /whip: %w", err)
	}
	rep.Location = sess.location
	rep.NegotiateMs = measure.Millis(time.Since(start))
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.timeout)
		defer cancel()
		if err := sess.end(dctx, hc, key); err != nil {
			rep.DeleteStatus = err.Error()
		} else {
			rep.DeleteStatus = "ok"
		}
	}()
	timer := time.NewTimer(cfg.timeout)
	select {
	case <-connected:
		timer.Stop()
	case <-timer.C:
		return rep, fmt.Errorf("ICE did not connect within %s", cfg.timeout)
	case st := <-failed:
		timer.Stop()
		return rep, fmt.Errorf("before media: %s", st)
	case <-ctx.Done():
		timer.Stop()
		return rep, ctx.Err()
	}
	rep.ConnectedMs = measure.Millis(time.Since(start))
	fmt.Fprintf(out, "publishing (answer in %.1f ms, connected in %.1f ms): %s", rep.NegotiateMs, rep.ConnectedMs, rep.Source)
	if file == nil {
		fmt.Fprintf(out, " at %.4g Mbit/s, %g fps, a keyframe every %s", float64(cfg.bitrate)/1e6, cfg.fps, cfg.keyEvery)
	}
	if cfg.audio {
		fmt.Fprintf(out, ", Opus at %d kbit/s", cfg.audioBitrate/1000)
	}
	fmt.Fprintln(out)

	// The send loops run until stop is closed.
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	sendStart := time.Now()
	cpuStart := measure.ProcessCPU()
	var loops sync.WaitGroup
	seq, ts := uint16(rand.Uint32()), rand.Uint32()
	if file != nil {
		loops.Go(func() { sendFile(runCtx, file, videoSample, cfg.fps, &n) })
	} else {
		src := newVP8Source(cfg.bitrate, cfg.fps, cfg.keyEvery, cfg.width, cfg.height, seq, ts)
		loops.Go(func() { sendVP8(runCtx, src, videoRTP, &n) })
	}
	if audio != nil {
		src := newOpusSource(cfg.audioBitrate, uint16(rand.Uint32()), rand.Uint32())
		loops.Go(func() { sendOpus(runCtx, src, audio, &n) })
	}
	var progress <-chan time.Time
	if cfg.progress > 0 {
		t := time.NewTicker(cfg.progress)
		defer t.Stop()
		progress = t.C
	}
	var end <-chan time.Time
	if cfg.duration > 0 {
		t := time.NewTimer(cfg.duration)
		defer t.Stop()
		end = t.C
	}
wait:
	for {
		select {
		case <-end:
			rep.EndedBy = "duration"
			break wait
		case <-ctx.Done():
			rep.EndedBy = "interrupted"
			break wait
		case st := <-failed:
			rep.EndedBy = st
			break wait
		case <-progress:
			secs := time.Since(sendStart).Seconds()
			fmt.Fprintf(out, "  %5.0fs  %d frames (%d keyframes, %d asked for), %.3g Mbit/s video, PLIs %d, NACKs %d\n",
				secs, n.frames.Load(), n.keys.Load(), n.forced.Load(), float64(n.vbytes.Load())*8/secs/1e6, n.plis.Load(), n.nacks.Load())
		}
	}
	stop()
	loops.Wait()
	took := time.Since(sendStart)
	rep.Seconds = measure.Round3(took.Seconds())
	rep.ClientCPUPct = measure.Round1(100 * (measure.ProcessCPU() - cpuStart).Seconds() / took.Seconds())
	rep.VideoFrames, rep.Keyframes, rep.ForcedKeys = n.frames.Load(), n.keys.Load(), n.forced.Load()
	rep.VideoPackets, rep.VideoBytes = n.vpkts.Load(), n.vbytes.Load()
	rep.VideoBitrate = measure.Round1(float64(rep.VideoBytes) * 8 / took.Seconds())
	rep.AudioPackets, rep.AudioBytes = n.apkts.Load(), n.abytes.Load()
	rep.LateFrames, rep.WriteErrors = n.late.Load(), n.writeErrs.Load()
	rep.PLIs, rep.FIRs, rep.NACKs = n.plis.Load(), n.firs.Load(), n.nacks.Load()
	fmt.Fprintf(out, "\nsent for %.1fs (%s): %d video frames (%d keyframes, %d of them asked for), %d packets, %.3g Mbit/s; %d audio packets\n",
		rep.Seconds, rep.EndedBy, rep.VideoFrames, rep.Keyframes, rep.ForcedKeys, rep.VideoPackets, rep.VideoBitrate/1e6, rep.AudioPackets)
	fmt.Fprintf(out, "server asked for keyframes %d times (PLI %d, FIR %d), sent %d NACKs; %d frames late, %d write errors; pavload CPU %.1f%%\n",
		rep.PLIs+rep.FIRs, rep.PLIs, rep.FIRs, rep.NACKs, rep.LateFrames, rep.WriteErrors, rep.ClientCPUPct)
	rep.FinishedAt = time.Now().UTC()
	if strings.HasPrefix(rep.EndedBy, "connection") {
		return rep, fmt.Errorf("the server ended the session: %s", rep.EndedBy)
	}
	return rep, nil
}

// readPublisherRTCP counts the server's keyframe requests and NACKs and
// turns a keyframe request into a keyframe on the next frame.
func readPublisherRTCP(sender *webrtc.RTPSender, n *publisherCounters) {
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication:
				n.plis.Add(1)
				n.wantKey.Store(true)
			case *rtcp.FullIntraRequest:
				n.firs.Add(1)
				n.wantKey.Store(true)
			case *rtcp.TransportLayerNack:
				n.nacks.Add(1)
			}
		}
	}
}

// paceFrames calls send(i, now) for i = 0, 1, … every interval, on a schedule
// that does not drift, until ctx ends. A call that finds itself more than
// an interval behind counts as late (and the schedule does not try to
// catch up with a burst).
func paceFrames(ctx context.Context, interval time.Duration, late *atomic.Int64, send func(i int, now time.Time)) {
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		now := time.Now()
		due := start.Add(time.Duration(i) * interval)
		if late != nil && now.Sub(due) > interval {
			late.Add(1)
			start = now.Add(-time.Duration(i) * interval)
		}
		send(i, now)
		timer.Reset(time.Until(start.Add(time.Duration(i+1) * interval)))
	}
}

func sendVP8(ctx context.Context, src *vp8Source, track *webrtc.TrackLocalStaticRTP, n *publisherCounters) {
	paceFrames(ctx, time.Duration(float64(time.Second)/src.fps), &n.late, func(_ int, now time.Time) {
		forced := n.wantKey.Swap(false)
		pkts, key := src.next(now, forced)
		n.frames.Add(1)
		if key {
			n.keys.Add(1)
			if forced && src.sinceKey == 0 {
				n.forced.Add(1)
			}
		}
		for _, p := range pkts {
			if err := track.WriteRTP(p); err != nil {
				n.writeErrs.Add(1)
				continue
			}
			n.vpkts.Add(1)
			n.vbytes.Add(int64(len(p.Payload)))
		}
	})
}

func sendOpus(ctx context.Context, src *opusSource, track *webrtc.TrackLocalStaticRTP, n *publisherCounters) {
	paceFrames(ctx, opusFrameTime, nil, func(_ int, now time.Time) {
		p := src.next(now)
		if err := track.WriteRTP(p); err != nil {
			n.writeErrs.Add(1)
			return
		}
		n.apkts.Add(1)
		n.abytes.Add(int64(len(p.Payload)))
	})
}

func sendFile(ctx context.Context, f *videoFile, track *webrtc.TrackLocalStaticSample, fps float64, n *publisherCounters) {
	frameTime := time.Duration(float64(time.Second) / fps)
	paceFrames(ctx, frameTime, &n.late, func(_ int, _ time.Time) {
		n.wantKey.Store(false) // a file cannot make a keyframe on demand
		frame, key, err := f.next()
		if err != nil {
			n.writeErrs.Add(1)
			return
		}
		if err := track.WriteSample(media.Sample{Data: frame, Duration: frameTime}); err != nil {
			n.writeErrs.Add(1)
			return
		}
		n.frames.Add(1)
		if key {
			n.keys.Add(1)
		}
		n.vbytes.Add(int64(len(frame)))
	})
}
