package buy

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/internal/load/loadtest"
)

// asWorker makes this test binary act as `pavload buy-worker`, which is how
// `buy --procs` starts its worker processes (it starts its own binary).
const asWorker = "PAVLOAD_TEST_AS_BUY_WORKER"

func TestMain(m *testing.M) {
	if os.Getenv(asWorker) == "1" {
		if err := Worker(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBuyInSeveralProcesses splits the burst and the loop over three
// processes: the figures merge as if one had tapped (every tap counted once,
// every unit sold exactly once, every winner paid), and the report says how
// many processes tapped and how much CPU they used together.
func TestBuyInSeveralProcesses(t *testing.T) {
	t.Setenv(asWorker, "1")
	f := newFakeShop()
	demo := startShop(t, f)
	out, rep, err := loadtest.Run[buyReport](t, Run, "--demo", demo, "--buyers", "60", "--units", "10", "--limit", "2",
		"--concurrency", "16", "--procs", "3", "--duration", "300ms", "--loop-workers", "6")
	if err != nil {
		t.Fatalf("buy: %v", err)
	}
	if !rep.Verify.Pass || rep.Config.Procs != 3 {
		t.Fatalf("verification %+v, procs %d", rep.Verify, rep.Config.Procs)
	}
	b, s := rep.Burst, rep.Sustained
	if b == nil || s == nil || b.Processes != 3 || s.Processes != 3 || b.Workers != 16 || s.Workers != 6 {
		t.Fatalf("burst %+v, sustained %+v: want 3 processes, 16 and 6 workers", b, s)
	}
	if b.Attempts != 60 || b.Latency.Samples != 60 || b.ClientCPU <= 0 {
		t.Errorf("burst = %+v, want 60 attempts, all sampled, some CPU", b)
	}
	if won := b.count(outReserved) + s.count(outReserved); won != 10 {
		t.Errorf("reserved %d in all, want the 10 units", won)
	}
	if _, _, reserves := f.counts(); int64(reserves) != b.Attempts+s.Attempts {
		t.Errorf("server answered %d taps, report counts %d", reserves, b.Attempts+s.Attempts)
	}
	if users, orders, _ := f.counts(); users != 60 || orders != 10 || rep.Pay == nil || rep.Pay.Paid != 10 {
		t.Errorf("%d users, %d orders, pay %+v; want 60 users and 10 paid orders", users, orders, rep.Pay)
	}
	if !strings.Contains(out, "in 3 processes") {
		t.Errorf("the text report does not say the taps came from 3 processes:\n%s", out)
	}
}
