// Package buy is `pavload buy`: a stampede of buyers on one offer, then
// payment and a read-back of the ledger (no oversell, limits held).
package buy

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
)

// buyConfig is everything `pavload buy` is told.
type buyConfig struct {
	scenario.Common
	brandToken string
	brandID    string
	offerID    string

	setup bool
	units int
	limit int
	price int64

	buyers        int
	taps          int
	concurrency   int
	duration      time.Duration
	loopWorkers   int
	idempotency   bool
	warm          bool
	warmAuth      bool
	pay           bool
	createWorkers int
	payWorkers    int
	timeout       time.Duration
	procs         int
	maxSamples    int
	client        string
}

const buyUsage = `Usage: pavload buy [flags]

A stampede of buyers on one offer. As the brand admin it creates a fresh product
(one SKU with --units in stock) and an offer on the demo show (or uses --offer);
as the platform admin it creates --buyers token-only accounts; then every buyer
taps "buy" at once (POST /api/reservations, --taps times each, at most
--concurrency requests in flight), optionally followed by --duration of closed-
loop tapping by --loop-workers. Winners pay (POST /api/orders). Last, it
reads the show and the brand's orders back and checks the ledger: no oversell,
sold out exactly, every winner paid, nobody over the per-customer limit.

It prints the figures as text (and as JSON with --json) and exits 1 when a
check fails.

  pavilion demo --json --data-dir ./data > demo.json
  pavload buy --demo demo.json --buyers 5000 --units 100 --limit 1

Flags:`

func (c *buyConfig) register(fs *flag.FlagSet) {
	c.RegisterCommon(fs, "platform admin bearer token, to create buyers (default: from --demo)",
		"show ID the offer belongs to (default: from --demo)")
	fs.StringVar(&c.brandToken, "brand-token", "", "brand admin bearer token, for --setup and verification (default: from --demo)")
	fs.StringVar(&c.brandID, "brand", "", "brand ID (default: from --demo)")
	fs.StringVar(&c.offerID, "offer", "", "use this existing offer instead of creating one (turns --setup off)")
	fs.BoolVar(&c.setup, "setup", true, "create a fresh product, SKU and offer for the run")
	fs.IntVar(&c.units, "units", 100, "with --setup: units in stock and allocated to the offer")
	fs.IntVar(&c.limit, "limit", 1, "with --setup: per-customer limit (0: none)")
	fs.Int64Var(&c.price, "price", 12900, "with --setup: price in minor units (EUR)")
	fs.IntVar(&c.buyers, "buyers", 5000, "buyer accounts to create")
	fs.IntVar(&c.taps, "taps", 1, "reserve attempts per buyer in the initial burst")
	fs.IntVar(&c.concurrency, "concurrency", 0, "requests in flight at most, and keep-alive connections (default: --buyers, at most 2000)")
	fs.DurationVar(&c.duration, "duration", 0, "after the burst, keep --loop-workers tapping in a closed loop for this long (0: burst only)")
	fs.IntVar(&c.loopWorkers, "loop-workers", 0, "workers of the --duration loop, each with one request in flight (default: --concurrency)")
	fs.BoolVar(&c.idempotency, "idempotency", true, "send a unique Idempotency-Key with every reserve and order")
	fs.BoolVar(&c.warm, "warm", true, "open every keep-alive connection before the burst (a crowd already on the page)")
	fs.BoolVar(&c.warmAuth, "warm-auth", false, "before the burst, every buyer calls GET /api/me once, so the server's credential cache is hot")
	fs.BoolVar(&c.pay, "pay", true, "every winner places an order and pays (tok_visa)")
	fs.IntVar(&c.createWorkers, "create-workers", 32, "parallel requests while creating buyers")
	fs.IntVar(&c.payWorkers, "pay-workers", 64, "parallel requests while paying")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.IntVar(&c.maxSamples, "max-samples", 2_000_000, "latency samples kept for percentiles (counts stay exact past it)")
	fs.StringVar(&c.client, "client", clientLite, "HTTP client of the burst's and the loop's taps: lite (one raw keep-alive connection per worker, each buyer's request written once; about half the CPU per tap) or std (net/http). Set-up, payment and verification always use net/http")
	fs.IntVar(&c.procs, "procs", 1, "processes that tap: the burst and the loop are split over this many pavload processes (buyers, workers and samples shared out), so the client is not the limit")
}

// complete fills what flags left empty from the demo file, then checks the result.
func (c *buyConfig) complete(set map[string]bool) error {
	d, err := c.LoadDemo()
	if err != nil {
		return err
	}
	if d != nil {
		c.brandToken = scenario.FirstSet(c.brandToken, d.BrandAdminToken)
		c.brandID = scenario.FirstSet(c.brandID, d.BrandID)
	}
	if c.offerID != "" {
		if set["setup"] && c.setup {
			return errors.New("--offer and --setup=true contradict each other: --offer uses an existing offer")
		}
		c.setup = false
	}
	if c.concurrency == 0 {
		c.concurrency = min(c.buyers, 2000)
	}
	if c.loopWorkers == 0 {
		c.loopWorkers = c.concurrency
	}
	var problems scenario.Checks
	problems.Need(c.Base != "", "--base (or --demo) is required")
	problems.Need(c.AdminToken != "", "--admin-token (or --demo) is required to create buyers")
	problems.Need(c.ShowID != "", "--show (or --demo) is required")
	problems.Need(c.setup || c.offerID != "", "give --offer, or leave --setup on")
	problems.Need(!c.setup || (c.brandToken != "" && c.brandID != ""), "--setup needs --brand-token and --brand (or --demo)")
	problems.Need(c.units >= 1, "--units must be at least 1")
	problems.Need(c.limit >= 0 && c.limit <= 20, "--limit must be from 0 (none) to 20")
	problems.Need(c.price > 0, "--price must be positive")
	problems.Need(c.buyers >= 1, "--buyers must be at least 1")
	problems.Need(c.taps >= 0, "--taps must be 0 or more")
	problems.Need(c.taps > 0 || c.duration > 0, "give --taps or --duration: there is nothing to do")
	problems.Need(c.concurrency >= 1 && c.loopWorkers >= 1, "--concurrency and --loop-workers must be at least 1")
	problems.Need(c.duration >= 0, "--duration must not be negative")
	problems.Need(c.createWorkers >= 1 && c.payWorkers >= 1, "--create-workers and --pay-workers must be at least 1")
	problems.Need(c.timeout > 0, "--timeout must be positive")
	problems.Need(c.maxSamples >= 0, "--max-samples must not be negative")
	problems.Need(c.procs >= 1 && c.procs <= 64, "--procs must be from 1 to 64")
	problems.Need(c.client == clientLite || c.client == clientStd, "--client must be lite or std")
	if c.client == clientLite && c.Base != "" {
		if _, _, err := liteAddr(c.Base); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems.Err()
}

// Run is `pavload buy` with its arguments.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg buyConfig
	set, err := scenario.ParseFlags("buy", buyUsage, args, stderr, cfg.register)
	if err != nil {
		return err
	}
	if err := cfg.complete(set); err != nil {
		return fmt.Errorf("buy: %w", err)
	}
	rep, err := scenario.RunReport(&cfg.Common, stdout, func() (*buyReport, error) { return runBuy(ctx, &cfg, stdout) })
	if err != nil {
		return err
	}
	if !rep.Verify.Pass {
		return errors.New("verification failed")
	}
	return nil
}

// runBuy runs the whole scenario and returns its report; the report is
// returned, as far as it got, with an error too.
func runBuy(ctx context.Context, cfg *buyConfig, out io.Writer) (*buyReport, error) {
	runID := scenario.NewRunID()
	conns := max(cfg.concurrency, cfg.loopWorkers, cfg.createWorkers, cfg.payWorkers)
	c, err := apiclient.NewClient(cfg.Base, conns, cfg.timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	rep := &buyReport{
		Label:     cfg.Label,
		RunID:     runID,
		Base:      cfg.Base,
		StartedAt: time.Now().UTC(),
		Client: measure.ClientInfo{
			GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		},
		Config: configReport{
			Buyers: cfg.buyers, Taps: cfg.taps, Concurrency: cfg.concurrency, DurationSeconds: cfg.duration.Seconds(), LoopWorkers: cfg.loopWorkers,
			Idempotency: cfg.idempotency, Warm: cfg.warm, WarmAuth: cfg.warmAuth, Pay: cfg.pay, Setup: cfg.setup, MaxSamples: cfg.maxSamples,
			Procs: cfg.procs, Client: cfg.client,
		},
	}
	fmt.Fprintf(out, "pavload buy %s(run %s) against %s\n", scenario.LabelPrefix(cfg.Label), runID, cfg.Base)

	// The offer.
	offer, err := prepareOffer(ctx, c, cfg, runID)
	if err != nil {
		return rep, fmt.Errorf("preparing the offer: %w", err)
	}
	rep.Offer = offer
	limit := "none"
	if offer.PerCustomerLimit > 0 {
		limit = fmt.Sprint(offer.PerCustomerLimit)
	}
	fmt.Fprintf(out, "offer %s on show %s: %d allocated (%d free), per-customer limit %s, fresh=%v\n",
		offer.ID, offer.ShowID, offer.Allocated, offer.Allocated-offer.SoldBefore-offer.HeldBefore, limit, offer.Fresh)

	// The crowd.
	buyers, created, err := createBuyers(ctx, c, cfg, runID)
	rep.Buyers = created
	if err != nil {
		return rep, fmt.Errorf("creating buyers: %w", err)
	}
	fmt.Fprintf(out, "created %d buyers in %.2fs (%.0f/s, %d workers)\n", created.Count, created.Seconds, created.PerSec, cfg.createWorkers)

	// The stampede.
	st, err := newStampede(c, cfg, runID, offer.ID, buyers)
	if err != nil {
		return rep, err
	}
	exe := ""
	if cfg.procs > 1 {
		if exe, err = os.Executable(); err != nil {
			return rep, fmt.Errorf("--procs: find this program: %w", err)
		}
	}
	if cfg.taps > 0 {
		var burst *phaseReport
		if cfg.procs > 1 {
			burst, err = st.procsPhase(ctx, exe, cfg.procs, "burst", 0)
		} else {
			burst, err = st.burst(ctx)
		}
		if err != nil {
			return rep, fmt.Errorf("burst: %w", err)
		}
		rep.Burst = burst
		printPhase(out, "burst", burst)
	}
	if cfg.duration > 0 {
		var sus *phaseReport
		if cfg.procs > 1 {
			sus, err = st.procsPhase(ctx, exe, cfg.procs, "sustain", cfg.duration)
		} else {
			sus, err = st.sustain(ctx, cfg.duration)
		}
		if err != nil {
			return rep, fmt.Errorf("sustained: %w", err)
		}
		rep.Sustained = sus
		printPhase(out, "sustained", sus)
	}
	winners := st.winners()

	// Payment.
	if cfg.pay {
		pr, err := payAll(ctx, c, cfg, runID, buyers, winners)
		rep.Pay = pr
		if err != nil {
			return rep, fmt.Errorf("paying: %w", err)
		}
		printPay(out, pr)
	}

	// The ledger's word.
	rep.Verify = verify(ctx, c, cfg, rep, st)
	printVerify(out, rep.Verify)
	rep.FinishedAt = time.Now().UTC()
	return rep, nil
}
