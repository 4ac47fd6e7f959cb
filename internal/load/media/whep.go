package media

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// whepConfig is everything `pavload whep` is told.
type whepConfig struct {
	scenario.Common
	token string

	viewers     int
	ramp        float64
	concurrency int
	duration    time.Duration
	timeout     time.Duration
	feedback    bool
	loopback    bool
	engine      string
	interval    time.Duration
	progress    time.Duration
}

// The viewer engines: lite (lite.go, one goroutine and no copy between
// the socket and the counters) and pion (a full PeerConnection, as a
// browser-like client: it can send feedback).
const (
	engineLite = "lite"
	enginePion = "pion"
)

// maxWHEPViewers bounds one run: every viewer is a full PeerConnection
// (DTLS, SRTP, its own goroutines) in this one process.
const maxWHEPViewers = 5000

const whepUsage = `Usage: pavload whep [flags]

N WHEP viewers (POST /whep/{show}) in one process, receiving the show's
video and audio without decoding: lite ones by default (one goroutine
each reading its socket, SRTP decrypted in place, no RTCP sent), or full
pion PeerConnections (--engine pion). They come in at --ramp a second (at most --concurrency negotiations at a time;
a 503 "no media yet" is retried as its Retry-After says), stay --duration
once the last one is in, then DELETE their sessions.

Per run it reports viewers connected and failed; time to the first packet
and to the first keyframe (VP8 or H.264), from the start of each POST, at
p50/p95/p99; packets and bytes received; loss per track from the RTP
sequence numbers (lost/expected, wrap-around, reordering and duplicates
accounted for); when the publisher is pavload whip, end-to-end latency
from the send time in each payload (same machine, same clock); and its own
CPU per packet, goroutines, RSS and socket drops.

The server must be on this machine (a loopback --base) and ICE only uses
this machine's addresses.

  pavload whip --demo demo.json --duration 0 &
  pavload whep --demo demo.json --viewers 200 --ramp 50 --duration 20s

Flags:`

func (c *whepConfig) register(fs *flag.FlagSet) {
	c.RegisterCommon(fs, "not used by whep", "show to watch (default: show_id from --demo)")
	fs.StringVar(&c.token, "token", "", "bearer token the viewers send (a members-only show needs an eligible account; default: anonymous)")
	fs.IntVar(&c.viewers, "viewers", 100, fmt.Sprintf("viewers, at most %d", maxWHEPViewers))
	fs.Float64Var(&c.ramp, "ramp", 50, "new viewers a second")
	fs.IntVar(&c.concurrency, "concurrency", 32, "negotiations (offer, POST, answer) in flight at most")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long the viewers stay once the last one is in")
	fs.DurationVar(&c.timeout, "timeout", 15*time.Second, "how long one viewer may take to connect, retries included")
	fs.StringVar(&c.engine, "engine", engineLite, "viewer implementation: lite (one goroutine per viewer reading its socket, decrypting SRTP in place; no RTCP sent) or pion (a full pion PeerConnection, several times the client CPU per packet)")
	fs.DurationVar(&c.interval, "read-interval", 50*time.Millisecond, "--engine lite, once a viewer's media flows: how long its reader lets packets gather in the socket between reads (fewer wake-ups and system calls; receive times come from the kernel, so the figures do not move; 0: read each packet at once)")
	fs.BoolVar(&c.feedback, "feedback", false, "send NACKs, receiver reports and transport-wide congestion feedback, as a browser does (--engine pion only, and on there unless --feedback=false; the server needs none of it)")
	fs.BoolVar(&c.loopback, "loopback-only", false, "offer loopback ICE candidates only (the server must be told of no other address of this machine)")
	fs.DurationVar(&c.progress, "progress", 5*time.Second, "print a progress line this often (0: never)")
}

func (c *whepConfig) complete(ctx context.Context) error {
	if _, err := c.LoadDemo(); err != nil {
		return err
	}
	p := needTarget(&c.Common)
	p.need(c.viewers >= 1 && c.viewers <= maxWHEPViewers, fmt.Sprintf("--viewers must be from 1 to %d", maxWHEPViewers))
	p.need(c.ramp > 0, "--ramp must be positive")
	p.need(c.concurrency >= 1, "--concurrency must be at least 1")
	p.need(c.duration >= 0, "--duration must not be negative")
	p.need(c.timeout > 0, "--timeout must be positive")
	p.need(c.progress >= 0, "--progress must not be negative")
	p.need(c.engine == engineLite || c.engine == enginePion, "--engine must be lite or pion")
	p.need(c.interval >= 0 && c.interval <= time.Second, "--read-interval must be from 0 to 1s")
	p.need(!c.feedback || c.engine == enginePion, "--feedback needs --engine pion (the lite viewer sends no RTCP)")
	if _, err := measure.NewScraper(c.MetricsURL, time.Second); err != nil {
		p = append(p, err.Error())
	}
	if err := p.err(); err != nil {
		return err
	}
	return requireLoopback(ctx, c.Base)
}

// WHEP is `pavload whep` with its arguments.
func WHEP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg whepConfig
	set, err := scenario.ParseFlags("whep", whepUsage, args, stderr, cfg.register)
	if err != nil {
		return err
	}
	if cfg.engine == enginePion && !set["feedback"] {
		cfg.feedback = true // a pion viewer is browser-like unless told otherwise
	}
	if err := cfg.complete(ctx); err != nil {
		return fmt.Errorf("whep: %w", err)
	}
	_, err = scenario.RunReport(&cfg.Common, stdout, func() (*whepReport, error) { return runWhep(ctx, &cfg, stdout) })
	return err
}

// Track kinds, as indexes.
const (
	kindVideo = iota
	kindAudio
	numKinds
)

var kindNames = [numKinds]string{"video", "audio"}

// trackStats is what one viewer saw of one track. Its reader goroutine owns
// every field but the atomics until the track ends (done is closed).
type trackStats struct {
	mime       string
	seq        seqTracker
	firstAt    time.Time
	firstKeyAt time.Time
	vp8, h264  bool  // the codec, from mime
	stamped    int64 // packets carrying pavload's stamp
	// frames counts pavload whip's frame numbers (video: at each frame's
	// last packet; audio: every packet) the way seq counts sequence
	// numbers. The server renumbers a viewer's packets without a gap when
	// it skips it ahead, so only these show the frames it never got.
	frames seqTracker
	done   chan struct{}

	// holdBytes is the bytes received (by receive time) within the hold.
	holdBytes atomic.Int64

	packets atomic.Int64
	bytes   atomic.Int64
}

// whepViewer is one viewer.
type whepViewer struct {
	i      int
	pc     *webrtc.PeerConnection // --engine pion
	lite   *liteConn              // --engine lite
	sess   *whipSession
	start  time.Time // the first POST began
	posted time.Time // the answer came
	// connectedAt is when ICE and DTLS came up (under mu).
	connectedAt time.Time
	tries       int
	srtpProfile string // --engine lite, under mu

	mu        sync.Mutex
	tracks    [numKinds]*trackStats
	connected bool   // ICE and DTLS up
	failure   string // why it never got going
	ended     string // the connection's state when it ended on its own
}

// whepRun is one run's shared state.
type whepRun struct {
	cfg  *whepConfig
	api  *webrtc.API   // --engine pion
	id   *liteIdentity // --engine lite: the DTLS certificate
	tick *readTick     // --engine lite with --read-interval
	ips  []netip.Addr  // --engine lite: the addresses offered
	hc   *http.Client
	url  string
	sem  chan struct{}
	lat  [numKinds]*measure.Histogram
	pkts atomic.Int64
	byts atomic.Int64
	in   atomic.Int64 // viewers with their answer
	live atomic.Int64 // viewers with media flowing
	// reads is the lite readers' socket reads (each takes a batch).
	reads atomic.Int64
	// The hold, in Unix nanoseconds (0: not yet).
	holdFrom, holdTo atomic.Int64
	// holdPkts is the packets every viewer received over the hold.
	holdPkts int64

	mu      sync.Mutex
	viewers []*whepViewer
}

// runWhep runs the whole scenario and returns its report; the report is
// returned, as far as it got, with an error too.
func runWhep(ctx context.Context, cfg *whepConfig, out io.Writer) (*whepReport, error) {
	rep := &whepReport{
		Label: cfg.Label, Base: cfg.Base, ShowID: cfg.ShowID, StartedAt: time.Now().UTC(),
		Client: whepClientInfo{Engine: cfg.engine, ClientInfo: measure.ClientInfo{GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}},
		Config: whepConfigReport{Viewers: cfg.viewers, Ramp: cfg.ramp, Concurrency: cfg.concurrency, DurationSeconds: cfg.duration.Seconds(),
			TimeoutSeconds: cfg.timeout.Seconds(), Feedback: cfg.feedback, LoopbackOnly: cfg.loopback},
	}
	fmt.Fprintf(out, "pavload whep %sagainst %s, show %s: %d viewers at %.4g a second\n", scenario.LabelPrefix(cfg.Label), cfg.Base, cfg.ShowID, cfg.viewers, cfg.ramp)
	r := &whepRun{
		cfg: cfg, hc: newMediaHTTP(cfg.concurrency, cfg.timeout),
		url: strings.TrimRight(cfg.Base, "/") + "/whep/" + url.PathEscape(cfg.ShowID),
		sem: make(chan struct{}, cfg.concurrency),
		lat: [numKinds]*measure.Histogram{{}, {}},
	}
	defer r.hc.CloseIdleConnections()
	var err error
	if cfg.engine == enginePion {
		r.api, err = newRTCAPI(rtcOptions{feedback: cfg.feedback, localOnly: true, loopbackOnly: cfg.loopback})
	} else {
		if r.id, err = newLiteIdentity(); err == nil {
			r.ips, err = offerIPs(cfg.loopback)
		}
		// Without the kernel's receive times a late read would move the
		// figures: read at once then.
		if cfg.interval > 0 && kernelStamps {
			r.tick = newReadTick()
			tickStop := make(chan struct{})
			defer close(tickStop) // after leaveAll: every reader is gone
			go r.tick.run(cfg.interval, tickStop)
		}
	}
	if err != nil {
		return rep, err
	}
	mc, err := measure.NewScraper(cfg.MetricsURL, cfg.timeout)
	if err != nil {
		return rep, err
	}
	defer mc.Close()
	if mc == nil {
		rep.Server.ScrapeErrors = append(rep.Server.ScrapeErrors, measure.NoMetricsURL)
	}
	scrape := func() *measure.ServerMetrics {
		if mc == nil {
			return nil
		}
		m, err := mc.Scrape(ctx)
		if err != nil {
			rep.Server.ScrapeErrors = append(rep.Server.ScrapeErrors, err.Error())
			return nil
		}
		return m
	}
	rep.Server.Before = scrape()
	rcvBefore := udpRcvbufErrors()
	cpuStart, wallStart := measure.ProcessCPU(), time.Now()
	goBefore, rssBefore := runtime.NumGoroutine(), processRSS()

	// The viewers come in.
	stop := make(chan struct{})
	go r.progressLoop(out, wallStart, stop)
	if r.id != nil {
		go r.keepalive(stop)
	}
	var joins sync.WaitGroup
	interval := time.Duration(float64(time.Second) / cfg.ramp)
	for i := range cfg.viewers {
		if !scenario.SleepUntil(ctx, wallStart.Add(time.Duration(i)*interval)) {
			break
		}
		v := &whepViewer{i: i}
		r.mu.Lock()
		r.viewers = append(r.viewers, v)
		r.mu.Unlock()
		joins.Go(func() { r.join(ctx, v) })
	}
	joins.Wait()
	rep.Connect.RampSeconds = measure.Round3(time.Since(wallStart).Seconds())
	fmt.Fprintf(out, "%d of %d viewers in after %.1fs; staying %s\n", r.in.Load(), cfg.viewers, rep.Connect.RampSeconds, cfg.duration)

	// They watch.
	rep.Server.HoldStart = scrape()
	holdStart := time.Now()
	r.markHold(true)
	pkts0, reads0, cpu0 := r.pkts.Load(), r.reads.Load(), measure.ProcessCPU()
	scenario.SleepUntil(ctx, holdStart.Add(cfg.duration))
	r.holdPkts = r.pkts.Load() - pkts0
	holdCPU := measure.ProcessCPU() - cpu0
	if reads := r.reads.Load() - reads0; reads > 0 {
		rep.Client.PacketsPerRead = measure.Round1(float64(r.holdPkts) / float64(reads))
	}
	r.markHold(false)
	rep.HoldSeconds = measure.Round3(time.Since(holdStart).Seconds())
	if rep.HoldSeconds > 0 {
		rep.Client.HoldCPUPct = measure.Round1(100 * holdCPU.Seconds() / rep.HoldSeconds)
	}
	if r.holdPkts > 0 {
		rep.Client.CPUUsPerPacket = measure.Round3(float64(holdCPU.Microseconds()) / float64(r.holdPkts))
	}
	if n := r.in.Load(); n > 0 {
		rep.Client.GoroutinesPerViewer = measure.Round1(float64(runtime.NumGoroutine()-goBefore) / float64(n))
		if rss := processRSS(); rss > 0 && rssBefore > 0 {
			rep.Client.RSSPerViewerBytes = float64(rss-rssBefore) / float64(n)
		}
	}
	rep.Server.End = scrape()
	close(stop)
	runSecs := time.Since(wallStart).Seconds()
	rep.Client.CPUPct = measure.Round1(100 * (measure.ProcessCPU() - cpuStart).Seconds() / runSecs)
	if after := udpRcvbufErrors(); rcvBefore >= 0 && after >= 0 {
		d := after - rcvBefore
		rep.UDPRcvbufErrors = &d
	}
	if d, ok := ownUDPDrops(); ok {
		rep.ClientSocketDrops = &d
	}
	heap, _ := measure.ClientMemory()
	if n := r.in.Load(); n > 0 {
		rep.Client.HeapPerViewerBytes = float64(heap) / float64(n)
	}

	// They leave.
	r.leaveAll(ctx)
	r.tally(rep)
	printWhep(out, rep)
	rep.FinishedAt = time.Now().UTC()
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if rep.Connect.Connected == 0 {
		return rep, fmt.Errorf("no viewer could connect: %s", measure.CountsLine(rep.Connect.Failures))
	}
	return rep, nil
}

// join connects one viewer: offer, POST (retrying a 503 as told, within
// --timeout), answer; its tracks are read from then on.
func (r *whepRun) join(ctx context.Context, v *whepViewer) {
	fail := func(reason string) {
		v.mu.Lock()
		v.failure = reason
		v.mu.Unlock()
		if v.pc != nil {
			_ = v.pc.Close()
		}
		if v.lite != nil {
			v.lite.close()
		}
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		fail("cancelled")
		return
	}
	defer func() { <-r.sem }()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	v.start = time.Now()
	for {
		v.tries++
		var sess *whipSession
		var err error
		if r.id != nil {
			sess, err = r.offerLite(ctx, v)
		} else {
			sess, err = r.offerPion(ctx, v)
		}
		if err == nil {
			v.sess, v.posted = sess, time.Now()
			r.in.Add(1)
			if v.lite != nil {
				go r.connectLite(v)
			}
			return
		}
		if err == errSetup {
			return // fail was called
		}
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusServiceUnavailable && se.retryAfter >= 0 {
			wait := max(se.retryAfter, 100*time.Millisecond)
			if scenario.SleepUntil(ctx, time.Now().Add(wait)) {
				continue
			}
		}
		switch {
		case errors.As(err, &se):
			fail(fmt.Sprintf("http %d", se.status))
		case ctx.Err() != nil:
			fail("timeout")
		default:
			fail(apiclient.TransportOutcome(err))
		}
		return
	}
}

// errSetup is offerPion's and offerLite's "failed before the POST, and
// said why".
var errSetup = errors.New("viewer setup failed")

// offerPion makes v's PeerConnection and negotiates it.
func (r *whepRun) offerPion(ctx context.Context, v *whepViewer) (*whipSession, error) {
	pc, err := r.newViewerPC(v)
	if err != nil {
		v.mu.Lock()
		v.failure = "peer connection: " + err.Error()
		v.mu.Unlock()
		return nil, errSetup
	}
	v.pc = pc
	sess, err := negotiate(ctx, r.hc, pc, r.url, r.cfg.token)
	if err != nil {
		_ = pc.Close()
		v.pc = nil
	}
	return sess, err
}

// newViewerPC makes a receive-only PeerConnection for video and audio whose
// tracks are counted into v.
func (r *whepRun) newViewerPC(v *whepViewer) (*webrtc.PeerConnection, error) {
	pc, err := r.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			_ = pc.Close()
			return nil, err
		}
	}
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		v.mu.Lock()
		defer v.mu.Unlock()
		switch s {
		case webrtc.PeerConnectionStateConnected:
			if !v.connected {
				v.connected = true
				v.connectedAt = time.Now()
				r.live.Add(1)
			}
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateDisconnected:
			if v.ended == "" {
				v.ended = s.String()
			}
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		k := kindVideo
		if tr.Kind() == webrtc.RTPCodecTypeAudio {
			k = kindAudio
		}
		ts := newTrackStats(strings.ToLower(tr.Codec().MimeType))
		v.mu.Lock()
		if v.tracks[k] != nil { // a second track of a kind is not expected: read it, count nothing
			v.mu.Unlock()
			drain(tr)
			return
		}
		v.tracks[k] = ts
		v.mu.Unlock()
		defer close(ts.done)
		r.read(tr, k, ts)
	})
	return pc, nil
}

func drain(tr *webrtc.TrackRemote) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := tr.Read(buf); err != nil {
			return
		}
	}
}

// read counts one track's packets until it ends.
func (r *whepRun) read(tr *webrtc.TrackRemote, k int, ts *trackStats) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		hl, err := h.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		r.count(ts, k, &h, buf[:n], hl, time.Now())
	}
}

// newTrackStats is a track's counters; mime is lower case.
func newTrackStats(mime string) *trackStats {
	return &trackStats{mime: mime, vp8: mime == "video/vp8", h264: mime == "video/h264", done: make(chan struct{})}
}

// count adds one RTP packet (pkt, its header h of hl bytes) to ts. It
// looks for keyframes and pavload's stamp in the payload and never
// decodes; it allocates nothing.
func (r *whepRun) count(ts *trackStats, k int, h *rtp.Header, pkt []byte, hl int, now time.Time) {
	n := len(pkt)
	end := n
	if h.Padding && n > hl {
		end -= int(pkt[n-1])
	}
	if end < hl {
		return
	}
	payload := pkt[hl:end]
	if ts.firstAt.IsZero() {
		ts.firstAt = now
	}
	ts.seq.add(h.SequenceNumber)
	ts.packets.Add(1)
	ts.bytes.Add(int64(n))
	if from := r.holdFrom.Load(); from != 0 {
		if at, to := now.UnixNano(), r.holdTo.Load(); at >= from && (to == 0 || at < to) {
			ts.holdBytes.Add(int64(n))
		}
	}
	r.pkts.Add(1)
	r.byts.Add(int64(n))
	data := -1 // where a stamp may be
	switch {
	case ts.vp8:
		if info, ok := parseVP8(payload); ok {
			if info.keyframe && ts.firstKeyAt.IsZero() {
				ts.firstKeyAt = now
			}
			if h.Marker {
				data = info.data
			}
		}
	case ts.h264:
		if ts.firstKeyAt.IsZero() && h264Keyframe(payload) {
			ts.firstKeyAt = now
		}
	case k == kindAudio:
		data = 1 // after the Opus TOC byte
	}
	if data >= 0 && data <= len(payload) {
		if st, ok := readStamp(payload[data:]); ok {
			ts.frames.add(uint16(st.Frame)) // 16 bits: the tracker unwraps them
			ts.stamped++
			r.lat[k].Record(now.Sub(time.Unix(0, st.SentNs)))
		}
	}
}

// offerLite makes v's lite transport and negotiates it; connectLite then
// brings up ICE and DTLS.
func (r *whepRun) offerLite(ctx context.Context, v *whepViewer) (*whipSession, error) {
	c, err := newLiteConn()
	if err == nil {
		c.tick = r.tick
	}
	if err != nil {
		v.mu.Lock()
		v.failure = "socket: " + err.Error()
		v.mu.Unlock()
		return nil, errSetup
	}
	sess, err := negotiateLite(ctx, r.hc, c, r.id, r.ips, r.url, r.cfg.token)
	if err != nil {
		c.close()
		if sess != nil { // answered, but with nothing usable: end it
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.timeout)
			_ = sess.end(dctx, r.hc, r.cfg.token)
			cancel()
		}
		return nil, err
	}
	v.mu.Lock()
	v.lite = c
	v.mu.Unlock()
	return sess, nil
}

// connectLite starts v's reader, runs ICE and DTLS (within --timeout) and
// notes when they are up; a viewer that fails is closed.
func (r *whepRun) connectLite(v *whepViewer) {
	c := v.lite
	var tracks [numKinds]*trackStats // the reader's own
	sink := func(h *rtp.Header, pkt []byte, hl int, now time.Time) {
		k, mime := liteKind(h.PayloadType)
		if k < 0 {
			return
		}
		ts := tracks[k]
		if ts == nil {
			ts = newTrackStats(mime)
			tracks[k] = ts
			v.mu.Lock()
			v.tracks[k] = ts
			v.mu.Unlock()
		}
		r.count(ts, k, h, pkt, hl, now)
	}
	go func() {
		c.readLoop(sink, &r.reads)
		for _, ts := range tracks {
			if ts != nil {
				close(ts.done)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.timeout)
	defer cancel()
	err := c.connectICE(ctx)
	if err == nil {
		// Checks go on until DTLS is up: the server selects the pair (and
		// starts DTLS, as the client it usually is) only once it holds a
		// nomination and a check of its own has succeeded, and either may
		// be lost on a busy machine.
		hsDone := make(chan struct{})
		go func() {
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-hsDone:
					return
				case <-t.C:
					_ = c.sendCheck()
				}
			}
		}()
		err = c.handshake(ctx, r.id)
		close(hsDone)
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("DTLS timeout, %d records from the server: %w", c.dtlsIn.records.Load(), err)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		if v.ended == "" {
			v.ended = "failed: " + liteFailure(err)
		}
		c.close()
		return
	}
	v.connected, v.connectedAt = true, time.Now()
	v.srtpProfile = c.profile
	r.live.Add(1)
}

// liteFailure is why a lite viewer did not come up, in a few words (the
// report counts viewers per reason).
func liteFailure(err error) string {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "ICE"):
		return "ICE"
	case strings.HasPrefix(msg, "DTLS timeout, 0 records"):
		return "DTLS timeout, nothing from the server"
	case errors.Is(err, context.DeadlineExceeded):
		return "DTLS timeout"
	}
	if len(msg) > 60 {
		msg = msg[:60] + "…"
	}
	return msg
}

// liteKind is the track kind and codec of a payload type of the lite offer.
func liteKind(pt uint8) (int, string) {
	switch pt {
	case ptVP8:
		return kindVideo, "video/vp8"
	case ptH264:
		return kindVideo, "video/h264"
	case ptOpus:
		return kindAudio, "audio/opus"
	}
	return -1, ""
}

// keepalive refreshes every lite viewer's ICE consent (RFC 7675) until
// stop is closed: the server drops a pair it hears nothing on.
func (r *whepRun) keepalive(stop <-chan struct{}) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		viewers := r.viewers
		r.mu.Unlock()
		for _, v := range viewers {
			v.mu.Lock()
			c, up := v.lite, v.connected
			v.mu.Unlock()
			if c != nil && up && !c.closing.Load() {
				_ = c.sendCheck()
			}
		}
	}
}

// leaveAll DELETEs every session and closes every PeerConnection,
// --concurrency at a time, and waits for the track readers to end.
func (r *whepRun) leaveAll(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	for _, v := range r.viewers {
		r.sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-r.sem }()
			if v.sess != nil {
				dctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
				_ = v.sess.end(dctx, r.hc, r.cfg.token)
				cancel()
			}
			if v.pc != nil {
				_ = v.pc.Close()
			}
			if v.lite != nil {
				v.lite.close()
			}
		})
	}
	wg.Wait()
	for _, v := range r.viewers {
		v.mu.Lock()
		tracks := v.tracks
		v.mu.Unlock()
		for _, ts := range tracks {
			if ts != nil {
				<-ts.done
			}
		}
	}
}

// markHold notes the start (or the end) of the hold, for each viewer's
// delivered rate: the readers count the bytes received within it by each
// packet's receive time, so a reader that reads late (--read-interval, or
// a busy CPU) counts them all the same.
func (r *whepRun) markHold(start bool) {
	now := time.Now().UnixNano()
	if start {
		r.holdFrom.Store(now)
	} else {
		r.holdTo.Store(now)
	}
}

// progressLoop prints a line every --progress until stop is closed.
func (r *whepRun) progressLoop(out io.Writer, start time.Time, stop <-chan struct{}) {
	if r.cfg.progress <= 0 {
		return
	}
	t := time.NewTicker(r.cfg.progress)
	defer t.Stop()
	lastAt, lastPkts, lastBytes := start, int64(0), int64(0)
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p, b := r.pkts.Load(), r.byts.Load()
			secs := now.Sub(lastAt).Seconds()
			fmt.Fprintf(out, "  %5.0fs  %d viewers in, %d connected; %.0f packets/s, %.1f Mbit/s received\n",
				now.Sub(start).Seconds(), r.in.Load(), r.live.Load(), float64(p-lastPkts)/secs, float64(b-lastBytes)*8/secs/1e6)
			lastAt, lastPkts, lastBytes = now, p, b
		}
	}
}
