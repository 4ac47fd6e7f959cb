// Package drawload is `pavload draw`: a fair draw with a crowd of entrants
// spread over a cluster's nodes, closed while viewers watch the live room;
// it times the result's arrival at every viewer and checks the result the
// way anyone could (winners, entrants, seed, the published procedure, holds).
package drawload

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
)

type drawConfig struct {
	scenario.Common
	brandToken string
	brandID    string
	hostToken  string
	nodesFlag  string
	nodes      []string

	entries       int
	units         int
	viewers       int
	seconds       int
	price         int64
	createWorkers int
	entryWorkers  int
	dialWorkers   int
	timeout       time.Duration
	resultWait    time.Duration
}

const drawUsage = `Usage: pavload draw [flags]

A fair draw under load. As the brand admin it creates a fresh product and
offer with --units in stock on the demo show; as the platform admin it creates
--entries token-only accounts; the host opens a draw on the offer with a long
window; every account enters (POST /api/shows/{show}/draws/{draw}/entry,
spread round-robin over --nodes); --viewers open the show's live room (over
--nodes too) and wait for their welcome; then the host closes the draw and
pavload times the close's answer and the "draw" event carrying the winners at
every viewer. Last it checks the result: winners = min(units, entries), each
an entrant of this run and none twice, the seed matches the commitment made
at open, the published procedure (internal/draw.Verify) draws the same
winners, every viewer saw those winners, and each winner holds a unit.

It exits 1 when a check fails; the "< 1 s to every viewer" target is
reported, not enforced (a shared machine's timing is not a correctness fault).

  pavilion demo --json --data-dir ./data > demo.json
  pavload draw --demo demo.json --entries 50000 --units 100 --viewers 300

Flags:`

func (c *drawConfig) register(fs *flag.FlagSet) {
	c.RegisterCommon(fs, "platform admin bearer token, to create entrants (default: from --demo)",
		"show ID the draw runs in (default: from --demo)")
	fs.StringVar(&c.brandToken, "brand-token", "", "brand admin bearer token, to create the offer (default: from --demo)")
	fs.StringVar(&c.brandID, "brand", "", "brand ID (default: from --demo)")
	fs.StringVar(&c.hostToken, "host-token", "", "a host's bearer token, to open and close the draw (default: from --demo)")
	fs.StringVar(&c.nodesFlag, "nodes", "", "comma-separated base URLs of the same cluster's nodes: entries and viewers are spread over them round-robin (default: --base only)")
	fs.IntVar(&c.entries, "entries", 50000, "entrant accounts to create; each enters once")
	fs.IntVar(&c.units, "units", 100, "units in stock, all of them drawn")
	fs.IntVar(&c.viewers, "viewers", 300, "websocket viewers of the show (the first entrants, signed in) that wait for the result")
	fs.IntVar(&c.seconds, "seconds", 3600, "the draw's window; it is closed by the host long before")
	fs.Int64Var(&c.price, "price", 12900, "the offer's price in minor units (EUR)")
	fs.IntVar(&c.createWorkers, "create-workers", 32, "parallel requests while creating entrants")
	fs.IntVar(&c.entryWorkers, "entry-workers", 64, "parallel entry requests")
	fs.IntVar(&c.dialWorkers, "dial-workers", 32, "viewers connecting at once")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.DurationVar(&c.resultWait, "result-wait", 10*time.Second, "how long after the close viewers may take to get the result before they count as missed")
}

func (c *drawConfig) complete() error {
	d, err := c.LoadDemo()
	if err != nil {
		return err
	}
	if d != nil {
		c.brandToken = scenario.FirstSet(c.brandToken, d.BrandAdminToken)
		c.brandID = scenario.FirstSet(c.brandID, d.BrandID)
		c.hostToken = scenario.FirstSet(c.hostToken, d.HostToken)
	}
	c.nodes = nil
	for n := range strings.SplitSeq(c.nodesFlag, ",") {
		if n = strings.TrimRight(strings.TrimSpace(n), "/"); n != "" {
			c.nodes = append(c.nodes, n)
		}
	}
	if len(c.nodes) == 0 && c.Base != "" {
		c.nodes = []string{strings.TrimRight(c.Base, "/")}
	}
	var problems scenario.Checks
	problems.Need(c.Base != "" || len(c.nodes) > 0, "--base (or --demo, or --nodes) is required")
	problems.Need(c.AdminToken != "", "--admin-token (or --demo) is required to create entrants")
	problems.Need(c.ShowID != "", "--show (or --demo) is required")
	problems.Need(c.brandToken != "" && c.brandID != "", "--brand-token and --brand (or --demo) are required to create the offer")
	problems.Need(c.hostToken != "", "--host-token (or --demo) is required to open and close the draw")
	problems.Need(c.entries >= 1, "--entries must be at least 1")
	problems.Need(c.units >= 1, "--units must be at least 1")
	problems.Need(c.viewers >= 0 && c.viewers <= c.entries, "--viewers must be from 0 to --entries (viewers are entrants)")
	problems.Need(c.seconds >= 60, "--seconds must be at least 60: the host closes the draw, not the clock")
	problems.Need(c.price > 0, "--price must be positive")
	problems.Need(c.createWorkers >= 1 && c.entryWorkers >= 1 && c.dialWorkers >= 1, "--create-workers, --entry-workers and --dial-workers must be at least 1")
	problems.Need(c.timeout > 0 && c.resultWait > 0, "--timeout and --result-wait must be positive")
	for _, n := range c.nodes {
		if u, err := url.Parse(n); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("node %q must be an http:// or https:// URL", n))
		}
	}
	return problems.Err()
}

// Run is `pavload draw` with its arguments.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg drawConfig
	if _, err := scenario.ParseFlags("draw", drawUsage, args, stderr, cfg.register); err != nil {
		return err
	}
	if err := cfg.complete(); err != nil {
		return fmt.Errorf("draw: %w", err)
	}
	rep, err := scenario.RunReport(&cfg.Common, stdout, func() (*drawReport, error) { return runDraw(ctx, &cfg, stdout) })
	if err != nil {
		return err
	}
	if !rep.Verify.Pass {
		return errors.New("verification failed")
	}
	return nil
}

// runDraw runs the scenario; its report is returned as far as it got, with
// an error too.
func runDraw(ctx context.Context, cfg *drawConfig, out io.Writer) (*drawReport, error) {
	runID := scenario.NewRunID()
	clients := make([]*apiclient.Client, len(cfg.nodes))
	for i, n := range cfg.nodes {
		c, err := apiclient.NewClient(n, max(cfg.createWorkers, cfg.entryWorkers), cfg.timeout)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		clients[i] = c
	}
	first := clients[0]
	rep := &drawReport{
		Label: cfg.Label, RunID: runID, Nodes: cfg.nodes, StartedAt: time.Now().UTC(),
		Client: measure.ClientInfo{GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)},
		Config: configReport{Entries: cfg.entries, Units: cfg.units, Viewers: cfg.viewers, Seconds: cfg.seconds,
			CreateWorkers: cfg.createWorkers, EntryWorkers: cfg.entryWorkers, ResultWaitSeconds: cfg.resultWait.Seconds()},
	}
	fmt.Fprintf(out, "pavload draw %s(run %s) on %d node(s): %s\n", scenario.LabelPrefix(cfg.Label), runID, len(cfg.nodes), strings.Join(cfg.nodes, ", "))

	offer, err := apiclient.CreateOffer(ctx, first, cfg.brandToken, apiclient.NewOffer{
		BrandID: cfg.brandID, ShowID: cfg.ShowID, Name: "pavload draw " + runID, SKUCode: "PAVDRAW-" + runID,
		PriceMinor: cfg.price, Units: cfg.units, Limit: 1,
	})
	if err != nil {
		return rep, fmt.Errorf("creating the offer: %w", err)
	}
	rep.OfferID = offer.ID
	fmt.Fprintf(out, "offer %s: %d units\n", offer.ID, offer.Allocated)

	accounts, created, err := apiclient.CreateAccounts(ctx, first, cfg.AdminToken, cfg.entries, cfg.createWorkers, func(i int) (string, string) {
		return fmt.Sprintf("pavdraw-%s-%06d@load.pavilion.example", runID, i), fmt.Sprintf("Entrant %d", i)
	})
	rep.Entrants = created
	if err != nil {
		return rep, fmt.Errorf("creating entrants: %w", err)
	}
	fmt.Fprintf(out, "created %d entrants in %.2fs (%.0f/s, %d workers)\n", created.Count, created.Seconds, created.PerSec, cfg.createWorkers)

	d := &drawRun{cfg: cfg, clients: clients, accounts: accounts, offerID: offer.ID}
	if err := d.open(ctx); err != nil {
		return rep, fmt.Errorf("opening the draw: %w", err)
	}
	rep.DrawID, rep.Commitment = d.drawID, d.commitment
	fmt.Fprintf(out, "draw %s open, commitment %s\n", d.drawID, d.commitment)

	rep.Enter = d.enterAll(ctx)
	printEnter(out, rep.Enter)

	vs := newViewers(cfg, d)
	defer vs.closeAll()
	rep.Connect = vs.connectAll(ctx)
	fmt.Fprintf(out, "\nviewers: %d of %d welcomed in %.2fs (%s)\n", rep.Connect.Welcomed, rep.Connect.Viewers, rep.Connect.Seconds, measure.CountsLine(rep.Connect.Failures))

	closeRep, err := d.closeAndWatch(ctx, vs)
	rep.Close = closeRep
	if err != nil {
		return rep, fmt.Errorf("closing the draw: %w", err)
	}
	printClose(out, closeRep)

	rec, err := d.readRecord(ctx)
	if err != nil {
		return rep, fmt.Errorf("reading the published record: %w", err)
	}
	holds := d.readHolds(ctx, rec)
	rep.Verify = check(observed{
		units: cfg.units, commitment: d.commitment, entered: d.entryIDs(), closeAnswer: d.closeAnswer,
		record: rec, views: vs.results(), holds: holds,
	})
	rep.Target = target(closeRep, cfg.viewers)
	printVerify(out, rep.Verify, rep.Target)
	rep.FinishedAt = time.Now().UTC()
	return rep, nil
}
