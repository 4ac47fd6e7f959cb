package crashguard_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

func TestDoRecoversLogsAndCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	g := crashguard.New(reg, slog.New(slog.NewTextHandler(&logs, nil)))
	var nilMap map[string]int
	if !g.Do("test_reader", func() { nilMap["x"] = 1 }, "show", "s-1") {
		t.Fatal("Do did not report the panic")
	}
	if g.Do("test_reader", func() {}) {
		t.Fatal("Do reported a panic that did not happen")
	}
	// A second Guard on the same registry shares the counter.
	other := crashguard.New(reg, nil).WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	other.Do("test_writer", func() { panic("boom") })
	n, err := testutil.GatherAndCount(reg, crashguard.MetricName)
	if err != nil || n != 2 {
		t.Fatalf("series = %d, %v; want 2", n, err)
	}
	want := `
# HELP pavilion_panics_total Panics recovered in code serving a client, by component; each ended that client's connection, request or session.
# TYPE pavilion_panics_total counter
pavilion_panics_total{component="test_reader"} 1
pavilion_panics_total{component="test_writer"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), crashguard.MetricName); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, s := range []string{"component=test_reader", "show=s-1", "assignment to entry in nil map", "crashguard_test.go", "panic=boom"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
}

func TestNilGuardStillRecovers(t *testing.T) {
	var g *crashguard.Guard
	if !g.Do("x", func() { panic("boom") }) {
		t.Fatal("a nil Guard let the panic through or did not report it")
	}
}

func TestRecoverDeferredDirectly(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := crashguard.New(reg, slog.New(slog.DiscardHandler))
	func() {
		defer g.Recover("timer", "show", "s-1")
		var p *struct{ n int }
		_ = p.n
	}()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP pavilion_panics_total Panics recovered in code serving a client, by component; each ended that client's connection, request or session.
# TYPE pavilion_panics_total counter
pavilion_panics_total{component="timer"} 1
`), crashguard.MetricName); err != nil {
		t.Fatal(err)
	}
}

// Count reads one component's panics out of a registry shared with other
// metrics; a component that never panicked counts 0.
func TestCountReadsOneComponent(t *testing.T) {
	reg := prometheus.NewRegistry()
	other := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "other_total"}, []string{"component"})
	reg.MustRegister(other)
	other.WithLabelValues("test_reader").Add(7)
	g := crashguard.New(reg, slog.New(slog.DiscardHandler))
	for range 2 {
		g.Do("test_reader", func() { panic("boom") })
	}
	g.Do("test_writer", func() { panic("boom") })
	for component, want := range map[string]float64{"test_reader": 2, "test_writer": 1, "test_timer": 0} {
		if n, err := crashguard.Count(reg, component); err != nil || n != want {
			t.Errorf("Count(%s) = %v, %v; want %v", component, n, err, want)
		}
	}
}
