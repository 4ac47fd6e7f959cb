package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"
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
	// NoKeyframe is viewers that got video but never a keyframe.
	NoKeyframe int64                   `json:"viewers_without_keyframe"`
	Tracks     map[string]*trackTotals `json:"tracks"`
	LossPct    float64                 `json:"loss_pct"` // every track together: lost/expected
	Latency    map[string]histLatency  `json:"latency"`  // send to receipt, from pavload whip's stamps
	Ended      map[string]int64        `json:"ended_early"`
	// UDPRcvbufErrors is the kernel's count of UDP datagrams dropped on
	// full receive buffers during the run, every socket of the machine:
	// when it is not zero, some loss happened in a receiver (often pavload).
	UDPRcvbufErrors *int64      `json:"udp_rcvbuf_errors,omitempty"`
	Server          serverMedia `json:"server"`
	Targets         []check     `json:"targets"`
}

type whepClientInfo struct {
	clientInfo
	CPUPct             float64 `json:"cpu_pct"` // pavload's CPU over the run, % of one CPU
	HeapPerViewerBytes float64 `json:"heap_per_viewer_bytes"`
}

type whepConfigReport struct {
	Viewers         int     `json:"viewers"`
	Ramp            float64 `json:"ramp_per_sec"`
	Concurrency     int     `json:"concurrency"`
	DurationSeconds float64 `json:"duration_seconds"`
	TimeoutSeconds  float64 `json:"timeout_seconds"`
	Feedback        bool    `json:"feedback"`
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
	l.P50Ms, l.P95Ms, l.P99Ms = ms(percentile(d, 0.50)), ms(percentile(d, 0.95)), ms(percentile(d, 0.99))
	l.MaxMs = ms(d[len(d)-1])
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
	Before            *serverMetrics `json:"before,omitempty"`
	End               *serverMetrics `json:"end,omitempty"`
	RSSPerViewerBytes float64        `json:"rss_per_viewer_bytes,omitempty"`
	CPUPct            float64        `json:"cpu_pct,omitempty"` // % of one CPU, from process_cpu_seconds_total
	ScrapeErrors      []string       `json:"scrape_errors,omitempty"`
}

// tally turns the viewers' counters into the report. Call it once the
// readers have stopped.
func (r *whepRun) tally(rep *whepReport) {
	c := &rep.Connect
	c.Attempted = r.cfg.viewers
	c.Failures = map[string]int64{}
	rep.Ended = map[string]int64{}
	rep.Tracks = map[string]*trackTotals{}
	var ttfp, ttfk, neg []time.Duration
	for k := range numKinds {
		rep.Tracks[kindNames[k]] = &trackTotals{}
	}
	for _, v := range r.viewers {
		v.mu.Lock()
		tracks, connected, failure, ended := v.tracks, v.connected, v.failure, v.ended
		v.mu.Unlock()
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
	rep.TimeToFirstPacket = newStartupLatency(ttfp)
	rep.TimeToFirstKeyframe = newStartupLatency(ttfk)
	var lost, expected int64
	for k := range numKinds {
		t := rep.Tracks[kindNames[k]]
		t.LossPct = pct(t.Lost, t.Expected)
		if t.Viewers > 0 && rep.HoldSeconds > 0 {
			// Viewers came in over the ramp: their mean time is about hold plus half the ramp.
			secs := rep.HoldSeconds + c.RampSeconds/2
			t.MbitPerViewer = round3(float64(t.Bytes) * 8 / float64(t.Viewers) / secs / 1e6)
		}
		lost += t.Lost
		expected += t.Expected
	}
	rep.LossPct = pct(lost, expected)
	rep.Latency = map[string]histLatency{}
	for k := range numKinds {
		if r.lat[k].n.Load() > 0 {
			rep.Latency[kindNames[k]] = r.lat[k].latency()
		}
	}
	if b, e := rep.Server.Before, rep.Server.End; b != nil && e != nil && c.Connected > 0 {
		rep.Server.RSSPerViewerBytes = math.Round((e.RSSBytes - b.RSSBytes) / float64(c.Connected))
		if secs := e.At.Sub(b.At).Seconds(); secs > 0 {
			rep.Server.CPUPct = round1(100 * (e.CPUSeconds - b.CPUSeconds) / secs)
		}
	}
	rep.Targets = whepTargets(rep)
}

// pct is 100·a/b with four decimals, 0 when b is 0.
func pct(a, b int64) float64 {
	if b <= 0 {
		return 0
	}
	return math.Round(1e6*float64(a)/float64(b)) / 1e4
}

// whepTargets are issue 5's targets, as far as one run can tell them.
func whepTargets(rep *whepReport) []check {
	res := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	var out []check
	out = append(out, check{Name: "every viewer connected", Result: res(rep.Connect.Connected == int64(rep.Connect.Attempted)),
		Detail: fmt.Sprintf("%d of %d", rep.Connect.Connected, rep.Connect.Attempted)})
	out = append(out, check{Name: "loss under 1%", Result: res(rep.LossPct < 1),
		Detail: fmt.Sprintf("%.3f%%", rep.LossPct)})
	if rep.TimeToFirstKeyframe.Count > 0 {
		out = append(out, check{Name: "time to first keyframe under 300 ms at p50", Result: res(rep.TimeToFirstKeyframe.P50Ms < 300),
			Detail: fmt.Sprintf("p50 %.1f ms", rep.TimeToFirstKeyframe.P50Ms)})
	} else {
		out = append(out, check{Name: "time to first keyframe under 300 ms at p50", Result: "FAIL", Detail: "no viewer saw a keyframe"})
	}
	if rep.Server.RSSPerViewerBytes > 0 {
		out = append(out, check{Name: "server memory under 500 KB per viewer", Result: res(rep.Server.RSSPerViewerBytes < 500<<10),
			Detail: fmt.Sprintf("%.0f KB (RSS)", rep.Server.RSSPerViewerBytes/1024)})
	}
	return out
}

func printWhep(w io.Writer, rep *whepReport) {
	c := rep.Connect
	fmt.Fprintf(w, "\nviewers: %d tried, %d answered, %d connected, %d failed (%s); %d retries after 503\n",
		c.Attempted, c.Answered, c.Connected, c.Failed, countsLine(c.Failures), c.Retries)
	if len(rep.Ended) > 0 {
		fmt.Fprintf(w, "connections that ended early: %s\n", countsLine(rep.Ended))
	}
	fmt.Fprintf(w, "  %-26s %7s %9s %9s %9s %9s\n", "from POST start", "viewers", "p50 ms", "p95 ms", "p99 ms", "max ms")
	row := func(name string, l startupLatency) {
		fmt.Fprintf(w, "  %-26s %7d %9.1f %9.1f %9.1f %9.1f\n", name, l.Count, l.P50Ms, l.P95Ms, l.P99Ms, l.MaxMs)
	}
	row("answer", c.Negotiate)
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
		fmt.Fprintf(w, "  UDP receive-buffer drops on this machine during the run: %d\n", *rep.UDPRcvbufErrors)
	}
	fmt.Fprintf(w, "  pavload: %.0f%% of a CPU, %.0f KB heap per viewer\n", rep.Client.CPUPct, rep.Client.HeapPerViewerBytes/1024)
	if rep.Server.End != nil && rep.Server.Before != nil {
		fmt.Fprintf(w, "  server (/metrics): %.0f%% of a CPU, %.0f KB RSS per viewer\n", rep.Server.CPUPct, rep.Server.RSSPerViewerBytes/1024)
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "  %-4s %s: %s\n", t.Result, t.Name, t.Detail)
	}
}
