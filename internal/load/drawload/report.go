package drawload

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// drawReport is every figure of a `pavload draw` run; --json writes it as is.
type drawReport struct {
	Label      string                   `json:"label,omitempty"`
	RunID      string                   `json:"run_id"`
	Nodes      []string                 `json:"nodes"`
	StartedAt  time.Time                `json:"started_at"`
	FinishedAt time.Time                `json:"finished_at"`
	Client     measure.ClientInfo       `json:"client"`
	Config     configReport             `json:"config"`
	OfferID    string                   `json:"offer_id"`
	DrawID     string                   `json:"draw_id"`
	Commitment string                   `json:"commitment"`
	Entrants   apiclient.AccountsReport `json:"entrants"`
	Enter      *enterReport             `json:"enter,omitempty"`
	Connect    *connectReport           `json:"connect,omitempty"`
	Close      *closeReport             `json:"close,omitempty"`
	Verify     verifyReport             `json:"verify"`
	Target     targetReport             `json:"target"`
}

type configReport struct {
	Entries           int     `json:"entries"`
	Units             int     `json:"units"`
	Viewers           int     `json:"viewers"`
	Seconds           int     `json:"seconds"`
	CreateWorkers     int     `json:"create_workers"`
	EntryWorkers      int     `json:"entry_workers"`
	ResultWaitSeconds float64 `json:"result_wait_seconds"`
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

func printEnter(w io.Writer, e *enterReport) {
	l := e.Latency
	fmt.Fprintf(w, "\nenter: %d of %d entered in %.2fs by %d workers = %.0f/s; failures: %s\n",
		e.Entered, e.Entrants, e.Seconds, e.Workers, e.PerSec, measure.CountsLine(e.Failures))
	fmt.Fprintf(w, "  latency ms: mean %.2f, p50 %.2f, p90 %.2f, p99 %.2f, max %.2f\n", l.MeanMs, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs)
	bound := ""
	if e.ClientBound {
		bound = " — at pavload's ceiling: the rate may be the client's limit"
	}
	fmt.Fprintf(w, "  pavload CPU: %.2f of %d cores, %.1f µs per entry%s\n", e.ClientCPU, runtimeProcs(), e.ClientCPUPerEntry, bound)
}

func printClose(w io.Writer, c *closeReport) {
	l := c.Latency
	fmt.Fprintf(w, "\nclose: answered in %.1f ms; result at %d of %d viewers (%d < 1 s, %d missed)\n", c.AnswerMs, c.Got, c.Viewers, c.Within1s, c.Missed)
	fmt.Fprintf(w, "  close send → viewer's draw event, ms: p50 %.1f, p90 %.1f, p99 %.1f, max %.1f\n", l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs)
	if len(c.Nodes) > 1 {
		for i, n := range c.Nodes {
			fmt.Fprintf(w, "    node %d %s: %d of %d viewers, %d < 1 s; p50 %.1f, max %.1f ms\n", i+1, n.Node, n.Got, n.Viewers, n.Within1s, n.Latency.P50Ms, n.Latency.MaxMs)
		}
	}
	fmt.Fprintf(w, "  pavload CPU while waiting: %.2f of %d cores\n", c.ClientCPU, runtimeProcs())
}

func printVerify(w io.Writer, v verifyReport, t targetReport) {
	fmt.Fprintf(w, "\nverify (%d winners of %d entries, seed %.16s…):\n", v.Winners, v.Entries, v.Seed)
	for _, c := range v.Checks {
		fmt.Fprintf(w, "  %-4s %s: %s\n", c.Result, c.Name, c.Detail)
	}
	fmt.Fprintf(w, "target:\n  %-4s %s: %s\n", t.Check.Result, t.Check.Name, t.Check.Detail)
	if v.Pass {
		fmt.Fprintln(w, "PASS")
	} else {
		fmt.Fprintln(w, "FAIL")
	}
}
