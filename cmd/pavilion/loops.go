package main

import (
	"context"
	"time"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// restartWait is how long a background loop that panicked waits before it
// starts again: long enough not to spin on a bug, short enough that holds
// still expire and draws still close on time.
const restartWait = time.Second

// keepRunning runs one of the node's background loops (sweepers, flushers)
// until ctx ends. A panic in it is logged and counted
// (pavilion_panics_total{component}), and the loop starts again after
// restartWait: one bad sweep must neither take the node down nor stop, for
// good, the work every later sweep would do.
func keepRunning(ctx context.Context, guard *crashguard.Guard, component string, loop func(context.Context)) {
	for {
		if !guard.Do(component, func() { loop(ctx) }) {
			return // the loop returned: ctx ended
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(restartWait):
		}
	}
}
