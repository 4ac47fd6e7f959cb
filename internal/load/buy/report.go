package buy

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// buyReport is every figure of a `pavload buy` run; --json writes it as is.
type buyReport struct {
	Label      string                   `json:"label,omitempty"`
	RunID      string                   `json:"run_id"`
	Base       string                   `json:"base_url"`
	StartedAt  time.Time                `json:"started_at"`
	FinishedAt time.Time                `json:"finished_at"`
	Client     measure.ClientInfo       `json:"client"`
	Config     configReport             `json:"config"`
	Offer      offerReport              `json:"offer"`
	Buyers     apiclient.AccountsReport `json:"buyers"`
	Burst      *phaseReport             `json:"burst,omitempty"`
	Sustained  *phaseReport             `json:"sustained,omitempty"`
	Pay        *payReport               `json:"pay,omitempty"`
	Verify     verifyReport             `json:"verify"`
}

type configReport struct {
	Buyers          int     `json:"buyers"`
	Taps            int     `json:"taps"`
	Concurrency     int     `json:"concurrency"`
	DurationSeconds float64 `json:"duration_seconds"`
	LoopWorkers     int     `json:"loop_workers"`
	Idempotency     bool    `json:"idempotency_keys"`
	Warm            bool    `json:"warm_connections"`
	WarmAuth        bool    `json:"warm_auth"`
	Pay             bool    `json:"pay"`
	Setup           bool    `json:"setup"`
	MaxSamples      int     `json:"max_samples"`
	Procs           int     `json:"procs"`
	Client          string  `json:"client"` // the taps' HTTP client: lite or std
}

type offerReport struct {
	ID               string  `json:"id"`
	ShowID           string  `json:"show_id"`
	SKUID            string  `json:"sku_id"`
	Allocated        int     `json:"allocated"`
	PerCustomerLimit int     `json:"per_customer_limit"`
	SoldBefore       int     `json:"sold_before"`
	HeldBefore       int     `json:"held_before"`
	Fresh            bool    `json:"fresh"` // created by this run
	SetupSeconds     float64 `json:"setup_seconds"`
}

// phaseReport is one phase of tapping: the burst, or the sustained loop.
type phaseReport struct {
	Workers        int                      `json:"workers"`
	Processes      int                      `json:"processes,omitempty"` // pavload processes that tapped (--procs), when more than one
	Attempts       int64                    `json:"attempts"`
	Seconds        float64                  `json:"seconds"` // from the barrier to the last answer
	AttemptsPerSec float64                  `json:"attempts_per_sec"`
	Failures       int64                    `json:"failures"` // 5xx answers and requests with no answer
	Latency        measure.Latency          `json:"latency"`
	Outcomes       map[string]outcomeReport `json:"outcomes"`
	// ClientCPU is the CPU pavload itself used in the window, in cores;
	// ClientBound says it was near all the cores it may use, so that the
	// phase's rate may be pavload's ceiling rather than the server's.
	ClientCPU   float64 `json:"client_cpu_cores"`
	ClientBound bool    `json:"client_bound"`
	// ClientCPUPerAttemptUs is pavload's CPU (getrusage, every process that
	// tapped) over the phase's attempts: the client's cost of one tap, which
	// on a shared machine moves much less than its rate.
	ClientCPUPerAttemptUs float64 `json:"client_cpu_us_per_attempt"`
}

// clientBusy is the share of its cores past which pavload, not the
// server, may be what limits a phase.
const clientBusy = 0.9

func (p *phaseReport) clientCPU(cpu, window time.Duration) {
	if window <= 0 {
		return
	}
	p.ClientCPU = measure.Round3(cpu.Seconds() / window.Seconds())
	if p.Attempts > 0 {
		p.ClientCPUPerAttemptUs = measure.Round1(float64(cpu.Microseconds()) / float64(p.Attempts))
	}
	p.ClientBound = p.ClientCPU >= clientBusy*float64(runtime.GOMAXPROCS(0))
}

type outcomeReport struct {
	Count   int64           `json:"count"`
	PerSec  float64         `json:"per_sec"`
	Latency measure.Latency `json:"latency"`
}

func newPhaseReport(r *measure.Recorder, workers int, window time.Duration) *phaseReport {
	secs := window.Seconds()
	rate := func(n int64) float64 {
		if secs <= 0 {
			return 0
		}
		return measure.Round1(float64(n) / secs)
	}
	total := r.Total()
	p := &phaseReport{
		Workers:        workers,
		Attempts:       total.N(),
		Seconds:        measure.Round3(secs),
		AttemptsPerSec: rate(total.N()),
		Latency:        total.Latency(),
		Outcomes:       map[string]outcomeReport{},
	}
	for name, s := range r.Outcomes() {
		p.Outcomes[name] = outcomeReport{Count: s.N(), PerSec: rate(s.N()), Latency: s.Latency()}
		if isFailure(name) {
			p.Failures += s.N()
		}
	}
	return p
}

func (p *phaseReport) count(outcome string) int64 {
	if p == nil {
		return 0
	}
	return p.Outcomes[outcome].Count
}

// payReport is the winners paying.
type payReport struct {
	Orders  int         `json:"orders"` // placed: one per reservation won
	Workers int         `json:"workers"`
	Paid    int64       `json:"paid"`    // 201
	Pending int64       `json:"pending"` // 202
	Failed  int64       `json:"failed"`  // anything else
	Phase   phaseReport `json:"phase"`

	orderIDs []string
}

// verifyReport is the ledger read back and the checks made on it.
type verifyReport struct {
	Pass   bool             `json:"pass"`
	Offer  *apiclient.Offer `json:"offer,omitempty"` // as the show lists it after the run
	Orders *orderTally      `json:"orders,omitempty"`
	Checks []measure.Check  `json:"checks"`
}

func printPhase(w io.Writer, name string, p *phaseReport) {
	fmt.Fprintf(w, "\n%s: %d attempts in %.3fs by %d workers = %.0f attempts/s; failures (5xx, no answer): %d\n",
		name, p.Attempts, p.Seconds, p.Workers, p.AttemptsPerSec, p.Failures)
	bound := ""
	if p.ClientBound {
		bound = " — at pavload's ceiling: this rate may be the client's limit, not the server's"
	}
	procs := ""
	if p.Processes > 1 {
		procs = fmt.Sprintf(" in %d processes", p.Processes)
	}
	fmt.Fprintf(w, "  pavload CPU: %.2f of %d cores%s, %.1f µs per attempt%s\n", p.ClientCPU, runtime.GOMAXPROCS(0), procs, p.ClientCPUPerAttemptUs, bound)
	printLatencyTable(w, p)
}

func printLatencyTable(w io.Writer, p *phaseReport) {
	fmt.Fprintf(w, "  %-22s %9s %10s %9s %9s %9s %9s %9s\n", "outcome", "count", "per s", "mean ms", "p50 ms", "p90 ms", "p99 ms", "max ms")
	names := slices.SortedFunc(maps.Keys(p.Outcomes), func(a, b string) int {
		return cmp.Or(cmp.Compare(p.Outcomes[b].Count, p.Outcomes[a].Count), cmp.Compare(a, b))
	})
	row := func(name string, n int64, rate float64, l measure.Latency) {
		fmt.Fprintf(w, "  %-22s %9d %10.0f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, n, rate, l.MeanMs, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs)
	}
	for _, name := range names {
		o := p.Outcomes[name]
		row(name, o.Count, o.PerSec, o.Latency)
	}
	row("all", p.Attempts, p.AttemptsPerSec, p.Latency)
	if p.Latency.Samples < int(p.Attempts) {
		fmt.Fprintf(w, "  (percentiles from the first %d of %d requests; mean and max cover all)\n", p.Latency.Samples, p.Attempts)
	}
}

func printPay(w io.Writer, p *payReport) {
	fmt.Fprintf(w, "\npay: %d orders in %.3fs by %d workers = %.0f/s: %d paid, %d pending, %d failed\n",
		p.Orders, p.Phase.Seconds, p.Workers, p.Phase.AttemptsPerSec, p.Paid, p.Pending, p.Failed)
	if p.Orders > 0 {
		printLatencyTable(w, &p.Phase)
	}
}

func printVerify(w io.Writer, v verifyReport) {
	fmt.Fprintln(w, "\nverify:")
	for _, c := range v.Checks {
		fmt.Fprintf(w, "  %-4s %s: %s\n", c.Result, c.Name, c.Detail)
	}
	if v.Pass {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}
