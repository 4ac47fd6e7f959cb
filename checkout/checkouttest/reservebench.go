package checkouttest

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// countingLedger counts the batches of holds written through it.
type countingLedger struct {
	checkout.Ledger
	batches, holds atomic.Int64
}

func (c *countingLedger) ReserveBatch(ctx context.Context, holds []checkout.Hold) ([]error, error) {
	c.batches.Add(1)
	c.holds.Add(int64(len(holds)))
	return c.Ledger.ReserveBatch(ctx, holds)
}

// BenchmarkReserveCrowd measures the every-tap-wins path of the buy button
// (bench/buy.sh's reserve loop without HTTP): workers goroutines tap, one
// after the other each, an offer with units for every tap, from a crowd of
// buyers, each tap with an Idempotency-Key of its own, so that every tap
// passes the gate and its hold reaches the ledger in a batch with the
// others that arrived meanwhile. limit is the offer's per-customer limit (0:
// none; a limit makes the ledger read the customer's units per hold).
//
// Wall-clock rates move with the machine's load, so it reports what does
// not: the process's CPU per hold (getrusage, user and system, every
// goroutine including the benchmark's own callers and the store's
// background work), holds per CPU-second, the mean batch size and, where
// /proc/self/io tells, the write system calls and bytes written per hold
// (a commit's WAL frames are most of the store's system time). Run it
// with a fixed count (-benchtime=20000x): the setup makes a fresh world per
// run.
func BenchmarkReserveCrowd(b *testing.B, env Env, buyers, workers, limit int) {
	ctx := context.Background()
	w := setup(b, env, 1<<30, limit)
	crowd := w.Users(buyers)
	cl := &countingLedger{Ledger: w.Svc.Ledger}
	w.Svc.Ledger = cl
	// Warm the offer cache and load the gate outside the clock.
	if _, _, err := w.Svc.Reserve(ctx, crowd[0], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); err != nil {
		b.Fatal(err)
	}
	cl.batches.Store(0)
	cl.holds.Store(0)
	keys := make([]string, b.N)
	for i := range keys {
		keys[i] = uuid.NewString()
	}
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := measure.ProcessCPU()
	io0, ioOK := processIO()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				u := crowd[i%len(crowd)]
				_, _, err := w.Svc.Reserve(ctx, u, checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1, IdempotencyKey: keys[i]})
				if err != nil && failed.Add(1) == 1 {
					b.Errorf("Reserve: %v", err) // not Fatal: other goroutines are running
				}
			}
		})
	}
	wg.Wait()
	cpu := measure.ProcessCPU() - cpu0
	io1, ioOK1 := processIO()
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d taps of %d failed", failed.Load(), b.N)
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/hold")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "holds/cpu-s")
	if n := cl.batches.Load(); n > 0 {
		b.ReportMetric(float64(cl.holds.Load())/float64(n), "holds/batch")
	}
	if ioOK && ioOK1 {
		b.ReportMetric(float64(io1["syscw"]-io0["syscw"])/float64(b.N), "writes/hold")
		b.ReportMetric(float64(io1["wchar"]-io0["wchar"])/1024/float64(b.N), "KiB-written/hold")
	}
	w.Check(b.N+1, 0)
}

// processIO reads the process's I/O counters (Linux: /proc/self/io): syscw
// counts write system calls, wchar the bytes they wrote.
func processIO() (map[string]int64, bool) {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		return nil, false
	}
	defer f.Close()
	m := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			m[k] = n
		}
	}
	return m, sc.Err() == nil
}
