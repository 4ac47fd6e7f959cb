package buy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// A phase of `pavload buy --procs N` runs in N worker processes (this
// binary as `pavload buy-worker`), so that the client is not the limit: one
// Go process spends much of a core on HTTP and TLS bookkeeping alone, and
// the GC of a process holding every sample pauses every worker in it. The
// parent keeps the setup, the payments and the verification; each worker
// gets every Nth buyer and its share of the workers, opens its connections,
// says "ready" on stdout and waits for "go" on stdin, so all taps start
// together; then it writes what it saw, as one JSON line, and exits.
//
// The protocol is line-based JSON on the worker's stdin and stdout: the job,
// then "ready" / "go", then the result.

// workerJob is what a worker process is told.
type workerJob struct {
	Base        string              `json:"base"`
	Timeout     time.Duration       `json:"timeout"`
	RunID       string              `json:"run_id"`
	OfferID     string              `json:"offer_id"`
	Phase       string              `json:"phase"` // "burst" or "sustain"
	Taps        int                 `json:"taps"`
	Duration    time.Duration       `json:"duration"`
	Workers     int                 `json:"workers"`
	Idempotency bool                `json:"idempotency"`
	Warm        bool                `json:"warm"`
	WarmAuth    bool                `json:"warm_auth"`
	MaxSamples  int                 `json:"max_samples"`
	Client      string              `json:"client"`
	Buyers      []apiclient.Account `json:"buyers"`
}

// workerResult is what a worker process saw.
type workerResult struct {
	Outcomes   map[string]measure.SeriesData `json:"outcomes"`
	Wins       []winJSON                     `json:"wins"` // buyer indexes into the job's Buyers
	CPUNs      int64                         `json:"cpu_ns"`
	WindowNs   int64                         `json:"window_ns"`
	GOMAXPROCS int                           `json:"gomaxprocs"`
	Error      string                        `json:"error,omitempty"`
}

type winJSON struct {
	Buyer       int    `json:"buyer"`
	Reservation string `json:"reservation"`
}

// Worker is the hidden `pavload buy-worker` command: one process of
// `pavload buy --procs N`, started by it, reading its job on stdin.
func Worker(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("buy-worker: read the job: %w", err)
	}
	var job workerJob
	if err := json.Unmarshal(line, &job); err != nil {
		return fmt.Errorf("buy-worker: job: %w", err)
	}
	res := runWorkerJob(ctx, &job, in, stdout)
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

func runWorkerJob(ctx context.Context, job *workerJob, in *bufio.Reader, out io.Writer) *workerResult {
	fail := func(err error) *workerResult { return &workerResult{Error: err.Error()} }
	if len(job.Buyers) == 0 || job.Workers < 1 {
		return fail(errors.New("a job needs buyers and workers"))
	}
	c, err := apiclient.NewClient(job.Base, job.Workers, job.Timeout)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	cfg := &buyConfig{taps: job.Taps, concurrency: job.Workers, loopWorkers: job.Workers,
		idempotency: job.Idempotency, warm: job.Warm, warmAuth: job.WarmAuth, maxSamples: job.MaxSamples, client: job.Client}
	st, err := newStampede(c, cfg, job.RunID, job.OfferID, job.Buyers)
	if err != nil {
		return fail(err)
	}
	st.startGate = func() error {
		if _, err := io.WriteString(out, "ready\n"); err != nil {
			return err
		}
		l, err := in.ReadString('\n')
		if err != nil || strings.TrimSpace(l) != "go" {
			return fmt.Errorf("waiting for go: %q %v", l, err)
		}
		return nil
	}
	var (
		rec         *measure.Recorder
		window, cpu time.Duration
	)
	switch job.Phase {
	case "burst":
		n := int64(len(job.Buyers)) * int64(job.Taps)
		rec, window, cpu, err = st.tap(ctx, min(int64(job.Workers), n), 0, job.WarmAuth, newBurstNext(job.RunID, len(job.Buyers), n))
	case "sustain":
		rec, window, cpu, err = st.tap(ctx, int64(job.Workers), job.Duration, false, sustainNext(job.RunID, len(job.Buyers), job.Workers))
	default:
		err = fmt.Errorf("unknown phase %q", job.Phase)
	}
	if err != nil {
		return fail(err)
	}
	res := &workerResult{Outcomes: map[string]measure.SeriesData{}, CPUNs: int64(cpu), WindowNs: int64(window), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	for name, s := range rec.Outcomes() {
		res.Outcomes[name] = s.Data()
	}
	for _, w := range st.winners() {
		res.Wins = append(res.Wins, winJSON{Buyer: w.buyer, Reservation: w.reservation})
	}
	return res
}

// procsPhase runs one phase in procs worker processes of exe and merges
// what they saw into s, as if one process had tapped.
func (s *stampede) procsPhase(ctx context.Context, exe string, procs int, phase string, d time.Duration) (*phaseReport, error) {
	workers := s.cfg.concurrency
	if phase == "sustain" {
		workers = s.cfg.loopWorkers
	}
	procs = min(procs, len(s.buyers), workers)
	type proc struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		out    *bufio.Reader
		stderr strings.Builder
		global []int // the job's buyer i is s.buyers[global[i]]
	}
	ps := make([]*proc, procs)
	defer func() {
		for _, p := range ps {
			if p != nil && p.cmd.Process != nil {
				_ = p.cmd.Process.Kill()
				_ = p.cmd.Wait()
			}
		}
	}()
	for k := range procs {
		job := workerJob{Base: s.c.Base(), Timeout: s.c.Timeout(), RunID: fmt.Sprintf("%sp%d", s.runID, k), OfferID: s.offerID,
			Phase: phase, Taps: s.cfg.taps, Duration: d, Workers: workers / procs,
			Idempotency: s.cfg.idempotency, Warm: s.cfg.warm, WarmAuth: s.cfg.warmAuth, MaxSamples: s.cfg.maxSamples / procs, Client: s.cfg.client}
		if k < workers%procs {
			job.Workers++
		}
		p := &proc{}
		for b := k; b < len(s.buyers); b += procs {
			job.Buyers = append(job.Buyers, s.buyers[b])
			p.global = append(p.global, b)
		}
		p.cmd = exec.CommandContext(ctx, exe, "buy-worker")
		p.cmd.Stderr = &p.stderr
		var err error
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			return nil, err
		}
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		p.out = bufio.NewReaderSize(stdout, 1<<20)
		if err := p.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start worker process: %w", err)
		}
		ps[k] = p
		b, _ := json.Marshal(job)
		if _, err := fmt.Fprintf(p.stdin, "%s\n", b); err != nil {
			return nil, fmt.Errorf("worker %d: send the job: %w", k, err)
		}
	}
	for k, p := range ps {
		l, err := p.out.ReadString('\n')
		if err != nil || strings.TrimSpace(l) != "ready" {
			return nil, fmt.Errorf("worker %d not ready: %q %v\n%s", k, l, err, p.stderr.String())
		}
	}
	t0 := time.Now()
	for k, p := range ps {
		if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
			return nil, fmt.Errorf("worker %d: go: %w", k, err)
		}
	}
	results := make([]*workerResult, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for k, p := range ps {
		wg.Go(func() {
			l, err := p.out.ReadBytes('\n')
			if err != nil {
				errs[k] = fmt.Errorf("worker %d: %w\n%s", k, err, p.stderr.String())
				return
			}
			var r workerResult
			if err := json.Unmarshal(l, &r); err != nil {
				errs[k] = fmt.Errorf("worker %d: result: %w", k, err)
				return
			}
			if r.Error != "" {
				errs[k] = fmt.Errorf("worker %d: %s", k, r.Error)
				return
			}
			results[k] = &r
		})
	}
	wg.Wait()
	window := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	all := measure.NewRecorder(measure.NewSampleBudget(s.cfg.maxSamples))
	var cpu time.Duration
	bound := false
	for k, r := range results {
		for name, sd := range r.Outcomes {
			all.MergeSeries(name, measure.SeriesFrom(sd))
		}
		s.mu.Lock()
		for _, w := range r.Wins {
			g := ps[k].global[w.Buyer]
			s.won[g].Add(1)
			s.wins = append(s.wins, win{buyer: g, reservation: w.Reservation})
		}
		s.mu.Unlock()
		cpu += time.Duration(r.CPUNs)
		if r.WindowNs > 0 && float64(r.CPUNs)/float64(r.WindowNs) >= clientBusy*float64(r.GOMAXPROCS) {
			bound = true
		}
	}
	p := newPhaseReport(all, workers, window)
	p.Processes = procs
	p.clientCPU(cpu, window)
	// The worker processes share this machine's cores.
	p.ClientBound = bound || p.ClientCPU >= clientBusy*float64(runtime.NumCPU())
	return p, nil
}
