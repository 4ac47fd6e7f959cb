package redis

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	goredis "github.com/redis/go-redis/v9"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/gatetest"
	"github.com/pavilion-live/pavilion/internal/load/measure"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// gateClient connects to url and closes the client when the test ends.
func gateClient(tb testing.TB, url string) goredis.UniversalClient {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := Open(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Close() })
	return client
}

// newTestGate returns a gate on client, closed when the test ends.
func newTestGate(tb testing.TB, client goredis.UniversalClient, prefix string, opts ...GateOption) *Gate {
	tb.Helper()
	g := NewGate(client, prefix, opts...)
	tb.Cleanup(func() { _ = g.Close() })
	return g
}

func gateCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustTake(t *testing.T, g *Gate, tap checkout.Tap, want checkout.Verdict) {
	t.Helper()
	got, err := g.Take(gateCtx(t), tap)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	if got != want {
		t.Fatalf("Take = %v, want %v", got, want)
	}
}

// waitFor polls cond until it holds, failing the test after limit. It is a
// deadline against hangs, not a speed requirement.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGateContract(t *testing.T) {
	gatetest.Run(t, func(t *testing.T) checkout.Gate {
		url, prefix := testinfra.Redis(t)
		return newTestGate(t, gateClient(t, url), prefix)
	})
}

// TestGateContractNoLocalSoldOut runs the contract with every tap going to
// Redis, so the scripts alone are held to it.
func TestGateContractNoLocalSoldOut(t *testing.T) {
	gatetest.Run(t, func(t *testing.T) checkout.Gate {
		url, prefix := testinfra.Redis(t)
		return newTestGate(t, gateClient(t, url), prefix, WithSoldOutWindow(0), WithMaxBatch(7))
	})
}

// TestGateSurvivesFlushAndRestart loses the gate's memory in both ways Redis
// can lose it: the data (FLUSHALL) and the script cache (SCRIPT FLUSH, and a
// restart, which drops both). Each time the gate must answer Unknown, not
// fail, and work again once loaded.
func TestGateSurvivesFlushAndRestart(t *testing.T) {
	url, restart := testinfra.RedisServer(t)
	client := gateClient(t, url)
	g := newTestGate(t, client, "flush:")
	ctx := gateCtx(t)
	offer, u := uuid.New(), uuid.New()

	if err := g.Load(ctx, offer, 10, nil, false); err != nil {
		t.Fatal(err)
	}
	mustTake(t, g, checkout.Tap{OfferID: offer, UserID: u, Quantity: 1, Limit: 1}, checkout.Taken)

	if err := client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := client.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mustTake(t, g, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1}, checkout.Unknown)
	if err := g.Give(ctx, offer, u, 1); err != nil {
		t.Fatalf("Give after flush: %v", err)
	}
	if n, ok, err := g.Available(ctx, offer); err != nil || ok {
		t.Fatalf("Available after flush = (%d, %v, %v), want no state", n, ok, err)
	}
	if err := g.Load(ctx, offer, 9, map[uuid.UUID]int{u: 1}, false); err != nil {
		t.Fatal(err)
	}
	mustTake(t, g, checkout.Tap{OfferID: offer, UserID: u, Quantity: 1, Limit: 1}, checkout.LimitOver)
	mustTake(t, g, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1, Limit: 1}, checkout.Taken)

	restart()
	// The pool's connections died with the server; go-redis redials, but a
	// call may still fail while it does.
	var v checkout.Verdict
	waitFor(t, 30*time.Second, "answer after the restart", func() bool {
		var err error
		v, err = g.Take(ctx, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1})
		return err == nil
	})
	if v != checkout.Unknown {
		t.Fatalf("Take after restart = %v, want %v", v, checkout.Unknown)
	}
	if err := g.Load(ctx, offer, 1, nil, false); err != nil {
		t.Fatal(err)
	}
	mustTake(t, g, checkout.Tap{OfferID: offer, UserID: u, Quantity: 1, Limit: 1}, checkout.Taken)
	mustTake(t, g, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1, Limit: 1}, checkout.SoldOut)
}

// TestGateRestartMidStampede kills Redis while a crowd is buying. Taps fail
// or find the gate empty and reload it, as the service does; whatever the
// timing, no life of the server hands out more units than were loaded into
// it, so the total is bounded by one load per life.
func TestGateRestartMidStampede(t *testing.T) {
	url, restart := testinfra.RedisServer(t)
	g := newTestGate(t, gateClient(t, url), "restart:")
	ctx := gateCtx(t)
	const units = 1000
	offer := uuid.New()
	if err := g.Load(ctx, offer, units, nil, false); err != nil {
		t.Fatal(err)
	}

	var taken, unknown, failed, soldOut atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				v, err := g.Take(tctx, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1, Limit: 1})
				cancel()
				switch {
				case err != nil:
					failed.Add(1)
					time.Sleep(time.Millisecond)
				case v == checkout.Taken:
					taken.Add(1)
				case v == checkout.SoldOut:
					soldOut.Add(1)
				case v == checkout.Unknown:
					unknown.Add(1)
					// Only the first fill of each life lands: the gate is
					// filled without overwrite, as on a first tap.
					_ = g.Load(ctx, offer, units, nil, false)
				default:
					t.Errorf("Take = %v", v)
				}
			}
		})
	}
	waitFor(t, 30*time.Second, "first units taken", func() bool { return taken.Load() >= units/4 })
	before := taken.Load()
	restart()
	waitFor(t, 30*time.Second, "reloaded stock sold out", func() bool {
		n, ok, err := g.Available(ctx, offer)
		return err == nil && ok && n == 0 && unknown.Load() > 0
	})
	close(stop)
	wg.Wait()

	t.Logf("taken %d (%d when restarted), unknown %d, failed %d, sold out %d",
		taken.Load(), before, unknown.Load(), failed.Load(), soldOut.Load())
	if got := taken.Load(); got > 2*units {
		t.Errorf("%d units taken over two lives of %d units each: oversold", got, units)
	}
	if unknown.Load() == 0 {
		t.Error("no tap found the gate empty after the restart")
	}
}

// TestGateBatches shows the stampede coalescing: a thousand simultaneous
// taps take far fewer round trips than taps.
func TestGateBatches(t *testing.T) {
	url, prefix := testinfra.Redis(t)
	g := newTestGate(t, gateClient(t, url), prefix)
	ctx := gateCtx(t)
	offer := uuid.New()
	if err := g.Load(ctx, offer, 1_000_000, nil, false); err != nil {
		t.Fatal(err)
	}
	const taps = 1000
	start := make(chan struct{})
	var wg sync.WaitGroup
	var taken atomic.Int64
	for range taps {
		wg.Go(func() {
			<-start
			v, err := g.Take(ctx, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1, Limit: 1})
			if err != nil {
				t.Errorf("Take: %v", err)
				return
			}
			if v == checkout.Taken {
				taken.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()

	sent, trips := g.Stats()
	t.Logf("%d taps in %d round trips (%.1f per trip)", sent, trips, float64(sent)/float64(trips))
	if taken.Load() != taps || sent != taps {
		t.Fatalf("taken %d, sent %d, want %d", taken.Load(), sent, taps)
	}
	if trips*10 > sent {
		t.Errorf("%d round trips for %d taps: taps are not being batched", trips, sent)
	}
	if n, _, _ := g.Available(ctx, offer); n != 1_000_000-taps {
		t.Errorf("Available = %d, want %d", n, 1_000_000-taps)
	}
}

// TestGateLoneTapGoesAtOnce: without a crowd there is nothing to wait for,
// each tap is its own round trip.
func TestGateLoneTapGoesAtOnce(t *testing.T) {
	url, prefix := testinfra.Redis(t)
	g := newTestGate(t, gateClient(t, url), prefix)
	offer := uuid.New()
	if err := g.Load(gateCtx(t), offer, 10, nil, false); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		mustTake(t, g, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1}, checkout.Taken)
		if sent, trips := g.Stats(); sent != uint64(i+1) || trips != uint64(i+1) {
			t.Fatalf("after %d taps: %d sent in %d round trips", i+1, sent, trips)
		}
	}
}

// TestGateLocalSoldOut: once Redis says an offer has nothing left, the
// crowd is answered here without a round trip, until a Give or Load through
// this gate, or the window's end.
func TestGateLocalSoldOut(t *testing.T) {
	url, prefix := testinfra.Redis(t)
	client := gateClient(t, url)
	// An hour: nothing in this part of the test depends on timing.
	g := newTestGate(t, client, prefix, WithSoldOutWindow(time.Hour))
	ctx := gateCtx(t)
	a, b, u := uuid.New(), uuid.New(), uuid.New()
	for offer, n := range map[uuid.UUID]int{a: 3, b: 1} {
		if err := g.Load(ctx, offer, n, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		mustTake(t, g, checkout.Tap{OfferID: a, UserID: uuid.New(), Quantity: 1}, checkout.Taken)
	}
	mustTake(t, g, checkout.Tap{OfferID: a, UserID: uuid.New(), Quantity: 1}, checkout.SoldOut)

	_, trips := g.Stats()
	for range 100 {
		mustTake(t, g, checkout.Tap{OfferID: a, UserID: uuid.New(), Quantity: 1}, checkout.SoldOut)
	}
	if _, now := g.Stats(); now != trips {
		t.Fatalf("sold-out taps cost %d round trips, want none", now-trips)
	}

	// Another offer is not affected.
	mustTake(t, g, checkout.Tap{OfferID: b, UserID: u, Quantity: 1}, checkout.Taken)
	_, trips = g.Stats()

	// A Give ends the window: the next tap asks Redis and wins the unit.
	if err := g.Give(ctx, a, u, 1); err != nil {
		t.Fatal(err)
	}
	mustTake(t, g, checkout.Tap{OfferID: a, UserID: u, Quantity: 1}, checkout.Taken)
	if _, now := g.Stats(); now != trips+1 {
		t.Fatalf("tap after Give: %d round trips, want 1", now-trips)
	}
	mustTake(t, g, checkout.Tap{OfferID: a, UserID: u, Quantity: 1}, checkout.SoldOut)

	// So does a Load.
	if err := g.Load(ctx, a, 2, nil, true); err != nil {
		t.Fatal(err)
	}
	mustTake(t, g, checkout.Tap{OfferID: a, UserID: u, Quantity: 1}, checkout.Taken)

	// Units given back on another node reach this one when its window ends.
	// Only the order of events is checked here: after the window, Redis is
	// asked again.
	short := newTestGate(t, client, prefix, WithSoldOutWindow(20*time.Millisecond))
	other := newTestGate(t, client, prefix)
	c := uuid.New()
	if err := short.Load(ctx, c, 0, nil, false); err != nil {
		t.Fatal(err)
	}
	mustTake(t, short, checkout.Tap{OfferID: c, UserID: u, Quantity: 1}, checkout.SoldOut)
	if err := other.Give(ctx, c, u, 1); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	mustTake(t, short, checkout.Tap{OfferID: c, UserID: u, Quantity: 1}, checkout.Taken)
}

// pauseHook holds the first script pipeline after it is armed until
// released, after Redis has run it: the moment a tap is decided but not yet
// answered.
type pauseHook struct {
	armed   atomic.Bool
	ran     chan struct{}
	release chan struct{}
	once    sync.Once
}

// open lets the held pipeline go; safe to call more than once.
func (h *pauseHook) open() { h.once.Do(func() { close(h.release) }) }

func (h *pauseHook) DialHook(next goredis.DialHook) goredis.DialHook          { return next }
func (h *pauseHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook { return next }

func (h *pauseHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		err := next(ctx, cmds)
		// New connections send their handshake as a pipeline too.
		if len(cmds) == 0 || (cmds[0].Name() != "evalsha" && cmds[0].Name() != "eval") {
			return err
		}
		if h.armed.CompareAndSwap(true, false) {
			close(h.ran)
			<-h.release
		}
		return err
	}
}

// TestGateGiveBackAfterCallerLeft: a caller whose context ends after its tap
// was taken in Redis gets the context's error, and the units go back.
func TestGateGiveBackAfterCallerLeft(t *testing.T) {
	url, prefix := testinfra.Redis(t)
	client := gateClient(t, url)
	hook := &pauseHook{ran: make(chan struct{}), release: make(chan struct{})}
	client.AddHook(hook)
	g := newTestGate(t, client, prefix)
	t.Cleanup(hook.open) // runs before the gate's Close, which would wait for it
	ctx := gateCtx(t)
	offer, u := uuid.New(), uuid.New()
	if err := g.Load(ctx, offer, 5, nil, false); err != nil {
		t.Fatal(err)
	}

	hook.armed.Store(true)
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := g.Take(tctx, checkout.Tap{OfferID: offer, UserID: u, Quantity: 2, Limit: 2})
		errc <- err
	}()
	select {
	case <-hook.ran:
	case <-ctx.Done():
		t.Fatal("the tap never reached Redis")
	}
	if n, _, _ := g.Available(ctx, offer); n != 3 {
		t.Fatalf("Available while the answer is held = %d, want 3", n)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Take = %v, want context.Canceled", err)
	}
	hook.open()

	waitFor(t, 30*time.Second, "units given back", func() bool { return g.returned.Load() == 2 })
	if n, _, _ := g.Available(ctx, offer); n != 5 {
		t.Fatalf("Available after give-back = %d, want 5", n)
	}
	// The customer's count went back too.
	mustTake(t, g, checkout.Tap{OfferID: offer, UserID: u, Quantity: 2, Limit: 2}, checkout.Taken)
}

// TestGateAbandonedTapsReturnUnits gives callers deadlines about as long as
// a round trip, so many give up while their tap is in flight. Every unit
// must end up either with a caller that saw Taken or back in the count.
func TestGateAbandonedTapsReturnUnits(t *testing.T) {
	url, prefix := testinfra.Redis(t)
	client := gateClient(t, url)
	g := NewGate(client, prefix)
	t.Cleanup(func() { _ = g.Close() })
	ctx := gateCtx(t)
	const stock = 100_000
	offer := uuid.New()
	if err := g.Load(ctx, offer, stock, nil, false); err != nil {
		t.Fatal(err)
	}

	var taken, gaveUp atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 2000 {
		wg.Go(func() {
			<-start
			tctx, cancel := context.WithTimeout(ctx, time.Duration(rand.Int64N(int64(30*time.Millisecond))))
			defer cancel()
			v, err := g.Take(tctx, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1, Limit: 1})
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				gaveUp.Add(1)
			case err != nil:
				t.Errorf("Take: %v", err)
			case v == checkout.Taken:
				taken.Add(1)
			default:
				t.Errorf("Take = %v", v)
			}
		})
	}
	close(start)
	wg.Wait()
	// Close waits for the batcher, and with it for any give-back.
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("taken %d, gave up %d, units returned by the batcher %d", taken.Load(), gaveUp.Load(), g.returned.Load())

	keys := g.keys(offer)
	avail, err := client.Get(ctx, keys[0]).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if want := stock - taken.Load(); avail != want {
		t.Errorf("available %d, want %d: %d units leaked", avail, want, want-avail)
	}
	cust, err := client.HGetAll(ctx, keys[1]).Result()
	if err != nil {
		t.Fatal(err)
	}
	var held int64
	for _, s := range cust {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if n <= 0 {
			t.Errorf("customer count %d kept in the hash", n)
		}
		held += n
	}
	if held != taken.Load() {
		t.Errorf("customers hold %d units, want %d", held, taken.Load())
	}
}

// TestGateClose: closing under load answers every caller, sent taps with
// their verdicts and queued ones with ErrGateClosed, and leaks no units.
func TestGateClose(t *testing.T) {
	url, prefix := testinfra.Redis(t)
	client := gateClient(t, url)
	g := NewGate(client, prefix)
	ctx := gateCtx(t)
	const stock = 10_000
	offer := uuid.New()
	if err := g.Load(ctx, offer, stock, nil, false); err != nil {
		t.Fatal(err)
	}

	var taken, closed atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 500 {
		wg.Go(func() {
			<-start
			v, err := g.Take(ctx, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1})
			switch {
			case errors.Is(err, ErrGateClosed):
				closed.Add(1)
			case err != nil:
				t.Errorf("Take: %v", err)
			case v == checkout.Taken:
				taken.Add(1)
			default:
				t.Errorf("Take = %v", v)
			}
		})
	}
	close(start)
	time.Sleep(time.Millisecond)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	select {
	case <-g.done:
	default:
		t.Fatal("batcher still running after Close")
	}
	if err := g.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	t.Logf("taken %d, refused %d", taken.Load(), closed.Load())

	if _, err := g.Take(ctx, checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1}); !errors.Is(err, ErrGateClosed) {
		t.Errorf("Take after Close: %v, want ErrGateClosed", err)
	}
	if err := g.Give(ctx, offer, uuid.New(), 1); !errors.Is(err, ErrGateClosed) {
		t.Errorf("Give after Close: %v, want ErrGateClosed", err)
	}
	avail, err := client.Get(ctx, g.keys(offer)[0]).Int64()
	if err != nil {
		t.Fatal(err)
	}
	if want := stock - taken.Load(); avail != want {
		t.Errorf("available %d, want %d", avail, want)
	}
}

// BenchmarkRedisGateStampede measures the cluster gate under a crowd: many
// goroutines (64 per CPU) tapping one offer. taps/trip is the mean batch
// size. Take is the worst case for Redis, every tap a win that writes; in a
// real drop nearly every tap comes after the last unit, as in SoldOut.
func BenchmarkRedisGateStampede(b *testing.B) {
	url, prefix := testinfra.Redis(b)
	client := gateClient(b, url)
	users := make([]uuid.UUID, 1<<14)
	for i := range users {
		users[i] = uuid.New()
	}
	ctx := context.Background()
	setup := func(b *testing.B, stock int) (*Gate, uuid.UUID) {
		g := NewGate(client, prefix)
		b.Cleanup(func() { _ = g.Close() })
		offer := uuid.New()
		if err := g.Load(ctx, offer, stock, nil, true); err != nil {
			b.Fatal(err)
		}
		return g, offer
	}
	report := func(b *testing.B, g *Gate) {
		taps, trips := g.Stats()
		if trips > 0 {
			b.ReportMetric(float64(taps)/float64(trips), "taps/trip")
		}
		b.ReportMetric(float64(trips)/float64(b.N), "trips/op")
	}
	crowd := func(b *testing.B, stock int, want checkout.Verdict) {
		g, offer := setup(b, stock)
		var next atomic.Int64
		b.SetParallelism(64)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				u := users[int(next.Add(1))%len(users)]
				v, err := g.Take(ctx, checkout.Tap{OfferID: offer, UserID: u, Quantity: 1})
				if err != nil || v != want {
					b.Errorf("Take = %v, %v; want %v", v, err, want)
					return
				}
			}
		})
		b.StopTimer()
		report(b, g)
	}

	b.Run("Take", func(b *testing.B) { crowd(b, 1<<40, checkout.Taken) })
	b.Run("SoldOut", func(b *testing.B) { crowd(b, 0, checkout.SoldOut) })
	// A refused tap with an Idempotency-Key (the buy button sends one) also
	// asks Holds: could this customer's key have won? The local sold-out
	// flag answers Take; Holds goes to Redis (coalesced per offer).
	b.Run("SoldOutKeyed", func(b *testing.B) {
		g, offer := setup(b, 0)
		var next atomic.Int64
		b.SetParallelism(64)
		b.ResetTimer()
		cpu0 := measure.ProcessCPU()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				u := users[int(next.Add(1))%len(users)]
				v, err := g.Take(ctx, checkout.Tap{OfferID: offer, UserID: u, Quantity: 1})
				if err != nil || v != checkout.SoldOut {
					b.Errorf("Take = %v, %v; want sold out", v, err)
					return
				}
				if n, known, err := g.Holds(ctx, offer, u); err != nil || !known || n != 0 {
					b.Errorf("Holds = %d %v %v; want 0", n, known, err)
					return
				}
			}
		})
		b.StopTimer()
		// This process's CPU (callers, batcher, client), not Redis's.
		b.ReportMetric(float64((measure.ProcessCPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
		report(b, g)
	})
	// One caller, one tap at a time: the latency of a lone tap.
	b.Run("Lone", func(b *testing.B) {
		g, offer := setup(b, 1<<40)
		i := 0
		for b.Loop() {
			i++
			v, err := g.Take(ctx, checkout.Tap{OfferID: offer, UserID: users[i%len(users)], Quantity: 1})
			if err != nil || v != checkout.Taken {
				b.Fatalf("Take = %v, %v", v, err)
			}
		}
		report(b, g)
	})
}
