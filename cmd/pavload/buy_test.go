package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startShop serves a fakeShop and writes the demo file pavload reads.
func startShop(t *testing.T, f *fakeShop) (demoPath string) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	b, err := json.Marshal(demoFile{BaseURL: srv.URL, ShowID: f.showID, BrandID: f.brandID, AdminToken: f.adminToken, BrandAdminToken: f.brandToken})
	if err != nil {
		t.Fatal(err)
	}
	demoPath = filepath.Join(t.TempDir(), "demo.json")
	if err := os.WriteFile(demoPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return demoPath
}

func TestBuyStampede(t *testing.T) {
	f := newFakeShop()
	demo := startShop(t, f)
	out, rep, err := runLoad[buyReport](t, "buy", "--demo", demo, "--buyers", "60", "--units", "10", "--limit", "1", "--concurrency", "16")
	if err != nil {
		t.Fatalf("buy: %v", err)
	}
	if !rep.Verify.Pass || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("verification did not pass: %+v", rep.Verify)
	}
	users, orders, _ := f.counts()
	if rep.Buyers.Count != 60 || users != 60 {
		t.Errorf("buyers: report %d, server %d, want 60", rep.Buyers.Count, users)
	}
	b := rep.Burst
	if b == nil || b.Attempts != 60 || b.count(outReserved) != 10 || b.count(outSoldOut) != 50 {
		t.Fatalf("burst = %+v, want 60 attempts: 10 reserved, 50 sold out", b)
	}
	if b.Workers != 16 || b.AttemptsPerSec <= 0 || b.Latency.Samples != 60 || b.Latency.P99Ms < b.Latency.P50Ms {
		t.Errorf("burst figures look wrong: %+v", b)
	}
	if rep.Pay == nil || rep.Pay.Paid != 10 || rep.Pay.Failed != 0 || orders != 10 {
		t.Errorf("pay = %+v, server has %d orders; want 10 paid", rep.Pay, orders)
	}
	if rep.Verify.Orders == nil || rep.Verify.Orders.OursPaid != 10 || rep.Verify.Orders.MaxPerBuyer != 1 {
		t.Errorf("order tally = %+v", rep.Verify.Orders)
	}
}

func TestBuySustainedWithLimit(t *testing.T) {
	f := newFakeShop()
	demo := startShop(t, f)
	_, rep, err := runLoad[buyReport](t, "buy", "--demo", demo, "--buyers", "8", "--units", "12", "--limit", "2",
		"--taps", "1", "--duration", "300ms", "--loop-workers", "4", "--pay=false")
	if err != nil {
		t.Fatalf("buy: %v", err)
	}
	s := rep.Sustained
	if s == nil || s.Workers != 4 || s.Attempts == 0 {
		t.Fatalf("sustained = %+v", s)
	}
	won := rep.Burst.count(outReserved) + s.count(outReserved)
	if won != 12 {
		t.Errorf("reserved %d in all, want every one of the 12 units", won)
	}
	if s.count(outLimitReached)+s.count(outSoldOut) == 0 {
		t.Errorf("the loop never met a sold-out or limit answer: %+v", s.Outcomes)
	}
	if _, _, reserves := f.counts(); int64(reserves) != rep.Burst.Attempts+s.Attempts {
		t.Errorf("server answered %d taps, report counts %d", reserves, rep.Burst.Attempts+s.Attempts)
	}
}

func TestBuyWarmAuth(t *testing.T) {
	f := newFakeShop()
	demo := startShop(t, f)
	_, rep, err := runLoad[buyReport](t, "buy", "--demo", demo, "--buyers", "25", "--units", "3", "--concurrency", "4", "--warm-auth", "--pay=false")
	if err != nil {
		t.Fatalf("buy: %v", err)
	}
	if n := f.meCalls(); n != 25 || !rep.Config.WarmAuth {
		t.Errorf("GET /api/me called %d times, want once per buyer (25)", n)
	}
}

func TestBuyCatchesOversell(t *testing.T) {
	f := newFakeShop()
	f.oversell = true
	demo := startShop(t, f)
	out, rep, err := runLoad[buyReport](t, "buy", "--demo", demo, "--buyers", "30", "--units", "5", "--limit", "1")
	if err == nil || !strings.Contains(err.Error(), "verification failed") {
		t.Fatalf("buy = %v, want a verification failure", err)
	}
	if rep.Verify.Pass || !strings.Contains(out, "FAIL no oversell") || !strings.Contains(out, "FAIL sold out exactly") {
		t.Errorf("the oversell went unnoticed:\n%s", out)
	}
}

func TestBuyFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"buy"}, "--base"},
		{[]string{"buy", "--base", "http://x", "--admin-token", "t", "--show", "s", "--setup=false"}, "--offer"},
		{[]string{"buy", "--base", "ftp://x", "--admin-token", "t", "--show", "s", "--offer", "o"}, "http://"},
		{[]string{"buy", "--base", "http://x", "--admin-token", "t", "--show", "s", "--offer", "o", "--setup=true"}, "contradict"},
		{[]string{"buy", "--base", "http://x", "--admin-token", "t", "--show", "s", "--offer", "o", "--taps", "0"}, "nothing to do"},
		{[]string{"chat"}, "--base"},
		{[]string{"chat", "--base", "http://x", "--show", "s", "--viewers", "10", "--chatters", "8", "--reactions", "40"}, "at most --viewers"},
		{[]string{"chat", "--base", "http://x", "--show", "s", "--size", "10"}, "--size"},
		{[]string{"whip"}, "--base"},
		{[]string{"whip", "--base", "http://127.0.0.1:1", "--show", "s"}, "--key"},
		{[]string{"whip", "--base", "http://127.0.0.1:1", "--show", "s", "--key", "k", "--fps", "0"}, "--fps"},
		{[]string{"whip", "--base", "http://192.0.2.1:8080", "--show", "s", "--key", "k"}, "loopback"},
		{[]string{"whip", "--base", "http://127.0.0.1:1", "--show", "s", "--key", "k", "--file", "/nonexistent.ivf"}, "--file"},
		{[]string{"whep"}, "--base"},
		{[]string{"whep", "--base", "http://127.0.0.1:1", "--show", "s", "--viewers", "0"}, "--viewers"},
		{[]string{"whep", "--base", "http://127.0.0.1:1", "--show", "s", "--viewers", "100000"}, "--viewers"},
		{[]string{"whep", "--base", "http://192.0.2.1:8080", "--show", "s"}, "loopback"},
		{[]string{"stampede"}, "unknown command"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), tc.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("pavload %v = %v, want an error mentioning %q", tc.args, err, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var s series
	b := newSampleBudget(1000)
	for i := 100; i >= 1; i-- { // 1..100 ms, recorded out of order
		s.add(time.Duration(i)*time.Millisecond, b.take())
	}
	l := s.latency()
	if l.P50Ms != 50 || l.P90Ms != 90 || l.P99Ms != 99 || l.MaxMs != 100 || l.MeanMs != 50.5 || l.Count != 100 {
		t.Errorf("latency = %+v", l)
	}

	// Past the budget, counts and maxima stay exact.
	small := newSampleBudget(2)
	r := newRecorder(small)
	for i := 1; i <= 5; i++ {
		r.add("x", time.Duration(i)*time.Millisecond)
	}
	l = r.total().latency()
	if l.Count != 5 || l.Samples != 2 || l.MaxMs != 5 || l.P99Ms != 2 {
		t.Errorf("budgeted latency = %+v", l)
	}
}
