package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// TestKeepRunningRestartsAPanickedLoop: a loop that panics is counted and
// started again; one that returns (its context ended) is not.
func TestKeepRunningRestartsAPanickedLoop(t *testing.T) {
	reg := prometheus.NewRegistry()
	guard := crashguard.New(reg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runs := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		keepRunning(ctx, guard, "test_sweeper", func(ctx context.Context) {
			runs++
			if runs == 1 {
				var m map[string]int
				m["boom"]++
			}
			cancel()
			<-ctx.Done()
		})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("keepRunning did not return after its context ended")
	}
	if runs != 2 {
		t.Fatalf("the loop ran %d times, want 2 (once more after its panic)", runs)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var counted float64
	for _, f := range mfs {
		if f.GetName() == crashguard.MetricName {
			for _, m := range f.GetMetric() {
				counted += m.GetCounter().GetValue()
			}
		}
	}
	if counted != 1 {
		t.Fatalf("panics counted: %v, want 1", counted)
	}
}
