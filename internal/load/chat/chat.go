// Package chat is `pavload chat`: a crowd of websocket viewers in one live
// room, timing every chat message to every viewer, counting reactions and
// commerce events, and reading the server's memory per connection.
package chat

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
)

// chatConfig is everything `pavload chat` is told.
type chatConfig struct {
	scenario.Common
	wsURL string

	viewers         int
	chatters        int
	reacters        int
	signedInViewers bool
	rate            float64
	size            int
	reactions       float64
	duration        time.Duration
	storm           time.Duration
	idle            time.Duration
	drain           time.Duration
	ramp            float64
	dialConcurrency int
	readBuffer      int
	createWorkers   int
	timeout         time.Duration
	progress        time.Duration
	protocol        int
	stockEvery      time.Duration
	reader          string
	pollers         int
}

// Readers (--reader).
const (
	readerEpoll     = "epoll"
	readerGoroutine = "goroutine"
)

// serverFrameLimit is the live room's per-user limit on chat and reaction
// frames (chat.Room.allowLocked: 5 a second, bursts of 10). Senders are
// spread so that no account goes over it, unless told otherwise.
const serverFrameLimit = 5.0

const chatUsage = `Usage: pavload chat [flags]

A crowd in one live room (GET /ws/shows/{id}, the demo show by default).
It connects --viewers websockets (at most --dial-concurrency handshakes at a
time, or --ramp a second) and waits for every welcome; waits --idle and reads
the server's metrics (--metrics-url) to see what an idle connection costs; then --chatters
of the viewers send --rate chat messages a second in all (--size bytes each)
for --duration. With --reactions, --reacters signed-in viewers tap reactions
at that total rate: during --storm after the chat phase (chat goes on), or,
with --storm 0, alongside the chat for the whole --duration.

Every chat message carries its send time and a number; every viewer that
receives it records the delivery latency (same process, same clock) in a
histogram, and counts what it got against what was sent after its welcome.
Chatters and reacters are token-only accounts made as the platform admin
(POST /api/users, like pavload buy); other viewers are anonymous unless
--signed-in-viewers.

Viewers are read cheaply: on Linux, over ws://, a welcomed viewer's socket
leaves Go's poller for an epoll set that one goroutine per CPU polls
(--reader epoll; a frame waits about 1 ms at most before it is read). Each
phase reports pavload's own CPU, the frames its viewers read, and CPU time
per frame on both sides, so a run where pavload is the limit says so.

It prints the figures as text (and as JSON with --json). The targets (every
message delivered, p99 delivery under 250 ms, at most 15 KB of server memory
per idle connection) are reported, not enforced: it exits 1 only when the run
itself fails.

  pavilion demo --json --data-dir ./data > demo.json
  pavload chat --demo demo.json --viewers 10000 --rate 20 --duration 20s \
      --reactions 2000 --storm 10s

Flags:`

func (c *chatConfig) register(fs *flag.FlagSet) {
	c.RegisterCommon(fs, "platform admin bearer token, to create chatters and reacters (default: from --demo)",
		"show whose room to join (default: show_id from --demo)")
	fs.StringVar(&c.wsURL, "ws", "", "websocket URL of the room (default: ws(s)://<base host>/ws/shows/<show>)")
	fs.IntVar(&c.viewers, "viewers", 1000, "websockets in the room, chatters and reacters included")
	fs.IntVar(&c.chatters, "chatters", 20, "viewers that chat (signed in)")
	fs.IntVar(&c.reacters, "reacters", 0, "viewers that send reactions (signed in; default: enough to keep each under 4 a second)")
	fs.BoolVar(&c.signedInViewers, "signed-in-viewers", false, "sign every viewer in (one token-only account each), not just chatters and reacters")
	fs.Float64Var(&c.rate, "rate", 20, "chat messages a second, all chatters together (0: no chat)")
	fs.IntVar(&c.size, "size", 100, "chat message size in bytes (at least the 40-odd bytes of its header)")
	fs.Float64Var(&c.reactions, "reactions", 0, "reactions a second, all reacters together (the storm; 0: none)")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "length of the chat phase")
	fs.DurationVar(&c.storm, "storm", 0, "length of the reaction storm after the chat phase (chat goes on); 0: reactions, if any, run during the chat phase")
	fs.DurationVar(&c.idle, "idle", 3*time.Second, "wait with every viewer connected and idle before reading the server's memory")
	fs.DurationVar(&c.drain, "drain", 5*time.Second, "after the last message, wait at most this long for deliveries still on their way")
	fs.Float64Var(&c.ramp, "ramp", 0, "new connections a second at most (0: as fast as --dial-concurrency allows)")
	fs.IntVar(&c.dialConcurrency, "dial-concurrency", 200, "websocket handshakes in flight at most")
	fs.IntVar(&c.readBuffer, "read-buffer", 1024, "bytes of each viewer's read buffer with --reader goroutine: a frame takes a read system call at least, a backlog as many as it fills")
	fs.StringVar(&c.reader, "reader", "", "how viewers are read: epoll (a few goroutines read every socket through epoll, Linux, ws:// only: the cheap one) or goroutine (a goroutine and a gorilla connection each); default: epoll where it can run")
	fs.IntVar(&c.pollers, "pollers", 0, "epoll readers with --reader epoll (default: GOMAXPROCS)")
	fs.IntVar(&c.createWorkers, "create-workers", 32, "parallel requests while creating accounts")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout, and how long a viewer may wait for its welcome")
	fs.DurationVar(&c.progress, "progress", 5*time.Second, "print a progress line this often during the run (0: never)")
	fs.IntVar(&c.protocol, "protocol", 2, "live-room protocol version: 2 asks for batch frames (?v=2), 1 for a frame per event")
	fs.DurationVar(&c.stockEvery, "stock-every", 0, "change the stock of the show's offer with the most units left this often during the storm (the chat phase with --storm 0), reserving and releasing one unit as the platform admin, and time the stock events every viewer gets (0: no stock changes)")
}

// complete fills what flags left empty from the demo file, then checks the result.
func (c *chatConfig) complete() error {
	if _, err := c.LoadDemo(); err != nil {
		return err
	}
	if c.reacters == 0 && c.reactions > 0 {
		// 4 a second each stays under the server's per-user limit of 5.
		c.reacters = int(math.Ceil(c.reactions / (serverFrameLimit - 1)))
	}
	var problems scenario.Checks
	problems.Need(c.Base != "", "--base (or --demo) is required")
	problems.Need(c.ShowID != "" || c.wsURL != "", "--show (or --demo, or --ws) is required")
	problems.Need(c.viewers >= 1, "--viewers must be at least 1")
	problems.Need(c.chatters >= 0 && c.reacters >= 0, "--chatters and --reacters must not be negative")
	problems.Need(c.chatters+c.reacters <= c.viewers, "--chatters and --reacters are viewers too: together at most --viewers")
	problems.Need(c.rate >= 0 && c.reactions >= 0, "--rate and --reactions must not be negative")
	problems.Need(c.rate == 0 || c.chatters >= 1, "--rate needs at least one chatter")
	problems.Need(c.reactions == 0 || c.reacters >= 1, "--reactions needs at least one reacter")
	problems.Need(c.size >= minChatSize && c.size <= 500, fmt.Sprintf("--size must be from %d to 500 bytes (the server's limit)", minChatSize))
	problems.Need(c.duration > 0, "--duration must be positive")
	problems.Need(c.storm >= 0 && c.idle >= 0 && c.drain >= 0, "--storm, --idle and --drain must not be negative")
	problems.Need(c.storm == 0 || c.reactions > 0, "--storm needs --reactions")
	problems.Need(c.ramp >= 0, "--ramp must not be negative")
	problems.Need(c.dialConcurrency >= 1 && c.createWorkers >= 1, "--dial-concurrency and --create-workers must be at least 1")
	problems.Need(c.readBuffer >= 256, "--read-buffer must be at least 256 bytes")
	problems.Need(c.timeout > 0, "--timeout must be positive")
	problems.Need(c.progress >= 0, "--progress must not be negative")
	problems.Need(c.protocol == 1 || c.protocol == 2, "--protocol must be 1 or 2")
	problems.Need(c.stockEvery >= 0, "--stock-every must not be negative")
	problems.Need(c.reader == "" || c.reader == readerEpoll || c.reader == readerGoroutine, "--reader must be epoll or goroutine")
	problems.Need(c.reader != readerEpoll || rawReaderSupported, "--reader epoll needs Linux")
	problems.Need(c.pollers >= 0, "--pollers must not be negative")
	problems.Need(c.stockEvery == 0 || c.AdminToken != "", "--stock-every needs --admin-token (or --demo)")
	problems.Need(c.signedIn() == 0 || c.AdminToken != "", "--admin-token (or --demo) is required to create the signed-in viewers")
	if _, err := measure.NewScraper(c.MetricsURL, time.Second); err != nil {
		problems = append(problems, err.Error())
	}
	if c.wsURL == "" && c.Base != "" && c.ShowID != "" {
		u, err := url.Parse(c.Base)
		switch {
		case err != nil || u.Host == "":
			problems = append(problems, fmt.Sprintf("--base %q is not a URL", c.Base))
		case u.Scheme == "https":
			c.wsURL = "wss://" + u.Host + "/ws/shows/" + url.PathEscape(c.ShowID)
		default:
			c.wsURL = "ws://" + u.Host + "/ws/shows/" + url.PathEscape(c.ShowID)
		}
	}
	if c.wsURL != "" && c.protocol >= 2 {
		if u, err := url.Parse(c.wsURL); err == nil {
			q := u.Query()
			q.Set("v", strconv.Itoa(c.protocol))
			u.RawQuery = q.Encode()
			c.wsURL = u.String()
		}
	}
	raw := strings.HasPrefix(c.wsURL, "ws://")
	switch {
	case c.reader == "" && rawReaderSupported && raw:
		c.reader = readerEpoll
	case c.reader == "":
		c.reader = readerGoroutine
	case c.reader == readerEpoll && c.wsURL != "" && !raw:
		problems = append(problems, "--reader epoll speaks ws:// only (use --reader goroutine for wss://)")
	}
	if c.pollers == 0 {
		c.pollers = runtime.GOMAXPROCS(0)
	}
	return problems.Err()
}

// signedIn is how many viewers need an account: chatters and reacters
// first, then, with --signed-in-viewers, everyone.
func (c *chatConfig) signedIn() int {
	if c.signedInViewers {
		return c.viewers
	}
	return c.chatters + c.reacters
}

// Run is `pavload chat` with its arguments.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg chatConfig
	if _, err := scenario.ParseFlags("chat", chatUsage, args, stderr, cfg.register); err != nil {
		return err
	}
	if err := cfg.complete(); err != nil {
		return fmt.Errorf("chat: %w", err)
	}
	_, err := scenario.RunReport(&cfg.Common, stdout, func() (*chatReport, error) { return runChat(ctx, &cfg, stdout) })
	return err
}

// runChat runs the whole scenario and returns its report; the report is
// returned, as far as it got, with an error too.
func runChat(ctx context.Context, cfg *chatConfig, out io.Writer) (*chatReport, error) {
	runID := scenario.NewRunID()
	c, err := apiclient.NewClient(cfg.Base, cfg.createWorkers+2, cfg.timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	rep := &chatReport{
		Label: cfg.Label, RunID: runID, Base: cfg.Base, WSURL: cfg.wsURL, StartedAt: time.Now().UTC(),
		Client: chatClientInfo{ClientInfo: measure.ClientInfo{GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}},
		Config: chatConfigReport{
			Viewers: cfg.viewers, Chatters: cfg.chatters, Reacters: cfg.reacters, SignedInViewers: cfg.signedInViewers,
			Rate: cfg.rate, Size: cfg.size, Reactions: cfg.reactions, DurationSeconds: cfg.duration.Seconds(), StormSeconds: cfg.storm.Seconds(),
			IdleSeconds: cfg.idle.Seconds(), DrainMaxSeconds: cfg.drain.Seconds(), Ramp: cfg.ramp, DialConcurrency: cfg.dialConcurrency, ReadBuffer: cfg.readBuffer,
			ServerFrameLimit: serverFrameLimit, Protocol: cfg.protocol, StockEveryMs: float64(cfg.stockEvery.Milliseconds()),
			Reader: cfg.reader,
		},
		Disconnects: map[string]int64{}, ErrorFrames: map[string]int64{},
	}
	if cfg.chatters > 0 {
		rep.Config.ChatPerChatter = measure.Round3(cfg.rate / float64(cfg.chatters))
	}
	if cfg.reacters > 0 {
		rep.Config.ReactPerReacter = measure.Round3(cfg.reactions / float64(cfg.reacters))
	}
	fmt.Fprintf(out, "pavload chat %s(run %s) against %s\n", scenario.LabelPrefix(cfg.Label), runID, cfg.wsURL)
	fmt.Fprintf(out, "%d viewers: %d chatting (%.4g messages/s in all, %d bytes), %d reacting (%.4g reactions/s in all), %d signed in\n",
		cfg.viewers, cfg.chatters, cfg.rate, cfg.size, cfg.reacters, cfg.reactions, cfg.signedIn())
	if rep.Config.ChatPerChatter > serverFrameLimit || rep.Config.ReactPerReacter > serverFrameLimit {
		fmt.Fprintf(out, "warning: %.4g chat and %.4g reactions a second per account is over the server's limit of %g a second per user: expect rate_limited refusals\n",
			rep.Config.ChatPerChatter, rep.Config.ReactPerReacter, serverFrameLimit)
	}

	// The accounts: chatters, then reacters, then (--signed-in-viewers) the rest.
	accounts, created, err := apiclient.CreateAccounts(ctx, c, cfg.AdminToken, cfg.signedIn(), cfg.createWorkers, func(i int) (string, string) {
		name := fmt.Sprintf("Viewer %d", i)
		switch {
		case i < cfg.chatters:
			name = fmt.Sprintf("Chatter %d", i)
		case i < cfg.chatters+cfg.reacters:
			name = fmt.Sprintf("Reacter %d", i-cfg.chatters)
		}
		return fmt.Sprintf("pavload-%s-chat-%06d@load.pavilion.example", runID, i), name
	})
	rep.Accounts = created
	if err != nil {
		return rep, fmt.Errorf("creating accounts: %w", err)
	}
	if created.Count > 0 {
		fmt.Fprintf(out, "created %d accounts in %.2fs (%.0f/s, %d workers)\n", created.Count, created.Seconds, created.PerSec, cfg.createWorkers)
	}

	r := newChatRun(cfg, runID, accounts)
	if cfg.reader == readerEpoll {
		if r.target, err = parseWSTarget(cfg.wsURL); err != nil {
			return rep, err
		}
		if r.pollers, err = newPollers(r, cfg.pollers); err != nil {
			return rep, err
		}
		rep.Config.Pollers = cfg.pollers
	}
	defer r.closeAll(5 * time.Second) // on the way out early; after a full run, already done
	mc, err := measure.NewScraper(cfg.MetricsURL, cfg.timeout)
	if err != nil {
		return rep, err
	}
	defer mc.Close()
	if mc == nil {
		rep.Server.ScrapeErrors = append(rep.Server.ScrapeErrors, measure.NoMetricsURL)
	}
	scrape := func(step string) *measure.ServerMetrics {
		if mc == nil {
			return nil
		}
		m, err := mc.Scrape(ctx)
		if err != nil {
			rep.Server.ScrapeErrors = append(rep.Server.ScrapeErrors, step+": "+err.Error())
			return nil
		}
		return m
	}
	rep.Server.Before = scrape("before")

	// The crowd comes in.
	rep.Connect = r.connectAll(ctx)
	printConnect(out, rep.Connect)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if rep.Connect.Welcomed == 0 {
		return rep, fmt.Errorf("no viewer could join the room: %s", measure.CountsLine(rep.Connect.Failures))
	}

	// The crowd sits idle: what does a connection cost the server?
	if !scenario.SleepUntil(ctx, time.Now().Add(cfg.idle)) {
		return rep, ctx.Err()
	}
	rep.Server.Idle = scrape("idle")
	heap, stack := measure.ClientMemory()
	n := float64(rep.Connect.Welcomed)
	rep.Client.HeapPerConnBytes, rep.Client.StackPerConnBytes = math.Round(float64(heap)/n), math.Round(float64(stack)/n)
	rep.Memory = &memoryReport{Connections: rep.Connect.Welcomed}
	if b, i := rep.Server.Before, rep.Server.Idle; b != nil && i != nil {
		rep.Memory.ServerConnections = i.ChatConnections
		rep.Memory.RSSPerConnBytes = math.Round((i.RSSBytes - b.RSSBytes) / n)
		rep.Memory.HeapInusePerConn = math.Round((i.HeapInuseBytes - b.HeapInuseBytes) / n)
		rep.Memory.StackInusePerConn = math.Round((i.StackInuseBytes - b.StackInuseBytes) / n)
		rep.Memory.GoroutinesPerConn = measure.Round3((i.Goroutines - b.Goroutines) / n)
	} else {
		rep.Memory.ServerMetricsMissing = true
	}
	printMemory(out, rep.Memory, rep.Server)

	// The phases.
	start := time.Now()
	stormAt := start.Add(cfg.duration)
	end := stormAt.Add(cfg.storm)
	var phases [numPhases]*chatPhaseReport
	phases[phaseChat] = &chatPhaseReport{Name: phaseNames[phaseChat], start: start, end: stormAt}
	if cfg.storm > 0 {
		phases[phaseStorm] = &chatPhaseReport{Name: phaseNames[phaseStorm], start: stormAt, end: end}
	}
	serverCPU := []float64{-1}
	if rep.Server.Idle != nil {
		serverCPU[0] = rep.Server.Idle.CPUSeconds
	}
	clientCPU := []time.Duration{measure.ProcessCPU()}
	reading := []readCounts{r.readCounts()}
	fmt.Fprintf(out, "\nchatting for %s", cfg.duration)
	if cfg.storm > 0 {
		fmt.Fprintf(out, ", then a storm of %.4g reactions/s for %s", cfg.reactions, cfg.storm)
	} else if cfg.reactions > 0 {
		fmt.Fprintf(out, ", with %.4g reactions/s", cfg.reactions)
	}
	fmt.Fprintln(out)
	r.phase.Store(phaseChat)
	var senders sync.WaitGroup
	if cfg.stockEvery > 0 {
		offerID, err := apiclient.RoomiestOffer(ctx, c, cfg.AdminToken, cfg.ShowID)
		if err != nil {
			return rep, fmt.Errorf("--stock-every: %w", err)
		}
		from, to := stormAt, end
		if cfg.storm == 0 {
			from, to = start, stormAt
		}
		rep.Commerce = &commerceReport{OfferID: offerID, EveryMs: float64(cfg.stockEvery.Milliseconds())}
		senders.Go(func() {
			scenario.SleepUntil(ctx, from)
			r.stockOn.Store(true)
			r.stockLoop(ctx, c, offerID, from, to)
		})
	}
	senders.Go(func() { r.chatLoop(ctx, start, stormAt, end) })
	if cfg.reactions > 0 {
		if cfg.storm > 0 {
			senders.Go(func() { r.reactLoop(ctx, stormAt, end, phaseStorm) })
		} else {
			senders.Go(func() { r.reactLoop(ctx, start, stormAt, phaseChat) })
		}
	}
	stop := make(chan struct{})
	go r.progress(out, start, stop)
	for p, ph := range phases {
		if ph == nil {
			continue
		}
		scenario.SleepUntil(ctx, ph.end)
		if p+1 < numPhases && phases[p+1] != nil {
			r.phase.Store(int32(p + 1)) // before the scrape, which takes a while under load
		}
		m := scrape(ph.Name + " end")
		rep.Server.Phases = append(rep.Server.Phases, m)
		if m != nil && serverCPU[len(serverCPU)-1] >= 0 {
			serverCPU = append(serverCPU, m.CPUSeconds)
		} else {
			serverCPU = append(serverCPU, -1)
		}
		clientCPU = append(clientCPU, measure.ProcessCPU())
		reading = append(reading, r.readCounts())
	}
	senders.Wait()
	close(stop)
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	rep.DrainSeconds = measure.Round3(r.drain(ctx, cfg.drain).Seconds())
	rep.Server.End = scrape("end")
	rep.Server.ConnectionsHeld = r.welcomed.Load() - r.dropped.Load()
	if rep.Server.End != nil {
		rep.Server.ConnectionsAtEnd = rep.Server.End.ChatConnections
	}
	r.closeAll(5 * time.Second)

	// The tally.
	r.tally(phases[:])
	k := 0
	for _, ph := range phases {
		if ph == nil {
			continue
		}
		ph.Seconds = measure.Round3(ph.end.Sub(ph.start).Seconds())
		if serverCPU[k] >= 0 && serverCPU[k+1] >= 0 {
			ph.ServerCPU = measure.Round3((serverCPU[k+1] - serverCPU[k]) / ph.Seconds)
		}
		ph.ClientCPU = measure.Round3((clientCPU[k+1] - clientCPU[k]).Seconds() / ph.Seconds)
		ph.reading(reading[k+1].minus(reading[k]), (clientCPU[k+1] - clientCPU[k]).Seconds())
		ph.ratios()
		if ph.Seconds > 0 {
			ph.ReactionFramesPerSec = measure.Round1(float64(ph.ReactionFrames) / ph.Seconds)
			ph.ReactionFramesPerViewerSec = measure.Round3(float64(ph.ReactionFrames) / ph.Seconds / n)
		}
		rep.Phases = append(rep.Phases, ph)
		k++
	}
	rep.Total = totalPhase(rep.Phases)
	if rep.Total.Seconds > 0 {
		rep.Total.ReactionFramesPerViewerSec = measure.Round3(float64(rep.Total.ReactionFrames) / rep.Total.Seconds / n)
	}
	for _, v := range r.viewers {
		rep.SeqGaps += v.gaps
		rep.ForeignChat += v.foreign
	}
	r.mu.Lock()
	maps.Copy(rep.Disconnects, r.disconnects)
	maps.Copy(rep.ErrorFrames, r.errorFrames)
	if len(r.otherFrames) > 0 {
		rep.OtherFrames = maps.Clone(r.otherFrames)
	}
	r.mu.Unlock()
	for role, name := range roleNames {
		if e := r.sendErrors[role].Load(); e > 0 {
			if rep.SendErrors == nil {
				rep.SendErrors = map[string]int64{}
			}
			rep.SendErrors[name] = e
		}
	}
	rep.ViewersFrames, rep.ViewersAnnounced = r.viewersFrames.Load(), r.viewersAnnounced.Load()
	if rep.Commerce != nil {
		r.commerce(rep.Commerce)
		printCommerce(out, rep.Commerce)
	}
	if b, e := rep.Server.Before, rep.Server.End; b != nil && e != nil {
		rep.Memory.RSSEndPerConnBytes = math.Round((e.RSSBytes - b.RSSBytes) / n)
		rep.Memory.HeapEndPerConnBytes = math.Round((e.HeapInuseBytes - b.HeapInuseBytes) / n)
		rep.Server.DroppedDuringRun = e.ChatDroppedTotal - b.ChatDroppedTotal
	}
	for _, ph := range rep.Phases {
		printChatPhase(out, ph)
	}
	if len(rep.Phases) > 1 {
		printChatPhase(out, rep.Total)
	}
	rep.Targets = chatTargets(rep)
	printChatSummary(out, rep)
	rep.FinishedAt = time.Now().UTC()
	return rep, nil
}
