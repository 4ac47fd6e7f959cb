package buy

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/internal/load/loadtest"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
)

// startShop serves a fakeShop and writes the demo file pavload reads.
func startShop(t *testing.T, f *fakeShop) (demoPath string) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	b, err := json.Marshal(scenario.Demo{BaseURL: srv.URL, ShowID: f.showID, BrandID: f.brandID, AdminToken: f.adminToken, BrandAdminToken: f.brandToken})
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
	out, rep, err := loadtest.Run[buyReport](t, Run, "--demo", demo, "--buyers", "60", "--units", "10", "--limit", "1", "--concurrency", "16")
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
	_, rep, err := loadtest.Run[buyReport](t, Run, "--demo", demo, "--buyers", "8", "--units", "12", "--limit", "2",
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
	_, rep, err := loadtest.Run[buyReport](t, Run, "--demo", demo, "--buyers", "25", "--units", "3", "--concurrency", "4", "--warm-auth", "--pay=false")
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
	out, rep, err := loadtest.Run[buyReport](t, Run, "--demo", demo, "--buyers", "30", "--units", "5", "--limit", "1")
	if err == nil || !strings.Contains(err.Error(), "verification failed") {
		t.Fatalf("buy = %v, want a verification failure", err)
	}
	if rep.Verify.Pass || !strings.Contains(out, "FAIL no oversell") || !strings.Contains(out, "FAIL sold out exactly") {
		t.Errorf("the oversell went unnoticed:\n%s", out)
	}
}
