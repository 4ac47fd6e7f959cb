package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/pavilion-live/pavilion/checkout"
)

const (
	defaultGateMaxBatch      = 512
	defaultGateSoldOutWindow = 200 * time.Millisecond
	defaultGateBatchTimeout  = 5 * time.Second

	// gateFlagPruneEvery is how often the batcher forgets the sold-out flags
	// of offers nobody taps any more.
	gateFlagPruneEvery = time.Minute
)

// Codes the take script answers with, one per tap. They are the script's
// own, so the Verdict constants may change without touching Redis.
const (
	gateCodeTaken     = 1
	gateCodeSoldOut   = 2
	gateCodeLimitOver = 3
	gateCodeUnknown   = 4
)

// ErrGateClosed is returned by the gate's methods after Close.
var ErrGateClosed = errors.New("redis: gate closed")

// gateTakeScript decides a batch of taps on one offer in order. ARGV holds
// (user, quantity, limit) triples; the reply holds one code per tap followed
// by the count left, or -1 when the gate holds no state for the offer. The
// sold-out check comes first, as in the in-process gate, so that a sold-out
// offer can be answered without reading customer counts. Customer counts are
// read only when a limit applies, and written with HINCRBY so a customer who
// appears twice in one batch sees their first tap.
var gateTakeScript = goredis.NewScript(`
local call = redis.call
local avail = call('GET', KEYS[1])
local n = #ARGV / 3
local out = {}
if not avail then
  for i = 1, n do out[i] = 4 end
  out[n + 1] = -1
  return out
end
avail = tonumber(avail)
local start = avail
local cust = KEYS[2]
for i = 1, n do
  local qty = tonumber(ARGV[3 * i - 1])
  if avail < qty then
    out[i] = 2
  else
    local user = ARGV[3 * i - 2]
    local limit = tonumber(ARGV[3 * i])
    if limit > 0 and tonumber(call('HGET', cust, user) or '0') + qty > limit then
      out[i] = 3
    else
      avail = avail - qty
      call('HINCRBY', cust, user, qty)
      out[i] = 1
    end
  end
end
if avail ~= start then
  call('SET', KEYS[1], avail)
end
out[n + 1] = avail
return out
`)

// gateGiveScript returns ARGV[2] units from customer ARGV[1]. Without the
// count key it does nothing: the next load reads the ledger, which already
// counts the units as free, and creating the key here would turn a lost
// state into a wrong one. Counts that reach zero are deleted to keep the
// hash as small as the set of holders.
var gateGiveScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local qty = tonumber(ARGV[2])
local avail = redis.call('INCRBY', KEYS[1], qty)
if redis.call('HINCRBY', KEYS[2], ARGV[1], -qty) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return avail
`)

// gateLoadScript sets an offer's state: ARGV[1] is "1" to overwrite, ARGV[2]
// the count, then (user, count) pairs. Without overwrite it does nothing
// when the count key exists. Both keys are replaced together, so no tap ever
// sees a new count with old customers.
var gateLoadScript = goredis.NewScript(`
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return 1
`)

// GateOption changes a Gate's defaults.
type GateOption func(*gateConfig)

type gateConfig struct {
	maxBatch      int
	soldOutWindow time.Duration
	batchTimeout  time.Duration
}

// WithMaxBatch caps how many taps go to Redis in one round trip (default
// 512). Bigger batches hold the Redis thread longer per script call.
func WithMaxBatch(n int) GateOption {
	return func(c *gateConfig) {
		if n > 0 {
			c.maxBatch = n
		}
	}
}

// WithSoldOutWindow sets how long this process answers SoldOut for an offer
// on its own after Redis said the offer has no units left (default 200 ms).
// Zero or less turns the local answer off: every tap goes to Redis.
func WithSoldOutWindow(d time.Duration) GateOption {
	return func(c *gateConfig) { c.soldOutWindow = d }
}

// WithBatchTimeout bounds one batch's round trip (default 5 s). The batch
// serves many callers, so it cannot run under any one caller's context.
func WithBatchTimeout(d time.Duration) GateOption {
	return func(c *gateConfig) {
		if d > 0 {
			c.batchTimeout = d
		}
	}
}

// Gate is the cluster checkout.Gate: the counts live in Redis and are
// changed only by Lua scripts, so every node decides against the same state
// atomically.
//
// Keys are <prefix>gate:{<offer>}:avail (the count, a string) and
// <prefix>gate:{<offer>}:cust (a hash customer → units). The braces are a
// hash tag: both keys of an offer share a Redis Cluster slot, as a script
// touching both requires, while different offers spread over the cluster.
// The prefix therefore must not contain '{'.
//
// A stampede is what the gate is for, so Take does not send one command per
// tap. Taps are queued for a single batcher goroutine, which sends whatever
// has queued in one pipeline, one script call per offer, then takes the
// next lot. There is no timer: a lone tap goes at once and costs one round
// trip, and under load each batch holds the taps that arrived while the
// previous one was in flight, so the number of round trips follows the
// Redis latency, not the crowd.
//
// After Redis reports an offer with no units left, this process answers
// SoldOut for it by itself for a short window (WithSoldOutWindow), so the
// crowd that comes after the last unit costs Redis nothing. A Give or Load
// through this gate ends the window for its offer at once; units given back
// on another node are seen here when the window ends.
//
// Close stops the batcher; the caller keeps ownership of the client.
type Gate struct {
	client goredis.UniversalClient
	prefix string
	cfg    gateConfig
	start  time.Time // origin of the monotonic clock for the sold-out flags

	mu     sync.Mutex
	queue  []*tapRequest
	closed atomic.Bool // written under mu, so enqueue cannot miss a Close

	wake      chan struct{} // holds a token while the queue may be non-empty
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when the batcher has returned
	closeOnce sync.Once

	flags sync.Map // uuid.UUID → *soldOutFlag

	holds holdsCoalescer

	// Owned by the batcher goroutine.
	spare     []*tapRequest
	lastPrune time.Duration

	taps       atomic.Uint64
	roundTrips atomic.Uint64
	returned   atomic.Uint64
}

var _ checkout.Gate = (*Gate)(nil)

// soldOutFlag is one offer's local sold-out answer. gen counts the Gives and
// Loads made through this gate, so a batch that learned "no units left"
// before such a call landed does not raise the flag after it.
type soldOutFlag struct {
	until atomic.Int64 // Gate clock; the offer is sold out here while now < until

	mu  sync.Mutex
	gen uint64
}

// Tap request states: a request is settled once, either by the batcher
// delivering a result or by the caller giving up.
const (
	tapWaiting int32 = iota
	tapDelivered
	tapAbandoned
)

type tapRequest struct {
	tap   checkout.Tap
	state atomic.Int32
	res   chan tapResult // buffered: the batcher never waits for a caller
}

type tapResult struct {
	v   checkout.Verdict
	err error
}

// NewGate returns a gate keeping its counts in Redis under prefix
// (production uses "pavilion:"), and starts its batcher.
func NewGate(client goredis.UniversalClient, prefix string, opts ...GateOption) *Gate {
	cfg := gateConfig{
		maxBatch:      defaultGateMaxBatch,
		soldOutWindow: defaultGateSoldOutWindow,
		batchTimeout:  defaultGateBatchTimeout,
	}
	for _, o := range opts {
		o(&cfg)
	}
	g := &Gate{
		client: client,
		prefix: prefix,
		cfg:    cfg,
		start:  time.Now(),
		wake:   make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go g.run()
	return g
}

// Stats reports how many taps the batcher has sent to Redis and how many
// round trips it made, so taps/roundTrips is the mean batch size. Taps
// answered by the local sold-out flag count in neither.
func (g *Gate) Stats() (taps, roundTrips uint64) {
	return g.taps.Load(), g.roundTrips.Load()
}

// Close stops the batcher and waits for it. A batch already sent finishes;
// taps still queued fail with ErrGateClosed. Later calls fail the same way.
// It does not close the client and is safe to call more than once.
func (g *Gate) Close() error {
	g.closeOnce.Do(func() {
		g.mu.Lock()
		g.closed.Store(true)
		g.mu.Unlock()
		close(g.quit)
	})
	<-g.done
	return nil
}

// Take queues t for the batcher and waits for its verdict.
//
// When ctx ends first, Take returns ctx's error, but the tap may already be
// on its way to Redis. If it then turns out Taken, the batcher gives the
// units back, so a caller that gave up never holds units it does not know
// about. An error from Redis itself is ambiguous the same way: the script
// may have run before the connection broke (and go-redis, retrying a broken
// pipeline, may even run it again). Such units stay taken in the gate until
// the service corrects it from the ledger, which never counted them; the
// gate can undercount this way, never oversell.
func (g *Gate) Take(ctx context.Context, t checkout.Tap) (checkout.Verdict, error) {
	if t.Quantity < 1 {
		return 0, fmt.Errorf("redis: gate take: quantity %d must be at least 1", t.Quantity)
	}
	if t.Limit < 0 {
		return 0, fmt.Errorf("redis: gate take: limit %d must not be negative", t.Limit)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redis: gate take: %w", err)
	}
	if g.closed.Load() {
		return 0, fmt.Errorf("redis: gate take: %w", ErrGateClosed)
	}
	if g.soldOutHere(t.OfferID) {
		return checkout.SoldOut, nil
	}

	r := &tapRequest{tap: t, res: make(chan tapResult, 1)}
	if err := g.enqueue(r); err != nil {
		return 0, fmt.Errorf("redis: gate take: %w", err)
	}
	select {
	case res := <-r.res:
		return res.v, res.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(tapWaiting, tapAbandoned) {
			return 0, fmt.Errorf("redis: gate take: %w", ctx.Err())
		}
		// The verdict is already decided and on its way: honour it rather
		// than make the batcher undo it.
		res := <-r.res
		return res.v, res.err
	}
}

// Give returns qty units of the offer from the customer.
func (g *Gate) Give(ctx context.Context, offerID, userID uuid.UUID, qty int) error {
	if qty < 1 {
		return fmt.Errorf("redis: gate give: quantity %d must be at least 1", qty)
	}
	if g.closed.Load() {
		return fmt.Errorf("redis: gate give: %w", ErrGateClosed)
	}
	err := retryUnexecuted(ctx, g.client, func(ctx context.Context) error {
		return gateGiveScript.Run(ctx, g.client, g.keys(offerID), userID.String(), qty).Err()
	})
	// Even after an error the script may have run; lowering the flag is
	// always safe, it only sends the next taps to Redis.
	g.clearSoldOut(offerID)
	if err != nil {
		return fmt.Errorf("redis: gate give: %w", err)
	}
	return nil
}

// Load sets the offer's state in one script call. The whole customers map
// goes in one command, which is fine for the customers of one offer (at most
// one per unit sold or held).
func (g *Gate) Load(ctx context.Context, offerID uuid.UUID, available int, customers map[uuid.UUID]int, overwrite bool) error {
	if available < 0 {
		return fmt.Errorf("redis: gate load: available %d must not be negative", available)
	}
	if g.closed.Load() {
		return fmt.Errorf("redis: gate load: %w", ErrGateClosed)
	}
	ow := "0"
	if overwrite {
		ow = "1"
	}
	args := make([]any, 0, 2+2*len(customers))
	args = append(args, ow, available)
	for u, n := range customers {
		if n < 0 {
			return fmt.Errorf("redis: gate load: customer %s: count %d must not be negative", u, n)
		}
		if n > 0 {
			args = append(args, u.String(), n)
		}
	}
	err := retryUnexecuted(ctx, g.client, func(ctx context.Context) error {
		return gateLoadScript.Run(ctx, g.client, g.keys(offerID), args...).Err()
	})
	g.clearSoldOut(offerID)
	if err != nil {
		return fmt.Errorf("redis: gate load: %w", err)
	}
	return nil
}

// Available reads the offer's count from Redis. It ignores the local
// sold-out flag, which only ever stands for a count of zero.
func (g *Gate) Available(ctx context.Context, offerID uuid.UUID) (int, bool, error) {
	if g.closed.Load() {
		return 0, false, fmt.Errorf("redis: gate available: %w", ErrGateClosed)
	}
	var s string
	err := retryUnexecuted(ctx, g.client, func(ctx context.Context) error {
		var err error
		s, err = g.client.Get(ctx, g.keys(offerID)[0]).Result()
		return err
	})
	if errors.Is(err, goredis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("redis: gate available: %w", err)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false, fmt.Errorf("redis: gate available: count %q: %w", s, err)
	}
	return n, true, nil
}

// keys returns the offer's count and customers keys, in the order the
// scripts expect.
func (g *Gate) keys(offerID uuid.UUID) []string {
	base := g.prefix + "gate:{" + offerID.String() + "}:"
	return []string{base + "avail", base + "cust"}
}

// now is the gate's monotonic clock, immune to wall-clock steps.
func (g *Gate) now() int64 { return int64(time.Since(g.start)) }

func (g *Gate) soldOutHere(offerID uuid.UUID) bool {
	if g.cfg.soldOutWindow <= 0 {
		return false
	}
	v, ok := g.flags.Load(offerID)
	return ok && g.now() < v.(*soldOutFlag).until.Load()
}

// clearSoldOut ends the offer's local sold-out answer and makes any batch in
// flight forget the "no units left" it may bring back. It must run after the
// call that changed the count has completed in Redis.
//
// No flag exists for an offer no batch has been sent for, and then there is
// nothing to do: a batch sent from now on runs after the change.
func (g *Gate) clearSoldOut(offerID uuid.UUID) {
	v, ok := g.flags.Load(offerID)
	if !ok {
		return
	}
	f := v.(*soldOutFlag)
	f.mu.Lock()
	f.gen++
	f.until.Store(0)
	f.mu.Unlock()
}

func (g *Gate) enqueue(r *tapRequest) error {
	g.mu.Lock()
	if g.closed.Load() {
		g.mu.Unlock()
		return ErrGateClosed
	}
	g.queue = append(g.queue, r)
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default: // a token is already there; the batcher will look
	}
	return nil
}

// run is the batcher: it sends queued taps to Redis, one batch at a time,
// until Close.
func (g *Gate) run() {
	defer close(g.done)
	for {
		select {
		case <-g.quit:
			g.failQueued()
			return
		case <-g.wake:
		}
		for {
			select {
			case <-g.quit:
				g.failQueued()
				return
			default:
			}
			batch := g.next()
			if len(batch) == 0 {
				break
			}
			g.flush(batch)
			clear(batch)
			g.spare = batch[:0]
			if cap(batch) > 16*g.cfg.maxBatch {
				g.spare = nil // let the peak of a past stampede go
			}
		}
		g.pruneFlags()
	}
}

// next takes up to maxBatch queued taps, oldest first. Two slices take turns
// as queue and batch, so a steady stampede allocates none.
func (g *Gate) next() []*tapRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) <= g.cfg.maxBatch {
		batch := g.queue
		g.queue = g.spare
		g.spare = nil
		return batch
	}
	batch := append(g.spare, g.queue[:g.cfg.maxBatch]...)
	g.spare = nil
	rest := copy(g.queue, g.queue[g.cfg.maxBatch:])
	clear(g.queue[rest:])
	g.queue = g.queue[:rest]
	return batch
}

// failQueued answers every queued tap with ErrGateClosed. Close has set
// closed under mu, so nothing is queued after this.
func (g *Gate) failQueued() {
	g.mu.Lock()
	queued := g.queue
	g.queue = nil
	g.mu.Unlock()
	err := fmt.Errorf("redis: gate take: %w", ErrGateClosed)
	for _, r := range queued {
		g.deliver(r, tapResult{err: err})
	}
}

// deliver hands a result to a waiting caller and reports whether it did;
// false means the caller gave up.
func (g *Gate) deliver(r *tapRequest, res tapResult) bool {
	if !r.state.CompareAndSwap(tapWaiting, tapDelivered) {
		return false
	}
	r.res <- res
	return true
}

// offerBatch is one offer's share of a batch: one script call.
type offerBatch struct {
	offer uuid.UUID
	reqs  []*tapRequest
	flag  *soldOutFlag
	gen   uint64
}

// flush decides one batch: one script call per offer, all in one pipeline.
func (g *Gate) flush(batch []*tapRequest) {
	var groups []*offerBatch
	byOffer := make(map[uuid.UUID]*offerBatch)
	for _, r := range batch {
		if r.state.Load() == tapAbandoned {
			continue // its caller left before it was sent: nothing to undo
		}
		ob := byOffer[r.tap.OfferID]
		if ob == nil {
			ob = &offerBatch{offer: r.tap.OfferID}
			byOffer[r.tap.OfferID] = ob
			groups = append(groups, ob)
		}
		ob.reqs = append(ob.reqs, r)
	}
	if len(groups) == 0 {
		return
	}

	calls := make([]scriptCall, len(groups))
	for i, ob := range groups {
		// The generation is read before the call is sent, so a Give that
		// lands in Redis after the script ran is sure to change it.
		v, _ := g.flags.LoadOrStore(ob.offer, &soldOutFlag{})
		ob.flag = v.(*soldOutFlag)
		ob.flag.mu.Lock()
		ob.gen = ob.flag.gen
		ob.flag.mu.Unlock()

		args := make([]any, 0, 3*len(ob.reqs))
		for _, r := range ob.reqs {
			args = append(args, r.tap.UserID.String(), r.tap.Quantity, r.tap.Limit)
		}
		calls[i] = scriptCall{script: gateTakeScript, keys: g.keys(ob.offer), args: args}
	}

	sent := 0
	for _, ob := range groups {
		sent += len(ob.reqs)
	}
	g.taps.Add(uint64(sent))
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.batchTimeout)
	defer cancel()
	cmds := g.eval(ctx, calls)

	var giveBack []checkout.Tap
	for i, ob := range groups {
		codes, err := cmds[i].Int64Slice()
		if err == nil && len(codes) != len(ob.reqs)+1 {
			err = fmt.Errorf("take script answered %d values for %d taps", len(codes), len(ob.reqs))
		}
		if err != nil {
			err = fmt.Errorf("redis: gate take: %w", err)
			for _, r := range ob.reqs {
				g.deliver(r, tapResult{err: err})
			}
			continue
		}
		for j, r := range ob.reqs {
			res := gateVerdict(codes[j])
			if !g.deliver(r, res) && res.v == checkout.Taken {
				giveBack = append(giveBack, r.tap)
			}
		}
		if codes[len(ob.reqs)] == 0 {
			g.raiseSoldOut(ob)
		}
	}
	if len(giveBack) > 0 {
		g.giveBack(giveBack)
	}
}

func gateVerdict(code int64) tapResult {
	switch code {
	case gateCodeTaken:
		return tapResult{v: checkout.Taken}
	case gateCodeSoldOut:
		return tapResult{v: checkout.SoldOut}
	case gateCodeLimitOver:
		return tapResult{v: checkout.LimitOver}
	case gateCodeUnknown:
		return tapResult{v: checkout.Unknown}
	}
	return tapResult{err: fmt.Errorf("redis: gate take: unexpected verdict code %d", code)}
}

// raiseSoldOut starts the offer's local sold-out window, unless a Give or
// Load went through this gate since the batch was sent.
func (g *Gate) raiseSoldOut(ob *offerBatch) {
	if g.cfg.soldOutWindow <= 0 {
		return
	}
	ob.flag.mu.Lock()
	if ob.flag.gen == ob.gen {
		ob.flag.until.Store(g.now() + int64(g.cfg.soldOutWindow))
	}
	ob.flag.mu.Unlock()
}

// giveBack returns the units of taps that were Taken after their callers
// gave up, in one pipeline. If Redis fails here the units stay taken in the
// gate; the ledger never counted them, and the service's correction from the
// ledger returns them.
func (g *Gate) giveBack(taps []checkout.Tap) {
	calls := make([]scriptCall, len(taps))
	for i, t := range taps {
		calls[i] = scriptCall{script: gateGiveScript, keys: g.keys(t.OfferID), args: []any{t.UserID.String(), t.Quantity}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.batchTimeout)
	defer cancel()
	for i, cmd := range g.eval(ctx, calls) {
		if cmd.Err() == nil {
			g.returned.Add(uint64(taps[i].Quantity))
		}
		g.clearSoldOut(taps[i].OfferID)
	}
}

// pruneFlags forgets expired sold-out flags now and then, so offers long
// gone do not pile up. It runs in the batcher between batches, so no batch
// holds a flag it deletes; a Give that bumps a deleted flag changes nothing,
// because every later batch is sent after that Give completed.
func (g *Gate) pruneFlags() {
	now := time.Since(g.start)
	if now-g.lastPrune < gateFlagPruneEvery {
		return
	}
	g.lastPrune = now
	g.flags.Range(func(k, v any) bool {
		if v.(*soldOutFlag).until.Load() <= int64(now) {
			g.flags.Delete(k)
		}
		return true
	})
}

type scriptCall struct {
	script *goredis.Script
	keys   []string
	args   []any
}

// eval runs calls in one pipeline and leaves each call's error on its
// command. Calls that Redis provably did not run (unexecuted: the slot is
// moving, the cluster is failing over, the master is gone) are sent again
// until ctx ends, so a failover costs the batch time, not an error; a call
// that may have run is never sent twice by this loop.
//
// In a Redis Cluster the pipeline is split per master by the client and the
// parts go out at once. Each call is one offer's script on that offer's
// slot, so a batch is grouped per slot by construction.
func (g *Gate) eval(ctx context.Context, calls []scriptCall) []*goredis.Cmd {
	cmds := make([]*goredis.Cmd, len(calls))
	pending := make([]int, len(calls))
	for i := range pending {
		pending[i] = i
	}
	for attempt := 0; ; attempt++ {
		g.evalOnce(ctx, calls, pending, cmds)
		again := pending[:0:0]
		for _, i := range pending {
			if unexecuted(cmds[i].Err()) {
				again = append(again, i)
			}
		}
		if len(again) == 0 || backoff(ctx, g.client, attempt) != nil {
			return cmds
		}
		pending = again
	}
}

// evalOnce runs the calls at indexes which in one pipeline by digest and,
// for those Redis no longer has cached (a restarted or flushed server, a
// promoted replica), again by source in a second one. A NOSCRIPT reply means
// the script did not run, so the retry cannot apply a call twice.
func (g *Gate) evalOnce(ctx context.Context, calls []scriptCall, which []int, cmds []*goredis.Cmd) {
	pipe := g.client.Pipeline()
	for _, i := range which {
		c := calls[i]
		cmds[i] = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	g.roundTrips.Add(1)

	var missing []int
	for _, i := range which {
		if isNoScript(cmds[i].Err()) {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return
	}
	pipe = g.client.Pipeline()
	for _, i := range missing {
		cmds[i] = calls[i].script.Eval(ctx, pipe, calls[i].keys, calls[i].args...)
	}
	_, _ = pipe.Exec(ctx)
	g.roundTrips.Add(1)
}

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, goredis.ErrNoScript) || goredis.HasErrorPrefix(err, "NOSCRIPT"))
}
