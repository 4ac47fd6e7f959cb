// Package crashguard keeps a panic in code that serves one client (a
// websocket reader or writer, an HTTP handler, a media callback or timer)
// from taking the whole node down. The goroutine defers a Guard's recovery:
// the panic is logged with its stack, counted by component in
// pavilion_panics_total, and the caller then ends that client's connection,
// request or session alone.
//
// A recovered panic is never a reason to carry on as if nothing happened:
// the state of whatever the panic interrupted is unknown, so the client it
// served is let go.
package crashguard

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricName is the counter every Guard counts into, labelled by component.
const MetricName = "pavilion_panics_total"

// Guard logs and counts recovered panics. A nil *Guard logs to
// slog.Default() and counts nothing, so code under test need not wire one.
type Guard struct {
	logger *slog.Logger
	panics *prometheus.CounterVec
}

// New returns a Guard that logs to logger (nil: slog.Default()) and counts
// into pavilion_panics_total on reg (nil: counted but not exported). Several
// packages share one registry in a node: the first registers the counter,
// the others count into the same one.
func New(reg prometheus.Registerer, logger *slog.Logger) *Guard {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricName,
		Help: "Panics recovered in code serving a client, by component; each ended that client's connection, request or session.",
	}, []string{"component"})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			existing, ok := c, false
			if errors.As(err, &dup) {
				existing, ok = dup.ExistingCollector.(*prometheus.CounterVec)
			}
			if !ok {
				// A different metric under our name is a wiring bug, found at start-up.
				panic(fmt.Sprintf("crashguard: registering %s: %v", MetricName, err))
			}
			c = existing
		}
	}
	return &Guard{logger: logger, panics: c}
}

// WithLogger returns a Guard that logs to logger and counts into g's counter.
func (g *Guard) WithLogger(logger *slog.Logger) *Guard {
	if g == nil {
		return &Guard{logger: logger}
	}
	return &Guard{logger: logger, panics: g.panics}
}

// Recovered logs and counts p, a value recover() returned in component.
// Call it from the deferred function that called recover, so the logged
// stack shows where the panic happened. args are slog key-value pairs that
// name the client (show, session, user…).
func (g *Guard) Recovered(component string, p any, args ...any) {
	logger := slog.Default()
	if g != nil && g.logger != nil {
		logger = g.logger
	}
	if g != nil && g.panics != nil {
		g.panics.WithLabelValues(component).Inc()
	}
	attrs := append([]any{"component", component, "panic", fmt.Sprint(p)}, args...)
	attrs = append(attrs, "stack", string(debug.Stack()))
	logger.Error("recovered from a panic; ending the client it served", attrs...)
}

// Recover stops a panic in the function that defers it, logging and
// counting it (see Recovered). It must be deferred directly, as in
// defer g.Recover("chat_timer", "show", id), for recover to see the panic;
// for when the goroutine has nothing to end but itself.
func (g *Guard) Recover(component string, args ...any) {
	if p := recover(); p != nil {
		g.Recovered(component, p, args...)
	}
}

// Do runs fn and reports whether it panicked. A panic goes no further than
// Do: it is logged and counted (see Recovered), and the caller ends the
// client fn served.
func (g *Guard) Do(component string, fn func(), args ...any) (panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			panicked = true
			g.Recovered(component, p, args...)
		}
	}()
	fn()
	return false
}

// Go runs fn in a new goroutine under Do: for goroutines whose panic needs
// no clean-up beyond what fn's own defers do.
func (g *Guard) Go(component string, fn func(), args ...any) {
	go g.Do(component, fn, args...)
}

// Count reads pavilion_panics_total{component} from g (0 when that
// component has not panicked): what an operator's dashboard and a test of
// a recovery read.
func Count(g prometheus.Gatherer, component string) (float64, error) {
	families, err := g.Gather()
	if err != nil {
		return 0, fmt.Errorf("crashguard: gather: %w", err)
	}
	for _, f := range families {
		if f.GetName() != MetricName {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "component" && l.GetValue() == component {
					return m.GetCounter().GetValue(), nil
				}
			}
		}
	}
	return 0, nil
}
