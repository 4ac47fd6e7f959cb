package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
)

// Viewer roles.
const (
	roleViewer = iota
	roleChatter
	roleReacter
)

var roleNames = [...]string{"viewer", "chatter", "reacter"}

// Phases of the chat run: chat alone (reactions too with --storm 0), then
// the reaction storm with the chat going on.
const (
	phaseChat = iota
	phaseStorm
	numPhases
)

var phaseNames = [numPhases]string{"chat", "storm"}

// histShards spreads the viewers' atomic adds over a few histograms.
const histShards = 4

// chatMsg is one chat message of the run.
type chatMsg struct {
	sentAt  atomic.Int64  // unix nanos, set just before the write; 0: not sent
	phase   atomic.Uint32 // set before sentAt
	refused atomic.Bool   // the server answered an error frame, or the write failed
	got     atomic.Int32  // viewers that received it
}

// viewer is one websocket in the room. Its counters are written only by
// its reader (its goroutine, or its epoll poller) and read after the
// readers have all ended.
type viewer struct {
	i     int
	role  int
	token string
	// link is how the run writes to the viewer once welcomed; ws is its
	// gorilla connection (--reader goroutine), rl its raw socket (--reader
	// epoll), stored last when it joins, so its poller sees the rest.
	link       link
	ws         *websocket.Conn
	rl         atomic.Pointer[rawLink]
	joined     atomic.Bool // welcomed: it can take over the counting
	welcomedAt int64       // unix nanos; 0: never welcomed
	lastSeq    uint64
	welcomeSeq uint64
	received   [numPhases]int64 // this run's chat messages, by the phase they were sent in
	gaps       int64            // sequence numbers skipped without a count
	sampled    [numPhases]int64 // chat the server left out on purpose (a batch's "skipped"), by the phase it arrived in
	stock      int64            // stock and sold_out events received
	foreign    int64            // chat messages not from this run
	buf        []byte
	closedAt   int64 // unix nanos, when the server (not pavload) ended it
	closeWhy   string
	gone       atomic.Bool // closedAt is set
}

// link writes a viewer's frames.
type link interface {
	writeText(b []byte, deadline time.Time) error
}

// gorillaLink is a viewer read by its own goroutine (--reader goroutine).
type gorillaLink struct{ ws *websocket.Conn }

func (g gorillaLink) writeText(b []byte, deadline time.Time) error {
	_ = g.ws.SetWriteDeadline(deadline)
	return g.ws.WriteMessage(websocket.TextMessage, b)
}

// chatRun is the state of one `pavload chat` run.
type chatRun struct {
	cfg     *chatConfig
	runID   string
	viewers []*viewer
	// pollers read the viewers with --reader epoll (nil: a goroutine each);
	// target is the room's address for the raw handshake.
	pollers pollers
	target  wsTarget
	// What reading cost: frames read, read system calls (--reader epoll)
	// and epoll_wait calls that found something.
	framesIn  atomic.Int64
	readCalls atomic.Int64
	pollWaits atomic.Int64
	// counter is the viewer that decodes reaction counts and viewer counts;
	// when the server disconnects it, another live viewer takes over.
	counter atomic.Pointer[viewer]
	msgs    []chatMsg

	nextMsg    atomic.Int64 // messages numbered so far
	phase      atomic.Int32 // the phase under way (-1 before the chat starts)
	closing    atomic.Bool  // pavload is closing the connections: not a disconnect
	welcomed   atomic.Int64
	dropped    atomic.Int64 // viewers disconnected by the server or the network
	deliveries atomic.Int64
	refusals   atomic.Int64
	lastLagNs  atomic.Int64 // the latency of the latest delivery: how far behind the room is

	receivedIn [numPhases]atomic.Int64 // deliveries by when they arrived, not when sent

	hist             [numPhases][histShards]measure.Histogram
	connectHist      measure.Histogram
	reactionsSent    [numPhases]atomic.Int64
	reactionFrames   [numPhases]atomic.Int64
	reactionsCounted [numPhases]atomic.Int64
	reactionRefused  [numPhases]atomic.Int64
	viewersFrames    atomic.Int64
	// Commerce events (stock, sold_out) while --stock-every runs: latency
	// from the offer's as_of (the server's read of the stock) to receipt,
	// and which event numbers reached how many viewers.
	stockHist        [histShards]measure.Histogram
	stockMu          sync.Mutex
	stockSeqs        map[uint64]int64
	stockAsOf        map[uint64]int64 // seq → the offer\'s as_of, unix nanos
	stockActions     atomic.Int64
	stockFailed      atomic.Int64
	stockOn          atomic.Bool
	viewersAnnounced atomic.Int64
	sendErrors       [3]atomic.Int64 // by role

	mu             sync.Mutex
	errorFrames    map[string]int64 // "<role> <code>"
	otherFrames    map[string]int64 // by type
	connectFailure map[string]int64
	disconnects    map[string]int64 // by reason

	readers   sync.WaitGroup
	closeOnce sync.Once
}

func newChatRun(cfg *chatConfig, runID string, accounts []apiclient.Account) *chatRun {
	r := &chatRun{cfg: cfg, runID: runID, errorFrames: map[string]int64{}, otherFrames: map[string]int64{}, stockSeqs: map[uint64]int64{}, stockAsOf: map[uint64]int64{},
		connectFailure: map[string]int64{}, disconnects: map[string]int64{}}
	r.phase.Store(-1)
	total := cfg.duration + cfg.storm
	r.msgs = make([]chatMsg, int(cfg.rate*total.Seconds())+2)
	r.viewers = make([]*viewer, cfg.viewers)
	for i := range r.viewers {
		v := &viewer{i: i}
		switch {
		case i < cfg.chatters:
			v.role = roleChatter
		case i < cfg.chatters+cfg.reacters:
			v.role = roleReacter
		}
		if i < len(accounts) {
			v.token = accounts[i].Token
		}
		r.viewers[i] = v
	}
	r.counter.Store(r.viewers[len(r.viewers)-1])
	return r
}

func (r *chatRun) count(m map[string]int64, key string) {
	r.mu.Lock()
	m[key]++
	r.mu.Unlock()
}

// connectReport is the crowd joining the room.
type connectReport struct {
	Viewers         int                 `json:"viewers"`
	Welcomed        int64               `json:"welcomed"`
	Failed          int64               `json:"failed"`
	Failures        map[string]int64    `json:"failures,omitempty"`
	DialConcurrency int                 `json:"dial_concurrency"`
	Ramp            float64             `json:"ramp_per_sec,omitempty"`
	Seconds         float64             `json:"seconds"` // until every viewer was welcomed or gave up
	PerSec          float64             `json:"per_sec"`
	Latency         measure.HistLatency `json:"latency"` // dial to welcome, per viewer
}

// connectAll opens every viewer's websocket, cfg.dialConcurrency handshakes
// at a time (and cfg.ramp a second at most), and waits for each welcome.
func (r *chatRun) connectAll(ctx context.Context) *connectReport {
	cfg := r.cfg
	pool := &sync.Pool{}
	d := &websocket.Dialer{
		NetDialContext:   (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		Proxy:            nil, // never a proxy from the environment
		HandshakeTimeout: cfg.timeout,
		ReadBufferSize:   cfg.readBuffer,
		WriteBufferSize:  512,
		WriteBufferPool:  pool, // viewers seldom write: share the write buffers
	}
	nd := &net.Dialer{Timeout: 10 * time.Second}
	sem := make(chan struct{}, cfg.dialConcurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i, v := range r.viewers {
		if cfg.ramp > 0 {
			at := start.Add(time.Duration(float64(i) / cfg.ramp * float64(time.Second)))
			if !scenario.SleepUntil(ctx, at) {
				break
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			connect := func() string { return r.connect(ctx, d, v) }
			if r.pollers != nil {
				connect = func() string { return r.connectRaw(ctx, nd, v) }
			}
			if why := connect(); why != "" {
				r.count(r.connectFailure, why)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	rep := &connectReport{Viewers: cfg.viewers, Welcomed: r.welcomed.Load(), DialConcurrency: cfg.dialConcurrency, Ramp: cfg.ramp,
		Seconds: measure.Round3(took.Seconds()), Latency: r.connectHist.Latency()}
	rep.Failed = int64(cfg.viewers) - rep.Welcomed
	rep.PerSec = measure.Round1(float64(rep.Welcomed) / took.Seconds())
	r.mu.Lock()
	rep.Failures = r.connectFailure
	r.mu.Unlock()
	return rep
}

// welcomeFrame is the part of the welcome pavload reads.
type welcomeFrame struct {
	Type    string `json:"type"`
	Seq     uint64 `json:"seq"`
	Viewers int    `json:"viewers"`
	You     struct {
		SignedIn bool `json:"signed_in"`
	} `json:"you"`
}

// connect dials one viewer and waits for its welcome, then starts its
// reader. It returns why it failed, or "".
func (r *chatRun) connect(ctx context.Context, d *websocket.Dialer, v *viewer) string {
	h := http.Header{}
	if v.token != "" {
		h.Set("Authorization", "Bearer "+v.token)
	}
	t0 := time.Now()
	dctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	ws, resp, err := d.DialContext(dctx, r.cfg.wsURL, h)
	if err != nil {
		if resp != nil {
			return fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return "dial: " + closeReason(err)
	}
	_ = ws.SetReadDeadline(t0.Add(r.cfg.timeout))
	for {
		kind, rd, err := ws.NextReader()
		if err != nil {
			_ = ws.Close()
			return "no welcome: " + closeReason(err)
		}
		if kind != websocket.TextMessage {
			continue
		}
		if v.buf, err = readFrame(rd, v.buf); err != nil {
			_ = ws.Close()
			return "no welcome: " + closeReason(err)
		}
		if _, _, typ := peekFrame(v.buf); string(typ) != "welcome" {
			r.handle(v, v.buf, time.Now().UnixNano())
			continue
		}
		var w welcomeFrame
		if err := json.Unmarshal(v.buf, &w); err != nil {
			_ = ws.Close()
			return "bad welcome"
		}
		if (v.token != "") != w.You.SignedIn {
			_ = ws.Close()
			return fmt.Sprintf("welcome says signed_in=%v", w.You.SignedIn)
		}
		v.lastSeq, v.welcomeSeq = w.Seq, w.Seq
		break
	}
	_ = ws.SetReadDeadline(time.Time{})
	now := time.Now()
	r.connectHist.Record(now.Sub(t0))
	v.ws, v.link, v.welcomedAt = ws, gorillaLink{ws}, now.UnixNano()
	if cap(v.buf) > 1024 {
		v.buf = nil // the welcome was big; chat frames are small
	}
	v.joined.Store(true)
	r.welcomed.Add(1)
	r.readers.Add(1)
	go r.read(v)
	return ""
}

// connectRaw is connect for --reader epoll: the handshake by hand, the
// frames up to the welcome read in this goroutine, then the socket goes to
// a poller. It returns why it failed, or "".
func (r *chatRun) connectRaw(ctx context.Context, d *net.Dialer, v *viewer) string {
	t0 := time.Now()
	dctx, cancel := context.WithTimeout(ctx, r.cfg.timeout)
	defer cancel()
	var w welcomeFrame
	nc, rest, err := rawDial(dctx, d, r.target, v.token, t0.Add(r.cfg.timeout), func(op byte, payload []byte) (bool, error) {
		if op != opText {
			return false, nil
		}
		now := time.Now().UnixNano()
		if w.Type != "" {
			r.handle(v, payload, now) // came with the welcome
			return false, nil
		}
		if _, _, typ := peekFrame(payload); string(typ) != "welcome" {
			r.handle(v, payload, now)
			return false, nil
		}
		if err := json.Unmarshal(payload, &w); err != nil || w.Type != "welcome" {
			return false, errBadWelcome
		}
		if (v.token != "") != w.You.SignedIn {
			return false, &welcomeRoleError{w.You.SignedIn}
		}
		v.lastSeq, v.welcomeSeq = w.Seq, w.Seq
		v.welcomedAt = time.Now().UnixNano() // before the frames that came with it
		return true, nil
	})
	var he *handshakeError
	var de *dialError
	var re *welcomeRoleError
	switch {
	case errors.As(err, &he):
		return fmt.Sprintf("HTTP %d", he.status)
	case errors.As(err, &re):
		return fmt.Sprintf("welcome says signed_in=%v", re.signedIn)
	case errors.Is(err, errBadWelcome):
		return "bad welcome"
	case errors.As(err, &de):
		return "dial: " + closeReason(de.err)
	case err != nil:
		return "no welcome: " + closeReason(err)
	}
	r.connectHist.Record(time.Duration(v.welcomedAt - t0.UnixNano()))
	if err := r.pollers.adopt(v, nc, rest); err != nil {
		_ = nc.Close()
		v.welcomedAt = 0
		return "adopt: " + err.Error()
	}
	v.joined.Store(true)
	r.welcomed.Add(1)
	return ""
}

var errBadWelcome = errors.New("bad welcome")

// welcomeRoleError is a welcome that says the viewer is signed in when it
// is not, or the other way round.
type welcomeRoleError struct{ signedIn bool }

func (e *welcomeRoleError) Error() string {
	return fmt.Sprintf("welcome says signed_in=%v", e.signedIn)
}

// read is a viewer's reader goroutine, until the connection ends.
func (r *chatRun) read(v *viewer) {
	defer r.readers.Done()
	for {
		kind, rd, err := v.ws.NextReader()
		if err == nil && kind == websocket.TextMessage {
			v.buf, err = readFrame(rd, v.buf)
			r.framesIn.Add(1)
			if err == nil {
				r.handle(v, v.buf, time.Now().UnixNano())
				continue
			}
		}
		if err == nil {
			continue // a binary frame: not part of the protocol, skipped
		}
		r.lost(v, closeReason(err))
		return
	}
}

// lost records a viewer the server or the network disconnected (not one
// pavload is closing), by why.
func (r *chatRun) lost(v *viewer, why string) {
	if r.closing.Load() {
		return
	}
	v.closedAt, v.closeWhy = time.Now().UnixNano(), why
	v.gone.Store(true)
	r.dropped.Add(1)
	r.count(r.disconnects, v.closeWhy)
	r.handOver(v)
}

// handOver passes the counting to another connected viewer when gone was
// the counter, so a viewer the server disconnects does not take the
// reaction and viewer counts with it.
func (r *chatRun) handOver(gone *viewer) {
	for _, v := range r.viewers {
		if r.counter.Load() != gone {
			return
		}
		if v != gone && v.joined.Load() && !v.gone.Load() {
			r.counter.CompareAndSwap(gone, v)
		}
	}
}

// handle is one frame a viewer received at now (unix nanos).
func (r *chatRun) handle(v *viewer, b []byte, now int64) {
	kind, seq, typ := peekFrame(b)
	if kind == frameOther && string(typ) == "batch" {
		r.batch(v, b, now)
		return
	}
	if seq > 0 {
		if v.lastSeq != 0 && seq > v.lastSeq+1 {
			v.gaps += int64(seq - v.lastSeq - 1)
		}
		v.lastSeq = max(v.lastSeq, seq)
	}
	r.event(v, b, kind, typ, now)
}

// batch is a protocol version 2 frame: its events one by one, then its seq
// and skipped count. Chat the server left out on purpose is counted as
// sampled, not as a gap.
func (r *chatRun) batch(v *viewer, b []byte, now int64) {
	f, err := parseBatch(b)
	if err != nil {
		r.count(r.otherFrames, "batch (unreadable)")
		return
	}
	prev := v.lastSeq
	var fresh int64
	tail, err := eachObject(f.events, func(ev []byte) {
		kind, seq, typ := peekFrame(ev)
		if seq > prev {
			fresh++
		}
		v.lastSeq = max(v.lastSeq, seq)
		r.event(v, ev, kind, typ, now)
	})
	if err != nil {
		r.count(r.otherFrames, "batch (unreadable)")
		return
	}
	skipped := skippedOf(tail)
	if f.seq > prev {
		if missing := int64(f.seq-prev) - fresh - skipped; missing > 0 {
			v.gaps += missing
		}
		v.lastSeq = max(v.lastSeq, f.seq)
	}
	v.sampled[max(r.phase.Load(), 0)] += skipped
}

// event is one room event or frame (alone, or out of a batch).
func (r *chatRun) event(v *viewer, b []byte, kind frameKind, typ []byte, now int64) {
	switch kind {
	case frameChat:
		r.chatReceived(v, b, now)
		return
	case frameSeqEvent:
		if r.stockOn.Load() && isStockEvent(b) {
			r.stockReceived(v, b, now)
		}
		return
	}
	switch string(typ) {
	case "reactions":
		p := r.phase.Load()
		if p < 0 {
			p = 0
		}
		r.reactionFrames[p].Add(1)
		if v == r.counter.Load() {
			var f struct {
				Counts map[string]int64 `json:"counts"`
			}
			if json.Unmarshal(b, &f) == nil {
				var n int64
				for _, c := range f.Counts {
					n += c
				}
				r.reactionsCounted[p].Add(n)
			}
		}
	case "viewers":
		r.viewersFrames.Add(1)
		if v == r.counter.Load() {
			var f struct {
				Count int64 `json:"count"`
			}
			if json.Unmarshal(b, &f) == nil {
				r.viewersAnnounced.Store(f.Count)
			}
		}
	case "chat":
		// A chat event whose fields come in another order: the slow path.
		r.chatReceived(v, b, now)
	case "error":
		var f struct {
			ID   string `json:"id"`
			Code string `json:"code"`
		}
		_ = json.Unmarshal(b, &f)
		r.count(r.errorFrames, roleNames[v.role]+" "+f.Code)
		if v.role == roleReacter {
			p := max(r.phase.Load(), 0)
			r.reactionRefused[p].Add(1)
		}
		if n, ok := strings.CutPrefix(f.ID, "m"); ok {
			if i, k := parseUint([]byte(n)); k == len(n) && k > 0 && int(i) < len(r.msgs) {
				if !r.msgs[i].refused.Swap(true) {
					r.refusals.Add(1)
				}
			}
		}
	default:
		if len(typ) == 0 {
			typ = []byte("(no type)")
		}
		r.count(r.otherFrames, string(typ))
	}
}

// stockReceived records one commerce event a viewer received while the
// stock changes run.
func (r *chatRun) stockReceived(v *viewer, b []byte, now int64) {
	_, seq, _ := peekFrame(b)
	if seq <= v.welcomeSeq {
		return
	}
	v.stock++
	r.stockMu.Lock()
	r.stockSeqs[seq]++
	// Every viewer gets the same event: its as_of is parsed once.
	at, ok := r.stockAsOf[seq]
	if !ok {
		at = offerAsOf(b)
		r.stockAsOf[seq] = at
	}
	r.stockMu.Unlock()
	if at > 0 {
		r.stockHist[v.i%histShards].Record(time.Duration(now - at))
	}
}

// stockLoop changes an offer's stock every cfg.stockEvery from start to end:
// it reserves one unit, then releases it, over the HTTP API as the platform
// admin, so the room announces a stock event for each change.
func (r *chatRun) stockLoop(ctx context.Context, c *apiclient.Client, offerID string, start, end time.Time) {
	body, _ := json.Marshal(map[string]any{"offer_id": offerID, "quantity": 1})
	held := ""
	release := func() {
		if held == "" {
			return
		}
		res, err := c.Do(ctx, http.MethodDelete, "/api/reservations/"+held, r.cfg.AdminToken, "", nil)
		if err != nil || res.Status >= 300 {
			r.stockFailed.Add(1)
		}
		held = ""
	}
	defer release()
	n := 0
	pace(ctx, start, end, 1/r.cfg.stockEvery.Seconds(), func(k int, _ time.Time) bool {
		r.stockActions.Add(1)
		if held != "" {
			release()
			return true
		}
		n++
		res, err := c.Do(ctx, http.MethodPost, "/api/reservations", r.cfg.AdminToken, fmt.Sprintf("pavload-%s-stock-%d", r.runID, n), body)
		if err != nil || res.Status != http.StatusCreated {
			r.stockFailed.Add(1)
			return true
		}
		held = apiclient.ReservationID(res.Body)
		return true
	})
}

// chatReceived records one chat message a viewer received.
func (r *chatRun) chatReceived(v *viewer, b []byte, now int64) {
	n, sentNs, ok := parseChatText(b, r.runID)
	if !ok || n < 0 || n >= len(r.msgs) {
		v.foreign++
		return
	}
	m := &r.msgs[n]
	sentAt := m.sentAt.Load()
	if sentAt == 0 || sentAt < v.welcomedAt {
		return // sent before this viewer was in the room (or not by this run)
	}
	p := m.phase.Load()
	v.received[p]++
	m.got.Add(1)
	r.deliveries.Add(1)
	if q := r.phase.Load(); q >= 0 {
		r.receivedIn[q].Add(1)
	}
	r.lastLagNs.Store(now - sentNs)
	r.hist[p][v.i%histShards].Record(time.Duration(now - sentNs))
}

// pace calls send(k) for k = 0, 1, 2… at rate a second from start until end
// (open loop: a late call is caught up at once, never skipped).
func pace(ctx context.Context, start, end time.Time, rate float64, send func(k int, now time.Time) bool) {
	if rate <= 0 {
		return
	}
	for k := 0; ; {
		now := time.Now()
		if !now.Before(end) || ctx.Err() != nil {
			return
		}
		due := int(now.Sub(start).Seconds()*rate) + 1
		for ; k < due; k++ {
			if !send(k, now) {
				return
			}
		}
		next := start.Add(time.Duration(float64(k) / rate * float64(time.Second)))
		if next.After(end) {
			next = end
		}
		scenario.SleepUntil(ctx, next)
	}
}

// connected lists the welcomed viewers of a role.
func (r *chatRun) connected(role int) []*viewer {
	var out []*viewer
	for _, v := range r.viewers {
		if v.role == role && v.link != nil {
			out = append(out, v)
		}
	}
	return out
}

// chatLoop sends the chat from start to end, round robin over the chatters.
// Messages sent from stormAt on belong to the storm phase.
func (r *chatRun) chatLoop(ctx context.Context, start, stormAt, end time.Time) {
	chatters := r.connected(roleChatter)
	if len(chatters) == 0 {
		return
	}
	var text, frame []byte
	pace(ctx, start, end, r.cfg.rate, func(k int, _ time.Time) bool {
		n := int(r.nextMsg.Load())
		if n >= len(r.msgs) {
			return false
		}
		r.nextMsg.Add(1)
		v := chatters[k%len(chatters)]
		m := &r.msgs[n]
		now := time.Now()
		if !now.Before(stormAt) {
			m.phase.Store(phaseStorm)
		}
		text = chatText(text[:0], r.runID, n, now.UnixNano(), r.cfg.size)
		frame = chatFrame(frame[:0], n, text)
		m.sentAt.Store(now.UnixNano())
		if err := v.link.writeText(frame, now.Add(5*time.Second)); err != nil {
			r.sendErrors[roleChatter].Add(1)
			if !m.refused.Swap(true) {
				r.refusals.Add(1)
			}
		}
		return true
	})
}

// reactLoop sends reactions from start to end, round robin over the reacters.
func (r *chatRun) reactLoop(ctx context.Context, start, end time.Time, phase int) {
	reacters := r.connected(roleReacter)
	if len(reacters) == 0 {
		return
	}
	emoji := []string{"heart", "fire", "clap", "wow", "laugh", "bag"}
	frames := make([][]byte, len(emoji))
	for i, e := range emoji {
		frames[i] = []byte(`{"type":"react","emoji":"` + e + `"}`)
	}
	pace(ctx, start, end, r.cfg.reactions, func(k int, now time.Time) bool {
		v := reacters[k%len(reacters)]
		if err := v.link.writeText(frames[k%len(frames)], now.Add(5*time.Second)); err != nil {
			r.sendErrors[roleReacter].Add(1)
			return true
		}
		r.reactionsSent[phase].Add(1)
		return true
	})
}

// drain waits, at most d, until every message not refused has reached
// every viewer still connected, and the counting viewer has seen every
// reaction counted (the server sums them a few times a second).
func (r *chatRun) drain(ctx context.Context, d time.Duration) time.Duration {
	start := time.Now()
	deadline := start.Add(d)
	sent := int(r.nextMsg.Load())
	var reactions int64
	for p := range numPhases {
		reactions += r.reactionsSent[p].Load() - r.reactionRefused[p].Load()
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		want := int32(r.welcomed.Load() - r.dropped.Load())
		var counted int64
		for p := range numPhases {
			counted += r.reactionsCounted[p].Load()
		}
		c := r.counter.Load()
		done := counted >= reactions || !c.joined.Load() || c.gone.Load()
		for i := 0; i < sent && done; i++ {
			m := &r.msgs[i]
			if m.sentAt.Load() != 0 && !m.refused.Load() && m.got.Load() < want {
				done = false
				break
			}
		}
		if done && !r.stockComplete(int64(want)) {
			// A stock event some viewers got is still on its way to
			// others (the last change of the storm can come after the
			// last chat line): counted now, it would look lost.
			done = false
		}
		if done {
			break
		}
		scenario.SleepUntil(ctx, time.Now().Add(20*time.Millisecond))
	}
	return time.Since(start)
}

// stockComplete tells whether every stock event a viewer got reached want
// viewers.
func (r *chatRun) stockComplete(want int64) bool {
	r.stockMu.Lock()
	defer r.stockMu.Unlock()
	for _, n := range r.stockSeqs {
		if n < want {
			return false
		}
	}
	return true
}

// closeAll ends every connection (a close frame, then the TCP connection)
// and waits, at most wait, for the readers to stop. Later calls do nothing.
func (r *chatRun) closeAll(wait time.Duration) {
	r.closeOnce.Do(func() { r.closeConns(wait) })
}

func (r *chatRun) closeConns(wait time.Duration) {
	r.closing.Store(true)
	if r.pollers != nil {
		r.pollers.closeAll(r, wait)
		return
	}
	var wg sync.WaitGroup
	work := make(chan *viewer)
	for range 32 {
		wg.Go(func() {
			for v := range work {
				_ = v.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "load test over"),
					time.Now().Add(time.Second))
				_ = v.ws.Close()
			}
		})
	}
	for _, v := range r.viewers {
		if v.ws != nil {
			work <- v
		}
	}
	close(work)
	wg.Wait()
	done := make(chan struct{})
	go func() { r.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
}

// tally turns the viewers' counters into the phase reports. Call it once
// the readers have stopped.
func (r *chatRun) tally(phases []*chatPhaseReport) {
	welcomedAt := make([]int64, 0, len(r.viewers))
	for _, v := range r.viewers {
		if v.welcomedAt != 0 {
			welcomedAt = append(welcomedAt, v.welcomedAt)
		}
	}
	slices.Sort(welcomedAt)
	// Viewers in the room when a message was sent: welcomed before it.
	present := func(at int64) int64 {
		n, _ := slices.BinarySearch(welcomedAt, at+1)
		return int64(n)
	}
	accepted := [numPhases][]int64{}
	sent := int(r.nextMsg.Load())
	for i := range sent {
		m := &r.msgs[i]
		at := m.sentAt.Load()
		if at == 0 {
			continue
		}
		p := m.phase.Load()
		ph := phases[p]
		if ph == nil {
			continue
		}
		ph.MessagesSent++
		if m.refused.Load() {
			ph.MessagesRefused++
			continue
		}
		accepted[p] = append(accepted[p], at)
		got := int64(m.got.Load())
		if got > 0 {
			ph.MessagesSeen++
		}
		if got >= present(at) {
			ph.MessagesComplete++
		}
	}
	for p, ph := range phases {
		if ph == nil {
			continue
		}
		acc := accepted[p]
		slices.Sort(acc)
		for _, v := range r.viewers {
			if v.welcomedAt == 0 {
				continue
			}
			// Messages accepted after this viewer's welcome.
			i, _ := slices.BinarySearch(acc, v.welcomedAt)
			ph.DeliveriesExpected += int64(len(acc) - i)
			ph.Deliveries += v.received[p]
			ph.Sampled += v.sampled[p]
			if v.closedAt != 0 && phaseOf(v.closedAt, ph) {
				ph.Disconnects++
			}
		}
		ph.finish(&r.hist[p])
		ph.ReactionsSent = r.reactionsSent[p].Load()
		ph.ReactionsRefused = r.reactionRefused[p].Load()
		ph.ReactionsCounted = r.reactionsCounted[p].Load()
		ph.ReactionFrames = r.reactionFrames[p].Load()
		ph.ReceivedInPhase = r.receivedIn[p].Load()
	}
}

func phaseOf(at int64, ph *chatPhaseReport) bool {
	return at >= ph.start.UnixNano() && at < ph.end.UnixNano()
}

// progress prints a line every cfg.progress until stop is closed.
func (r *chatRun) progress(out io.Writer, start time.Time, stop <-chan struct{}) {
	if r.cfg.progress <= 0 {
		return
	}
	t := time.NewTicker(r.cfg.progress)
	defer t.Stop()
	var lastDeliveries int64
	last := start
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			d := r.deliveries.Load()
			var frames, reactions int64
			for p := range numPhases {
				frames += r.reactionFrames[p].Load()
				reactions += r.reactionsSent[p].Load()
			}
			fmt.Fprintf(out, "  t+%3.0fs: %d messages sent (%d refused), %d deliveries (%.0f/s, latest %.0f ms after sending), %d reactions sent, %d reaction frames, %d disconnected\n",
				now.Sub(start).Seconds(), r.nextMsg.Load(), r.refusals.Load(), d, float64(d-lastDeliveries)/now.Sub(last).Seconds(),
				float64(r.lastLagNs.Load())/1e6, reactions, frames, r.dropped.Load())
			lastDeliveries, last = d, now
		}
	}
}
