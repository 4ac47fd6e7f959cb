package media

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// whepReport is every figure of a `pavload whep` run; --json writes it as is.
type whepReport struct {
	Label      string           `json:"label,omitempty"`
	Base       string           `json:"base_url"`
	ShowID     string           `json:"show_id"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt time.Time        `json:"finished_at"`
	Client     whepClientInfo   `json:"client"`
	Config     whepConfigReport `json:"config"`
	Connect    whepConnect      `json:"connect"`
	// HoldSeconds is how long every viewer stayed once the last was in.
	HoldSeconds float64 `json:"hold_seconds"`
	// TimeToFirstPacket and TimeToFirstKeyframe run from the start of each
	// viewer's first POST to its first RTP packet (any track), and to the
	// first packet of its first video keyframe.
	TimeToFirstPacket   startupLatency `json:"time_to_first_packet"`
	TimeToFirstKeyframe startupLatency `json:"time_to_first_keyframe"`
	// TimeToConnected runs from the sending of the POST that got the
	// answer (the offer complete) to ICE and DTLS connected; the retries
	// of a 503 are not in it.
	TimeToConnected startupLatency `json:"time_to_connected"`
	// NoKeyframe is viewers that got video but never a keyframe.
	NoKeyframe int64                          `json:"viewers_without_keyframe"`
	Tracks     map[string]*trackTotals        `json:"tracks"`
	LossPct    float64                        `json:"loss_pct"` // every track together: lost/expected
	Latency    map[string]measure.HistLatency `json:"latency"`  // send to receipt, from pavload whip's stamps
	Ended      map[string]int64               `json:"ended_early"`
	// Frames is continuity per kind: pavload whip's frame numbers (audio:
	// packet numbers) each viewer got against those sent while it watched.
	// A skip (the server moving a lagging viewer to the next keyframe)
	// renumbers the packets without a sequence gap: it shows here only.
	Frames map[string]*frameTotals `json:"frames"`
	// Delivery is each viewer's video rate over the hold against the
	// publisher's (the server's ingest counter over the same window).
	Delivery delivery `json:"delivery"`
	// Verdict is what decides a step of bench/stream.sh.
	Verdict verdict `json:"verdict"`
	// UDPRcvbufErrors is the kernel's count of UDP datagrams dropped on
	// full receive buffers during the run, every socket of the machine:
	// when it is not zero, some loss happened in a receiver (often pavload).
	UDPRcvbufErrors *int64 `json:"udp_rcvbuf_errors,omitempty"`
	// ClientSocketDrops is what the kernel dropped on pavload's own
	// sockets (open at the end of the hold) for a full receive buffer:
	// the part of UDPRcvbufErrors that is the client's. Nil when unknown.
	ClientSocketDrops *int64          `json:"client_socket_drops,omitempty"`
	Server            serverMedia     `json:"server"`
	Targets           []measure.Check `json:"targets"`
}

type whepClientInfo struct {
	measure.ClientInfo
	Engine             string  `json:"engine"`  // lite or pion
	CPUPct             float64 `json:"cpu_pct"` // pavload's CPU over the run, % of one CPU
	HeapPerViewerBytes float64 `json:"heap_per_viewer_bytes"`
	// Over the hold: pavload's CPU (% of one CPU, and µs per RTP packet
	// received, which other processes on the machine disturb less), its
	// goroutines and resident memory per viewer in.
	HoldCPUPct          float64 `json:"hold_cpu_pct"`
	CPUUsPerPacket      float64 `json:"cpu_us_per_packet"`
	GoroutinesPerViewer float64 `json:"goroutines_per_viewer"`
	RSSPerViewerBytes   float64 `json:"rss_per_viewer_bytes"`
	// PacketsPerRead is RTP packets over the hold per socket read of
	// the lite viewers (each read takes what is queued, up to a batch).
	PacketsPerRead float64 `json:"packets_per_read,omitempty"`
	// SRTPProfiles counts the SRTP protection profiles the viewers
	// agreed on (--engine lite).
	SRTPProfiles map[string]int64 `json:"srtp_profiles,omitempty"`
}

type whepConfigReport struct {
	Viewers         int     `json:"viewers"`
	Ramp            float64 `json:"ramp_per_sec"`
	Concurrency     int     `json:"concurrency"`
	DurationSeconds float64 `json:"duration_seconds"`
	TimeoutSeconds  float64 `json:"timeout_seconds"`
	Feedback        bool    `json:"feedback"`
	LoopbackOnly    bool    `json:"loopback_only"`
}

type whepConnect struct {
	Attempted int              `json:"attempted"`
	Connected int64            `json:"connected"` // answered 201, and ICE and DTLS came up
	Answered  int64            `json:"answered"`  // answered 201
	Failed    int64            `json:"failed"`
	Failures  map[string]int64 `json:"failures"`
	Retries   int64            `json:"retries"` // 503 "no media yet", tried again
	// Negotiate is the POST's start to the answer, the successful ones.
	Negotiate   startupLatency `json:"negotiate"`
	RampSeconds float64        `json:"ramp_seconds"` // first POST to the last viewer in
}

// startupLatency is a distribution of per-viewer times, in milliseconds.
type startupLatency struct {
	Count int     `json:"count"`
	P50Ms float64 `json:"p50_ms"`
	P95Ms float64 `json:"p95_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func newStartupLatency(d []time.Duration) startupLatency {
	l := startupLatency{Count: len(d)}
	if len(d) == 0 {
		return l
	}
	slices.Sort(d)
	l.P50Ms, l.P95Ms, l.P99Ms = measure.Millis(measure.Percentile(d, 0.50)), measure.Millis(measure.Percentile(d, 0.95)), measure.Millis(measure.Percentile(d, 0.99))
	l.MaxMs = measure.Millis(d[len(d)-1])
	return l
}

// trackTotals is one kind of track over every viewer.
type trackTotals struct {
	Viewers    int64   `json:"viewers"` // viewers that got this track
	Codec      string  `json:"codec"`
	Packets    int64   `json:"packets"`
	Bytes      int64   `json:"bytes"` // RTP packets, headers included
	Expected   int64   `json:"expected"`
	Lost       int64   `json:"lost"`
	LossPct    float64 `json:"loss_pct"`
	Late       int64   `json:"late"`       // reordered or retransmitted
	Duplicates int64   `json:"duplicates"` // not counted as received
	Gaps       int64   `json:"gaps"`       // jumps over one number or more
	// ViewersWithLoss and WorstLossPct show whether loss hit a few viewers or all.
	ViewersWithLoss int64   `json:"viewers_with_loss"`
	WorstLossPct    float64 `json:"worst_viewer_loss_pct"`
	// MbitPerViewer is the mean receive rate of a viewer with this track.
	MbitPerViewer float64 `json:"mbit_per_viewer"`
	Stamped       int64   `json:"stamped_packets"`
}

// serverMedia is the server's /metrics before the viewers and at the end
// of the hold, and what one viewer cost it.
type serverMedia struct {
	Before            *measure.ServerMetrics `json:"before,omitempty"`
	End               *measure.ServerMetrics `json:"end,omitempty"`
	HoldStart         *measure.ServerMetrics `json:"hold_start,omitempty"`
	RSSPerViewerBytes float64                `json:"rss_per_viewer_bytes,omitempty"`
	// Skips is pavilion_stream_viewer_skips_total's rise from before the
	// first viewer to the end of the hold: frozen video the RTP sequence
	// numbers cannot show. Nil when /metrics was not read.
	Skips *float64 `json:"viewer_skips,omitempty"`
	// CPUUsPerPacket is the server's CPU time over the hold divided by the
	// RTP packets every viewer received in it: the per-packet cost, which
	// other processes on the machine disturb less than the CPU share.
	CPUUsPerPacket float64 `json:"cpu_us_per_packet,omitempty"`
	// GoroutinesPerViewer is go_goroutines' rise over the viewers connected.
	GoroutinesPerViewer float64  `json:"goroutines_per_viewer,omitempty"`
	CPUPct              float64  `json:"cpu_pct,omitempty"` // % of one CPU, from process_cpu_seconds_total
	ScrapeErrors        []string `json:"scrape_errors,omitempty"`
}

// frameTotals is one kind's frame continuity over every viewer.
type frameTotals struct {
	Viewers         int64   `json:"viewers"` // viewers whose frames carried stamps
	Expected        int64   `json:"expected"`
	Received        int64   `json:"received"`
	Missing         int64   `json:"missing"`
	Gaps            int64   `json:"gaps"` // runs of missing frames
	ViewersMissing  int64   `json:"viewers_missing_frames"`
	WorstReceivedPc float64 `json:"worst_viewer_received_pct"`
}

// delivery is the video rate each viewer got over the hold.
type delivery struct {
	SourceMbit float64 `json:"source_video_mbit"` // 0: not known (no /metrics)
	Viewers    int     `json:"viewers"`
	MinMbit    float64 `json:"min_mbit"`
	P5Mbit     float64 `json:"p5_mbit"`
	P50Mbit    float64 `json:"p50_mbit"`
	// Below97 is viewers under 97% of the source rate; WorstPct the lowest share.
	Below97  int     `json:"viewers_below_97pct"`
	WorstPct float64 `json:"worst_viewer_pct_of_source"`
}

// verdict: a step passes with every viewer connected, under 1% loss, no
// skip and every viewer at 97% or more of the source's video rate. The
// client is the limit when pavload used most of its CPU or the kernel
// dropped datagrams on full receive buffers: then the loss may be its own.
type verdict struct {
	Pass          bool     `json:"pass"`
	Reasons       []string `json:"reasons,omitempty"`
	ClientLimited bool     `json:"client_limited"`
	ClientNote    string   `json:"client_note,omitempty"`
}

// clientBusyPct is pavload's CPU above which it, not the server, may be the limit.
const clientBusyPct = 90

func (rep *whepReport) judge() verdict {
	var v verdict
	fail := func(format string, a ...any) { v.Reasons = append(v.Reasons, fmt.Sprintf(format, a...)) }
	if rep.Connect.Connected != int64(rep.Connect.Attempted) {
		fail("%d of %d viewers connected", rep.Connect.Connected, rep.Connect.Attempted)
	}
	if rep.LossPct >= 1 {
		fail("loss %.3f%%", rep.LossPct)
	}
	if rep.Server.Skips == nil {
		fail("server skips unknown (no /metrics)")
	} else if *rep.Server.Skips > 0 {
		fail("%.0f server-side skips", *rep.Server.Skips)
	}
	d := rep.Delivery
	switch {
	case d.SourceMbit == 0:
		fail("source rate unknown (no /metrics)")
	case d.Below97 > 0:
		fail("%d viewers under 97%% of the source rate (worst %.1f%%)", d.Below97, d.WorstPct)
	}
	if f := rep.Frames["video"]; f != nil && f.Missing > 0 {
		fail("%d video frames missing at %d viewers", f.Missing, f.ViewersMissing)
	}
	v.Pass = len(v.Reasons) == 0
	var notes []string
	if busy := max(rep.Client.CPUPct, rep.Client.HoldCPUPct); busy >= clientBusyPct {
		notes = append(notes, fmt.Sprintf("pavload at %.0f%% of its CPU", busy))
	}
	switch {
	case rep.ClientSocketDrops != nil: // pavload's own drops are known: only they count
		if *rep.ClientSocketDrops > 0 {
			notes = append(notes, fmt.Sprintf("%d UDP receive-buffer drops on pavload's sockets", *rep.ClientSocketDrops))
		}
	case rep.UDPRcvbufErrors != nil && *rep.UDPRcvbufErrors > 0:
		notes = append(notes, fmt.Sprintf("%d UDP receive-buffer drops", *rep.UDPRcvbufErrors))
	}
	if len(notes) > 0 {
		v.ClientLimited = true
		v.ClientNote = "the client may be the limit: " + strings.Join(notes, ", ")
	}
	return v
}

// tally turns the viewers' counters into the report. Call it once the
// readers have stopped.
func (r *whepRun) tally(rep *whepReport) {
	c := &rep.Connect
	c.Attempted = r.cfg.viewers
	c.Failures = map[string]int64{}
	rep.Ended = map[string]int64{}
	rep.Tracks = map[string]*trackTotals{}
	var ttfp, ttfk, neg, ttc []time.Duration
	var rates []float64
	rep.Frames = map[string]*frameTotals{}
	for k := range numKinds {
		rep.Tracks[kindNames[k]] = &trackTotals{}
		rep.Frames[kindNames[k]] = &frameTotals{WorstReceivedPc: 100}
	}
	for _, v := range r.viewers {
		v.mu.Lock()
		tracks, connected, failure, ended, connectedAt, profile := v.tracks, v.connected, v.failure, v.ended, v.connectedAt, v.srtpProfile
		v.mu.Unlock()
		if profile != "" {
			if rep.Client.SRTPProfiles == nil {
				rep.Client.SRTPProfiles = map[string]int64{}
			}
			rep.Client.SRTPProfiles[profile]++
		}
		c.Retries += int64(max(v.tries-1, 0))
		if failure != "" {
			c.Failed++
			c.Failures[failure]++
			continue
		}
		c.Answered++
		neg = append(neg, v.posted.Sub(v.start))
		if connected {
			c.Connected++
			// From the POST that got the answer; earlier ones were 503s.
			ttc = append(ttc, connectedAt.Sub(v.sess.postAt))
		}
		if ended != "" {
			rep.Ended[ended]++
		}
		var first time.Time
		for k, ts := range tracks {
			if ts == nil {
				continue
			}
			<-ts.done
			t := rep.Tracks[kindNames[k]]
			t.Viewers++
			t.Codec = ts.mime
			t.Packets += ts.packets.Load()
			t.Bytes += ts.bytes.Load()
			t.Expected += ts.seq.expected()
			t.Lost += ts.seq.lost()
			t.Late += ts.seq.late
			t.Duplicates += ts.seq.dups
			t.Gaps += ts.seq.gaps
			t.Stamped += ts.stamped
			if lost := ts.seq.lost(); lost > 0 {
				t.ViewersWithLoss++
				t.WorstLossPct = max(t.WorstLossPct, pct(lost, ts.seq.expected()))
			}
			if exp := ts.frames.expected(); exp > 0 {
				f := rep.Frames[kindNames[k]]
				f.Viewers++
				f.Expected += exp
				f.Received += ts.frames.received
				f.Missing += ts.frames.lost()
				f.Gaps += ts.frames.gaps
				if ts.frames.lost() > 0 {
					f.ViewersMissing++
				}
				f.WorstReceivedPc = min(f.WorstReceivedPc, 100-pct(ts.frames.lost(), exp))
			}
			if hf, ht := r.holdFrom.Load(), r.holdTo.Load(); k == kindVideo && hf != 0 && ht != 0 && !ts.firstAt.IsZero() {
				from, to := time.Unix(0, hf), time.Unix(0, ht)
				if ts.firstAt.After(from) {
					from = ts.firstAt // the track came during the hold
				}
				if secs := to.Sub(from).Seconds(); secs > 0 {
					rates = append(rates, float64(ts.holdBytes.Load())*8/secs/1e6)
				}
			}
			if !ts.firstAt.IsZero() && (first.IsZero() || ts.firstAt.Before(first)) {
				first = ts.firstAt
			}
			if k == kindVideo {
				if ts.firstKeyAt.IsZero() {
					rep.NoKeyframe++
				} else {
					ttfk = append(ttfk, ts.firstKeyAt.Sub(v.start))
				}
			}
		}
		if !first.IsZero() {
			ttfp = append(ttfp, first.Sub(v.start))
		}
	}
	c.Negotiate = newStartupLatency(neg)
	rep.TimeToConnected = newStartupLatency(ttc)
	for _, f := range rep.Frames {
		if f.Viewers == 0 {
			f.WorstReceivedPc = 0
		}
	}
	rep.Delivery = newDelivery(rates, rep.Server.HoldStart, rep.Server.End)
	rep.TimeToFirstPacket = newStartupLatency(ttfp)
	rep.TimeToFirstKeyframe = newStartupLatency(ttfk)
	var lost, expected int64
	for k := range numKinds {
		t := rep.Tracks[kindNames[k]]
		t.LossPct = pct(t.Lost, t.Expected)
		if t.Viewers > 0 && rep.HoldSeconds > 0 {
			// Viewers came in over the ramp: their mean time is about hold plus half the ramp.
			secs := rep.HoldSeconds + c.RampSeconds/2
			t.MbitPerViewer = measure.Round3(float64(t.Bytes) * 8 / float64(t.Viewers) / secs / 1e6)
		}
		lost += t.Lost
		expected += t.Expected
	}
	rep.LossPct = pct(lost, expected)
	rep.Latency = map[string]measure.HistLatency{}
	for k := range numKinds {
		if r.lat[k].Count() > 0 {
			rep.Latency[kindNames[k]] = r.lat[k].Latency()
		}
	}
	if b, e := rep.Server.Before, rep.Server.End; b != nil && e != nil && c.Connected > 0 {
		rep.Server.RSSPerViewerBytes = math.Round((e.RSSBytes - b.RSSBytes) / float64(c.Connected))
		if secs := e.At.Sub(b.At).Seconds(); secs > 0 {
			rep.Server.CPUPct = measure.Round1(100 * (e.CPUSeconds - b.CPUSeconds) / secs)
		}
	}
	if h, e := rep.Server.HoldStart, rep.Server.End; h != nil && e != nil && r.holdPkts > 0 {
		rep.Server.CPUUsPerPacket = measure.Round3(1e6 * (e.CPUSeconds - h.CPUSeconds) / float64(r.holdPkts))
	}
	if b, e := rep.Server.Before, rep.Server.End; b != nil && e != nil {
		skips := e.StreamSkips - b.StreamSkips
		rep.Server.Skips = &skips
		if c.Connected > 0 {
			rep.Server.GoroutinesPerViewer = measure.Round1((e.Goroutines - b.Goroutines) / float64(c.Connected))
		}
	}
	rep.Targets = whepTargets(rep)
	rep.Verdict = rep.judge()
}

// newDelivery sums up the viewers' video rates (Mbit/s) against the
// source's over the hold, from the server's ingest counter.
func newDelivery(rates []float64, start, end *measure.ServerMetrics) delivery {
	d := delivery{Viewers: len(rates)}
	if start != nil && end != nil {
		if secs := end.At.Sub(start.At).Seconds(); secs > 0 {
			d.SourceMbit = measure.Round3((end.StreamIngestVideo - start.StreamIngestVideo) * 8 / secs / 1e6)
		}
	}
	if len(rates) == 0 {
		return d
	}
	slices.Sort(rates)
	d.MinMbit = measure.Round3(rates[0])
	d.P5Mbit = measure.Round3(rates[int(float64(len(rates)-1)*0.05)])
	d.P50Mbit = measure.Round3(rates[(len(rates)-1)/2])
	if d.SourceMbit > 0 {
		for _, r := range rates {
			if r < 0.97*d.SourceMbit {
				d.Below97++
			}
		}
		d.WorstPct = measure.Round1(100 * rates[0] / d.SourceMbit)
	}
	return d
}

// pct is 100·a/b with four decimals, 0 when b is 0.
func pct(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return math.Round(1e6*float64(a)/float64(b)) / 1e4
}

// whepTargets are issue 14's targets, as far as one run can tell them
// (reported, not enforced; bench/stream.sh decides a step by the verdict).
func whepTargets(rep *whepReport) []measure.Check {
	res := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	var out []measure.Check
	out = append(out, measure.Check{Name: "every viewer connected", Result: res(rep.Connect.Connected == int64(rep.Connect.Attempted)),
		Detail: fmt.Sprintf("%d of %d", rep.Connect.Connected, rep.Connect.Attempted)})
	out = append(out, measure.Check{Name: "loss under 1%", Result: res(rep.LossPct < 1),
		Detail: fmt.Sprintf("%.3f%%", rep.LossPct)})
	if rep.TimeToConnected.Count > 0 {
		out = append(out, measure.Check{Name: "POST to connected at most 30 ms at p50", Result: res(rep.TimeToConnected.P50Ms <= 30),
			Detail: fmt.Sprintf("p50 %.1f ms", rep.TimeToConnected.P50Ms)})
	}
	if rep.TimeToFirstKeyframe.Count > 0 {
		out = append(out, measure.Check{Name: "first keyframe at most 60 ms at p50", Result: res(rep.TimeToFirstKeyframe.P50Ms <= 60),
			Detail: fmt.Sprintf("p50 %.1f ms", rep.TimeToFirstKeyframe.P50Ms)})
	} else {
		out = append(out, measure.Check{Name: "first keyframe at most 60 ms at p50", Result: "FAIL", Detail: "no viewer saw a keyframe"})
	}
	if rep.Server.RSSPerViewerBytes > 0 {
		out = append(out, measure.Check{Name: "server memory at most 250 KB per viewer", Result: res(rep.Server.RSSPerViewerBytes <= 250<<10),
			Detail: fmt.Sprintf("%.0f KB (RSS)", rep.Server.RSSPerViewerBytes/1024)})
	}
	return out
}

func printWhep(w io.Writer, rep *whepReport) {
	c := rep.Connect
	fmt.Fprintf(w, "\nviewers: %d tried, %d answered, %d connected, %d failed (%s); %d retries after 503\n",
		c.Attempted, c.Answered, c.Connected, c.Failed, measure.CountsLine(c.Failures), c.Retries)
	if len(rep.Ended) > 0 {
		fmt.Fprintf(w, "connections that ended early: %s\n", measure.CountsLine(rep.Ended))
	}
	fmt.Fprintf(w, "  %-26s %7s %9s %9s %9s %9s\n", "from POST start", "viewers", "p50 ms", "p95 ms", "p99 ms", "max ms")
	row := func(name string, l startupLatency) {
		fmt.Fprintf(w, "  %-26s %7d %9.1f %9.1f %9.1f %9.1f\n", name, l.Count, l.P50Ms, l.P95Ms, l.P99Ms, l.MaxMs)
	}
	row("answer", c.Negotiate)
	row("connected (from its POST)", rep.TimeToConnected)
	row("first packet", rep.TimeToFirstPacket)
	row("first keyframe", rep.TimeToFirstKeyframe)
	if rep.NoKeyframe > 0 {
		fmt.Fprintf(w, "  %d viewers got video but no keyframe\n", rep.NoKeyframe)
	}
	fmt.Fprintf(w, "\n  %-6s %-11s %7s %11s %12s %10s %9s %7s %6s %6s %7s\n", "track", "codec", "viewers", "packets", "bytes", "Mbit/s/vwr", "lost", "loss %", "late", "dups", "worst %")
	for k := range numKinds {
		t := rep.Tracks[kindNames[k]]
		fmt.Fprintf(w, "  %-6s %-11s %7d %11d %12d %10.3f %9d %7.3f %6d %6d %7.2f\n",
			kindNames[k], t.Codec, t.Viewers, t.Packets, t.Bytes, t.MbitPerViewer, t.Lost, t.LossPct, t.Late, t.Duplicates, t.WorstLossPct)
	}
	fmt.Fprintf(w, "  loss over every track: %.3f%%\n", rep.LossPct)
	for k := range numKinds {
		if f := rep.Frames[kindNames[k]]; f != nil && f.Viewers > 0 {
			fmt.Fprintf(w, "  %s frames: %d of %d received (%d missing in %d gaps, at %d viewers; worst viewer %.2f%%)\n",
				kindNames[k], f.Received, f.Expected, f.Missing, f.Gaps, f.ViewersMissing, f.WorstReceivedPc)
		}
	}
	if d := rep.Delivery; d.Viewers > 0 {
		fmt.Fprintf(w, "  video delivered per viewer over the hold: min %.3f, p5 %.3f, p50 %.3f Mbit/s; source %.3f Mbit/s; %d viewers under 97%% (worst %.1f%%)\n",
			d.MinMbit, d.P5Mbit, d.P50Mbit, d.SourceMbit, d.Below97, d.WorstPct)
	}
	if rep.Server.CPUUsPerPacket > 0 {
		fmt.Fprintf(w, "  server CPU per packet received over the hold: %.2f µs\n", rep.Server.CPUUsPerPacket)
	}
	if rep.Server.Skips != nil {
		fmt.Fprintf(w, "  server-side skips (pavilion_stream_viewer_skips_total): %.0f\n", *rep.Server.Skips)
	}
	for k := range numKinds {
		if l, ok := rep.Latency[kindNames[k]]; ok {
			what := "per frame, at its last packet"
			if k == kindAudio {
				what = "per packet"
			}
			fmt.Fprintf(w, "  %s latency send to receipt (%s): p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
				kindNames[k], what, l.P50Ms, l.P99Ms, l.P999Ms, l.MaxMs)
		}
	}
	if rep.UDPRcvbufErrors != nil {
		fmt.Fprintf(w, "  UDP receive-buffer drops on this machine during the run: %d", *rep.UDPRcvbufErrors)
		if rep.ClientSocketDrops != nil {
			fmt.Fprintf(w, " (on pavload's own sockets: %d)", *rep.ClientSocketDrops)
		}
		fmt.Fprintln(w)
	}
	cl := rep.Client
	fmt.Fprintf(w, "  pavload (--engine %s): %.0f%% of a CPU over the run, %.0f%% over the hold (%.2f µs per packet received); per viewer %.0f KB heap, %.0f KB RSS, %.1f goroutines",
		cl.Engine, cl.CPUPct, cl.HoldCPUPct, cl.CPUUsPerPacket, cl.HeapPerViewerBytes/1024, cl.RSSPerViewerBytes/1024, cl.GoroutinesPerViewer)
	if cl.PacketsPerRead > 0 {
		fmt.Fprintf(w, "; %.1f packets per socket read", cl.PacketsPerRead)
	}
	if len(cl.SRTPProfiles) > 0 {
		fmt.Fprintf(w, "; SRTP %s", measure.CountsLine(cl.SRTPProfiles))
	}
	fmt.Fprintln(w)
	if rep.Server.End != nil && rep.Server.Before != nil {
		fmt.Fprintf(w, "  server (/metrics): %.0f%% of a CPU, %.0f KB RSS per viewer\n", rep.Server.CPUPct, rep.Server.RSSPerViewerBytes/1024)
	}
	if rep.Verdict.Pass {
		fmt.Fprintln(w, "\nverdict: PASS (connected, loss < 1%, no skip, every viewer ≥ 97% of the source)")
	} else {
		fmt.Fprintf(w, "\nverdict: FAIL (%s)\n", strings.Join(rep.Verdict.Reasons, "; "))
	}
	if rep.Verdict.ClientLimited {
		fmt.Fprintf(w, "  %s\n", rep.Verdict.ClientNote)
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "  %-4s %s: %s\n", t.Result, t.Name, t.Detail)
	}
}
