package chat

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// chatReport is every figure of a `pavload chat` run; --json writes it as is.
type chatReport struct {
	Label      string                   `json:"label,omitempty"`
	RunID      string                   `json:"run_id"`
	Base       string                   `json:"base_url"`
	WSURL      string                   `json:"ws_url"`
	StartedAt  time.Time                `json:"started_at"`
	FinishedAt time.Time                `json:"finished_at"`
	Client     chatClientInfo           `json:"client"`
	Config     chatConfigReport         `json:"config"`
	Accounts   apiclient.AccountsReport `json:"accounts"` // token-only accounts for the signed-in viewers
	Connect    *connectReport           `json:"connect,omitempty"`
	Memory     *memoryReport            `json:"memory,omitempty"`
	Phases     []*chatPhaseReport       `json:"phases"`
	Total      *chatPhaseReport         `json:"total,omitempty"` // the phases together
	// DrainSeconds is how long pavload waited after the last message for
	// deliveries still on their way.
	DrainSeconds float64 `json:"drain_seconds"`
	// SeqGaps is sequenced room events the viewers never got (skipped
	// numbers), summed over the viewers: chat the server shed for them.
	SeqGaps int64 `json:"seq_gaps"`
	// ForeignChat is chat frames that were not this run's (another client in the room).
	ForeignChat int64 `json:"foreign_chat"`
	// Disconnects is connections the server or the network ended during
	// the run, by close code (or "eof", "reset"…).
	Disconnects map[string]int64 `json:"disconnects"`
	// ErrorFrames is the server's error frames, by "<role> <code>".
	ErrorFrames map[string]int64 `json:"error_frames"`
	// SendErrors is frames pavload could not write, by role.
	SendErrors map[string]int64 `json:"send_errors,omitempty"`
	// ViewersFrames is "viewers" frames received over all viewers; the count
	// the last one announced is ViewersAnnounced.
	ViewersFrames    int64            `json:"viewers_frames"`
	ViewersAnnounced int64            `json:"viewers_announced"`
	OtherFrames      map[string]int64 `json:"other_frames,omitempty"`
	// Commerce is the stock events of --stock-every.
	Commerce *commerceReport `json:"commerce,omitempty"`
	Server   serverReport    `json:"server"`
	Targets  []measure.Check `json:"targets"`
}

type chatClientInfo struct {
	measure.ClientInfo
	// What pavload's viewers cost it: heap and stacks per connection, idle.
	HeapPerConnBytes  float64 `json:"heap_per_conn_bytes"`
	StackPerConnBytes float64 `json:"stack_per_conn_bytes"`
}

type chatConfigReport struct {
	Viewers          int     `json:"viewers"`
	Chatters         int     `json:"chatters"`
	Reacters         int     `json:"reacters"`
	SignedInViewers  bool    `json:"signed_in_viewers"`
	Rate             float64 `json:"rate"`
	Size             int     `json:"size"`
	Reactions        float64 `json:"reactions"`
	DurationSeconds  float64 `json:"duration_seconds"`
	StormSeconds     float64 `json:"storm_seconds"`
	IdleSeconds      float64 `json:"idle_seconds"`
	DrainMaxSeconds  float64 `json:"drain_max_seconds"`
	Ramp             float64 `json:"ramp"`
	DialConcurrency  int     `json:"dial_concurrency"`
	ReadBuffer       int     `json:"read_buffer"`
	ChatPerChatter   float64 `json:"chat_per_chatter_per_sec"`
	ReactPerReacter  float64 `json:"reactions_per_reacter_per_sec"`
	ServerFrameLimit float64 `json:"server_frame_limit_per_user_per_sec"`
	Protocol         int     `json:"protocol"`
	StockEveryMs     float64 `json:"stock_every_ms"`
	Reader           string  `json:"reader"`            // epoll or goroutine
	Pollers          int     `json:"pollers,omitempty"` // epoll readers
}

// memoryReport is what an idle connection costs the server: its /metrics
// before any viewer connected, and after every viewer was welcomed and
// --idle had passed, divided by the viewers welcomed.
type memoryReport struct {
	Connections          int64   `json:"connections"`
	ServerConnections    float64 `json:"server_connections"` // pavilion_chat_connections when idle
	RSSPerConnBytes      float64 `json:"rss_per_conn_bytes"`
	HeapInusePerConn     float64 `json:"heap_inuse_per_conn_bytes"`
	StackInusePerConn    float64 `json:"stack_inuse_per_conn_bytes"`
	GoroutinesPerConn    float64 `json:"goroutines_per_conn"`
	RSSEndPerConnBytes   float64 `json:"rss_end_per_conn_bytes"` // at the end of the run, after the traffic
	HeapEndPerConnBytes  float64 `json:"heap_inuse_end_per_conn_bytes"`
	ServerMetricsMissing bool    `json:"server_metrics_missing,omitempty"`
}

// serverReport is the server's /metrics at each step of the run.
type serverReport struct {
	Before *measure.ServerMetrics   `json:"before,omitempty"` // nobody connected yet
	Idle   *measure.ServerMetrics   `json:"idle,omitempty"`   // every viewer welcomed, --idle later
	Phases []*measure.ServerMetrics `json:"phase_ends,omitempty"`
	End    *measure.ServerMetrics   `json:"end,omitempty"` // after the drain, before closing
	// DroppedDuringRun is pavilion_chat_dropped_total's increase: frames the
	// server shed for slow readers, and slow readers it disconnected.
	DroppedDuringRun float64 `json:"dropped_during_run"`
	// ConnectionsAtEnd is pavilion_chat_connections after the drain, and
	// ConnectionsHeld the viewers pavload still held then: fewer on the
	// server means it closed some whose close pavload had not read yet.
	ConnectionsAtEnd float64  `json:"connections_at_end"`
	ConnectionsHeld  int64    `json:"connections_held"`
	ScrapeErrors     []string `json:"scrape_errors,omitempty"`
}

// chatPhaseReport is one phase: the chat messages sent in it and what
// became of them, the reactions, and the CPU both sides used.
type chatPhaseReport struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`

	MessagesSent     int64 `json:"messages_sent"`
	MessagesRefused  int64 `json:"messages_refused"`  // error frame, or the write failed
	MessagesSeen     int64 `json:"messages_seen"`     // reached at least one viewer
	MessagesComplete int64 `json:"messages_complete"` // reached every viewer in the room when sent
	// Deliveries is chat frames received, over all viewers; expected is
	// every message not refused × every viewer welcomed before it was sent.
	Deliveries         int64 `json:"deliveries"`
	DeliveriesExpected int64 `json:"deliveries_expected"`
	Missing            int64 `json:"missing"`
	// Sampled is chat the server left out on purpose and counted (protocol
	// 2's "skipped": a viewer behind, or a big room's cap), by when it
	// arrived; DeliveredOfSentPct is deliveries over expected − sampled:
	// what reached the viewers of what the room's policy sent.
	Sampled            int64   `json:"sampled"`
	DeliveredOfSentPct float64 `json:"delivered_of_policy_pct"`
	DeliveredPct       float64 `json:"delivered_pct"`
	DeliveriesPerSec   float64 `json:"deliveries_per_sec"` // deliveries of the phase's messages / its length
	// ReceivedInPhase is chat frames that arrived during the phase (whenever
	// sent): the rate the server actually pushed, when it falls behind.
	ReceivedInPhase int64               `json:"received_in_phase"`
	ReceivedPerSec  float64             `json:"received_per_sec"`
	Latency         measure.HistLatency `json:"latency"` // send to receipt, every delivery
	Disconnects     int64               `json:"disconnects"`

	ReactionsSent              int64   `json:"reactions_sent"`
	ReactionsRefused           int64   `json:"reactions_refused"`
	ReactionsCounted           int64   `json:"reactions_counted"` // the sum of the counts one viewer saw
	ReactionFrames             int64   `json:"reaction_frames"`   // over all viewers
	ReactionFramesPerSec       float64 `json:"reaction_frames_per_sec"`
	ReactionFramesPerViewerSec float64 `json:"reaction_frames_per_viewer_sec"`

	// CPU used in the phase, in cores (1 = one CPU busy all the time).
	ServerCPU float64 `json:"server_cpu_cores"`
	ClientCPU float64 `json:"client_cpu_cores"`
	// What the phase cost per frame, figures that hold whatever else the
	// machine runs: websocket frames the viewers read (every frame the
	// server wrote them), the read system calls and epoll_wait calls that
	// took (--reader epoll), and CPU time per frame on each side, and the
	// server's per chat line delivered.
	ClientFrames        int64   `json:"client_frames"`
	ClientReads         int64   `json:"client_reads,omitempty"`
	ClientPollWaits     int64   `json:"client_poll_waits,omitempty"`
	ClientUsPerFrame    float64 `json:"client_cpu_us_per_frame"`
	ServerUsPerFrame    float64 `json:"server_cpu_us_per_frame"`
	ServerUsPerDelivery float64 `json:"server_cpu_us_per_delivery"`

	clientCPUSeconds float64

	start, end time.Time
	hist       *measure.Histogram
}

// finish sums the phase's histogram shards and works out the ratios.
func (p *chatPhaseReport) finish(shards *[histShards]measure.Histogram) {
	h := &measure.Histogram{}
	for i := range shards {
		h.Merge(&shards[i])
	}
	p.hist = h
	p.ratios()
}

// readCounts are the run's reading counters at one moment.
type readCounts struct{ frames, reads, waits int64 }

func (r *chatRun) readCounts() readCounts {
	return readCounts{r.framesIn.Load(), r.readCalls.Load(), r.pollWaits.Load()}
}

func (a readCounts) minus(b readCounts) readCounts {
	return readCounts{a.frames - b.frames, a.reads - b.reads, a.waits - b.waits}
}

// reading sets the phase's reading counters and the client's CPU seconds.
func (p *chatPhaseReport) reading(c readCounts, clientCPUSeconds float64) {
	p.ClientFrames, p.ClientReads, p.ClientPollWaits = c.frames, c.reads, c.waits
	p.clientCPUSeconds = clientCPUSeconds
}

func (p *chatPhaseReport) ratios() {
	p.Latency = p.hist.Latency()
	if p.ClientFrames > 0 {
		p.ClientUsPerFrame = measure.Round3(p.clientCPUSeconds * 1e6 / float64(p.ClientFrames))
		p.ServerUsPerFrame = measure.Round3(p.ServerCPU * p.Seconds * 1e6 / float64(p.ClientFrames))
	}
	if p.ReceivedInPhase > 0 {
		p.ServerUsPerDelivery = measure.Round3(p.ServerCPU * p.Seconds * 1e6 / float64(p.ReceivedInPhase))
	}
	p.Missing = p.DeliveriesExpected - p.Deliveries
	p.DeliveredPct, p.DeliveredOfSentPct = 100, 100
	if p.DeliveriesExpected > 0 {
		p.DeliveredPct = math.Floor(float64(p.Deliveries)/float64(p.DeliveriesExpected)*1e5) / 1e3
	}
	if policy := p.DeliveriesExpected - p.Sampled; policy > 0 {
		p.DeliveredOfSentPct = math.Floor(min(float64(p.Deliveries)/float64(policy), 1)*1e5) / 1e3
	}
	if p.Seconds > 0 {
		p.DeliveriesPerSec = measure.Round1(float64(p.Deliveries) / p.Seconds)
		p.ReceivedPerSec = measure.Round1(float64(p.ReceivedInPhase) / p.Seconds)
	}
}

// total adds the phases up.
func totalPhase(phases []*chatPhaseReport) *chatPhaseReport {
	t := &chatPhaseReport{Name: "total", hist: &measure.Histogram{}}
	var cpuS, cpuC float64
	for _, p := range phases {
		t.Seconds += p.Seconds
		t.MessagesSent += p.MessagesSent
		t.MessagesRefused += p.MessagesRefused
		t.MessagesSeen += p.MessagesSeen
		t.MessagesComplete += p.MessagesComplete
		t.Deliveries += p.Deliveries
		t.ReceivedInPhase += p.ReceivedInPhase
		t.DeliveriesExpected += p.DeliveriesExpected
		t.Sampled += p.Sampled
		t.Disconnects += p.Disconnects
		t.ReactionsSent += p.ReactionsSent
		t.ReactionsRefused += p.ReactionsRefused
		t.ReactionsCounted += p.ReactionsCounted
		t.ReactionFrames += p.ReactionFrames
		cpuS += p.ServerCPU * p.Seconds
		cpuC += p.ClientCPU * p.Seconds
		t.ClientFrames += p.ClientFrames
		t.ClientReads += p.ClientReads
		t.ClientPollWaits += p.ClientPollWaits
		t.clientCPUSeconds += p.clientCPUSeconds
		t.hist.Merge(p.hist)
	}
	t.Seconds = measure.Round3(t.Seconds)
	if t.Seconds > 0 {
		t.ServerCPU, t.ClientCPU = measure.Round3(cpuS/t.Seconds), measure.Round3(cpuC/t.Seconds)
		t.ReactionFramesPerSec = measure.Round1(float64(t.ReactionFrames) / t.Seconds)
	}
	t.ratios()
	return t
}

// chatTargets are the live room's targets, measured and not enforced.
func chatTargets(rep *chatReport) []measure.Check {
	met := func(ok bool) string {
		if ok {
			return "met"
		}
		return "not met"
	}
	var out []measure.Check
	if t := rep.Total; t != nil && t.MessagesSent > 0 {
		out = append(out, measure.Check{Name: "every message delivered", Result: met(t.Missing == 0 && t.MessagesRefused == 0 && t.DeliveriesExpected > 0),
			Detail: fmt.Sprintf("%d of %d deliveries (%.3f %%), %d messages refused, %d seq gaps, %d disconnects",
				t.Deliveries, t.DeliveriesExpected, t.DeliveredPct, t.MessagesRefused, rep.SeqGaps, t.Disconnects)})
		out = append(out, measure.Check{Name: "p99 delivery under 250 ms", Result: met(t.Latency.Count > 0 && t.Latency.P99Ms < 250),
			Detail: fmt.Sprintf("p99 %.1f ms (p50 %.1f, max %.1f)", t.Latency.P99Ms, t.Latency.P50Ms, t.Latency.MaxMs)})
	}
	for _, p := range rep.Phases {
		if p.ClientCPU >= 0.9*float64(rep.Client.GOMAXPROCS) {
			out = append(out, measure.Check{Name: "pavload kept up", Result: "not met",
				Detail: fmt.Sprintf("pavload used %.2f of its %d cores in the %s phase: the figures may be pavload's limit, not the server's", p.ClientCPU, rep.Client.GOMAXPROCS, p.Name)})
			break
		}
	}
	if m := rep.Memory; m != nil && !m.ServerMetricsMissing {
		out = append(out, measure.Check{Name: "at most 15 KB of server memory per idle connection", Result: met(m.RSSPerConnBytes <= 15_000),
			Detail: fmt.Sprintf("%.1f KB RSS (heap in use %.1f KB, stacks %.1f KB) per connection", m.RSSPerConnBytes/1000, m.HeapInusePerConn/1000, m.StackInusePerConn/1000)})
	}
	return out
}

func printConnect(w io.Writer, c *connectReport) {
	fmt.Fprintf(w, "\nconnect: %d of %d viewers welcomed in %.3fs (%.0f/s, %d handshakes in flight at most); dial to welcome p50 %.1f / p90 %.1f / p99 %.1f / max %.1f ms\n",
		c.Welcomed, c.Viewers, c.Seconds, c.PerSec, c.DialConcurrency, c.Latency.P50Ms, c.Latency.P90Ms, c.Latency.P99Ms, c.Latency.MaxMs)
	if c.Failed > 0 {
		fmt.Fprintf(w, "  failed: %d: %s\n", c.Failed, measure.CountsLine(c.Failures))
	}
}

func printMemory(w io.Writer, m *memoryReport, s serverReport) {
	if m.ServerMetricsMissing {
		fmt.Fprintln(w, "\nserver memory: /metrics could not be read (see scrape_errors)")
		return
	}
	fmt.Fprintf(w, "\nserver memory per idle connection (%d connections, pavilion_chat_connections %.0f): %.1f KB RSS, %.1f KB heap in use, %.1f KB stacks, %.2f goroutines\n",
		m.Connections, m.ServerConnections, m.RSSPerConnBytes/1000, m.HeapInusePerConn/1000, m.StackInusePerConn/1000, m.GoroutinesPerConn)
	if s.Before != nil && s.Idle != nil {
		fmt.Fprintf(w, "  RSS %.1f MB before, %.1f MB idle; heap in use %.1f MB before, %.1f MB idle\n",
			s.Before.RSSBytes/1e6, s.Idle.RSSBytes/1e6, s.Before.HeapInuseBytes/1e6, s.Idle.HeapInuseBytes/1e6)
	}
}

func printChatPhase(w io.Writer, p *chatPhaseReport) {
	l := p.Latency
	fmt.Fprintf(w, "\n%s: %.1fs; %d messages sent (%d refused), %d seen, %d reached everyone\n",
		p.Name, p.Seconds, p.MessagesSent, p.MessagesRefused, p.MessagesSeen, p.MessagesComplete)
	fmt.Fprintf(w, "  deliveries %d of %d expected (%.3f %%, %d missing) = %.0f/s; %.0f chat frames/s arrived during the phase; disconnects %d\n",
		p.Deliveries, p.DeliveriesExpected, p.DeliveredPct, p.Missing, p.DeliveriesPerSec, p.ReceivedPerSec, p.Disconnects)
	if p.Sampled > 0 {
		fmt.Fprintf(w, "  sampled by the server on purpose (counted in batches): %d; delivered of what the room's policy sent: %.3f %%\n", p.Sampled, p.DeliveredOfSentPct)
	}
	fmt.Fprintf(w, "  delivery latency ms: mean %.2f, p50 %.2f, p90 %.2f, p99 %.2f, p99.9 %.2f, max %.2f\n",
		l.MeanMs, l.P50Ms, l.P90Ms, l.P99Ms, l.P999Ms, l.MaxMs)
	if p.ReactionsSent > 0 || p.ReactionFrames > 0 {
		fmt.Fprintf(w, "  reactions: %d sent (%d refused), %d counted by the server; %d reaction frames received = %.0f/s (%.2f per viewer per s)\n",
			p.ReactionsSent, p.ReactionsRefused, p.ReactionsCounted, p.ReactionFrames, p.ReactionFramesPerSec, p.ReactionFramesPerViewerSec)
	}
	fmt.Fprintf(w, "  CPU: server %.2f cores, pavload %.2f cores\n", p.ServerCPU, p.ClientCPU)
	if p.ClientFrames > 0 {
		fmt.Fprintf(w, "  per frame read: pavload %.2f µs of CPU, server %.2f µs; server %.2f µs per chat line delivered; %d frames in %d reads, %d epoll waits\n",
			p.ClientUsPerFrame, p.ServerUsPerFrame, p.ServerUsPerDelivery, p.ClientFrames, p.ClientReads, p.ClientPollWaits)
	}
}

func printChatSummary(w io.Writer, rep *chatReport) {
	fmt.Fprintf(w, "\nseq gaps %d; disconnects: %s; error frames: %s; server shed %.0f frames (pavilion_chat_dropped_total); at the end the server had %.0f connections, pavload %d\n",
		rep.SeqGaps, measure.CountsLine(rep.Disconnects), measure.CountsLine(rep.ErrorFrames), rep.Server.DroppedDuringRun, rep.Server.ConnectionsAtEnd, rep.Server.ConnectionsHeld)
	fmt.Fprintln(w, "\ntargets (measured, not enforced):")
	for _, c := range rep.Targets {
		fmt.Fprintf(w, "  %-7s %s: %s\n", c.Result, c.Name, c.Detail)
	}
}

// commerceReport is the stock events of --stock-every: how many the room
// announced, whether every viewer got each, and how late.
type commerceReport struct {
	OfferID string  `json:"offer_id"`
	EveryMs float64 `json:"every_ms"`
	// Actions is reserves and releases sent (Failed of them refused).
	Actions int64 `json:"actions"`
	Failed  int64 `json:"failed"`
	// Events is the distinct stock and sold_out events any viewer got;
	// Expected is Events × the viewers connected at the end.
	Events       int64   `json:"events"`
	Deliveries   int64   `json:"deliveries"`
	Expected     int64   `json:"expected"`
	DeliveredPct float64 `json:"delivered_pct"`
	// Latency runs from the offer's as_of (when the server read the stock
	// for the event) to receipt.
	Latency measure.HistLatency `json:"latency"`
}

// commerce fills the commerce report once the readers have stopped.
func (r *chatRun) commerce(c *commerceReport) {
	c.Actions, c.Failed = r.stockActions.Load(), r.stockFailed.Load()
	r.stockMu.Lock()
	c.Events = int64(len(r.stockSeqs))
	for _, n := range r.stockSeqs {
		c.Deliveries += n
	}
	r.stockMu.Unlock()
	c.Expected = c.Events * (r.welcomed.Load() - r.dropped.Load())
	c.DeliveredPct = 100
	if c.Expected > 0 {
		c.DeliveredPct = math.Floor(float64(c.Deliveries)/float64(c.Expected)*1e5) / 1e3
	}
	h := &measure.Histogram{}
	for i := range r.stockHist {
		h.Merge(&r.stockHist[i])
	}
	c.Latency = h.Latency()
}

func printCommerce(w io.Writer, c *commerceReport) {
	l := c.Latency
	fmt.Fprintf(w, "\ncommerce: a stock change every %.0f ms (%d reserves and releases, %d refused): %d stock events, %d of %d deliveries (%.3f %%); latency from the stock read ms: p50 %.2f, p90 %.2f, p99 %.2f, max %.2f\n",
		c.EveryMs, c.Actions, c.Failed, c.Events, c.Deliveries, c.Expected, c.DeliveredPct, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs)
}
