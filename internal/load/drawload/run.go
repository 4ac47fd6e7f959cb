package drawload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// record is a draw as GET /api/shows/{show}/draws/{draw} publishes it (and
// the close answers, and the room's draw event carries without entries).
type record struct {
	ID         string   `json:"id"`
	OfferID    string   `json:"offer_id"`
	Procedure  string   `json:"procedure"`
	State      string   `json:"state"`
	Units      int      `json:"units"`
	Commitment string   `json:"commitment"`
	EntryCount int      `json:"entry_count"`
	Seed       string   `json:"seed"`
	Entries    []string `json:"entries"`
	Winners    []string `json:"winners"`
	Unheld     []string `json:"unheld"`
}

// drawRun is one draw and its entrants.
type drawRun struct {
	cfg      *drawConfig
	clients  []*apiclient.Client // one per node
	accounts []apiclient.Account
	offerID  string

	drawID, commitment string
	path               string // /api/shows/{show}/draws/{draw}
	entries            []string
	closeAnswer        *record
}

func (d *drawRun) node(i int) *apiclient.Client { return d.clients[i%len(d.clients)] }

func (d *drawRun) open(ctx context.Context) error {
	var out struct {
		Draw record `json:"draw"`
	}
	show := "/api/shows/" + url.PathEscape(d.cfg.ShowID)
	err := d.clients[0].Call(ctx, http.MethodPost, show+"/draws", d.cfg.hostToken,
		map[string]any{"offer_id": d.offerID, "seconds": d.cfg.seconds, "units": d.cfg.units}, &out, http.StatusCreated)
	if err != nil {
		return err
	}
	if out.Draw.ID == "" || len(out.Draw.Commitment) != 64 || out.Draw.Seed != "" {
		return fmt.Errorf("the open answered id %q, commitment %q, seed %q: want an ID, a 64-digit commitment and no seed", out.Draw.ID, out.Draw.Commitment, out.Draw.Seed)
	}
	d.drawID, d.commitment = out.Draw.ID, out.Draw.Commitment
	d.path = show + "/draws/" + url.PathEscape(d.drawID)
	return nil
}

// enterReport is every entrant entering once.
type enterReport struct {
	Entrants int     `json:"entrants"`
	Workers  int     `json:"workers"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_sec"`
	Entered  int64   `json:"entered"`
	// Failures counts the entries that got no entry back, by outcome.
	Failures map[string]int64 `json:"failures"`
	Latency  measure.Latency  `json:"latency"`
	// ClientCPU is pavload's own CPU over the phase, in cores, and per entry.
	ClientCPU         float64 `json:"client_cpu_cores"`
	ClientCPUPerEntry float64 `json:"client_cpu_us_per_entry"`
	ClientBound       bool    `json:"client_bound"`
}

// enterAll has every entrant enter once, on node i mod nodes.
func (d *drawRun) enterAll(ctx context.Context) *enterReport {
	n := len(d.accounts)
	d.entries = make([]string, n)
	budget := measure.NewSampleBudget(n)
	rec := measure.NewRecorder(budget)
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(d.cfg.entryWorkers, n)
	cpu0, t0 := measure.ProcessCPU(), time.Now()
	for range workers {
		wg.Go(func() {
			local := measure.NewRecorder(budget)
			defer func() {
				mu.Lock()
				rec.Merge(local)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				start := time.Now()
				r, err := d.node(i).Do(ctx, http.MethodPost, d.path+"/entry", d.accounts[i].Token, "", nil)
				took := time.Since(start)
				switch {
				case err != nil:
					local.Add(apiclient.TransportOutcome(err), took)
				case r.Status != http.StatusOK:
					local.Add(strconv.Itoa(r.Status)+" "+r.Code, took)
				default:
					var e struct {
						Entry struct {
							ID string `json:"id"`
						} `json:"entry"`
					}
					if json.Unmarshal(r.Body, &e) != nil || e.Entry.ID == "" {
						local.Add("no entry id", took)
						continue
					}
					d.entries[i] = e.Entry.ID
					local.Add("entered", took)
				}
			}
		})
	}
	wg.Wait()
	window, cpu := time.Since(t0), measure.ProcessCPU()-cpu0
	total := rec.Total()
	r := &enterReport{Entrants: n, Workers: workers, Seconds: measure.Round3(window.Seconds()), Entered: rec.Count("entered"),
		Failures: map[string]int64{}, Latency: total.Latency()}
	for name, s := range rec.Outcomes() {
		if name != "entered" {
			r.Failures[name] = s.N()
		}
	}
	if window > 0 {
		r.PerSec = measure.Round1(float64(total.N()) / window.Seconds())
		r.ClientCPU = measure.Round3(cpu.Seconds() / window.Seconds())
		r.ClientBound = r.ClientCPU >= 0.9*float64(runtimeProcs())
	}
	if n > 0 {
		r.ClientCPUPerEntry = measure.Round1(float64(cpu.Microseconds()) / float64(n))
	}
	return r
}

// entryIDs are the entries the server answered with, in entrant order ("" for none).
func (d *drawRun) entryIDs() []string { return d.entries }

// closeReport is the close and the result's arrival at the viewers.
type closeReport struct {
	// AnswerMs is the close request's round trip: the server drew the
	// winners, gave them their holds and published the record.
	AnswerMs float64 `json:"answer_ms"`
	Viewers  int     `json:"viewers"` // welcomed before the close
	// Got counts the viewers whose "draw" event with the result arrived
	// within the --result-wait bound; Within1s those under a second.
	Got      int             `json:"got"`
	Within1s int             `json:"within_1s"`
	Missed   int             `json:"missed"`
	Latency  measure.Latency `json:"latency"` // from the close request's send to each viewer's event
	// ClientCPU is pavload's CPU from the close's send until the last viewer
	// got the result (or the bound), in cores.
	ClientCPU float64 `json:"client_cpu_cores"`
	// Nodes is the same per node the viewers were on (in --nodes order): in
	// a cluster, whether the result is slower to reach the nodes that did
	// not close the draw.
	Nodes []nodeResult `json:"nodes"`
}

type nodeResult struct {
	Node     string          `json:"node"`
	Viewers  int             `json:"viewers"`
	Got      int             `json:"got"`
	Within1s int             `json:"within_1s"`
	Latency  measure.Latency `json:"latency"`
}

// closeAndWatch closes the draw and waits for the result at every viewer.
func (d *drawRun) closeAndWatch(ctx context.Context, vs *viewers) (*closeReport, error) {
	var out struct {
		Draw record `json:"draw"`
	}
	cpu0 := measure.ProcessCPU()
	t0 := time.Now()
	vs.closeSent(t0)
	err := d.clients[0].Call(ctx, http.MethodPost, d.path+"/close", d.cfg.hostToken, nil, &out, http.StatusOK)
	answered := time.Since(t0)
	if err != nil {
		return nil, err
	}
	d.closeAnswer = &out.Draw
	vs.wait(ctx, t0.Add(d.cfg.resultWait))
	window := time.Since(t0)
	r := &closeReport{AnswerMs: measure.Millis(answered), Viewers: vs.welcomedCount()}
	h := &measure.Series{}
	perNode := make([]*measure.Series, len(d.cfg.nodes))
	r.Nodes = make([]nodeResult, len(d.cfg.nodes))
	for i, n := range d.cfg.nodes {
		perNode[i], r.Nodes[i].Node = &measure.Series{}, n
	}
	for _, v := range vs.results() {
		nr := &r.Nodes[v.node]
		if v.welcomed {
			nr.Viewers++
		}
		if !v.got {
			continue
		}
		h.Add(v.after, true)
		perNode[v.node].Add(v.after, true)
		if v.after <= d.cfg.resultWait {
			r.Got++
			nr.Got++
		}
		if v.after < time.Second {
			r.Within1s++
			nr.Within1s++
		}
	}
	r.Missed = r.Viewers - r.Got
	r.Latency = h.Latency()
	for i := range r.Nodes {
		r.Nodes[i].Latency = perNode[i].Latency()
	}
	r.ClientCPU = measure.Round3((measure.ProcessCPU() - cpu0).Seconds() / window.Seconds())
	return r, nil
}

// readRecord reads the published record from the last node (in a cluster,
// not the one that was asked to close).
func (d *drawRun) readRecord(ctx context.Context) (*record, error) {
	var out struct {
		Draw record `json:"draw"`
	}
	if err := d.clients[len(d.clients)-1].Call(ctx, http.MethodGet, d.path, "", nil, &out, http.StatusOK); err != nil {
		return nil, err
	}
	return &out.Draw, nil
}

// holdsReport is the winners' holds as the server reports them.
type holdsReport struct {
	// OfferHeld and OfferSold are the offer's counts after the close.
	OfferHeld int `json:"offer_held"`
	OfferSold int `json:"offer_sold"`
	// WinnersHolding counts the winners whose own entry (GET .../entry as
	// the winner) has a rank and names a hold; Asked is how many were asked.
	WinnersHolding int    `json:"winners_holding"`
	Asked          int    `json:"asked"`
	Error          string `json:"error,omitempty"`
}

// readHolds reads the offer's counts and every winner's entry (rank and hold).
func (d *drawRun) readHolds(ctx context.Context, rec *record) holdsReport {
	var h holdsReport
	o, err := apiclient.FindOffer(ctx, d.clients[0], d.cfg.brandToken, d.cfg.ShowID, d.offerID)
	if err != nil {
		h.Error = err.Error()
		return h
	}
	h.OfferHeld, h.OfferSold = o.Held, o.Sold
	byEntry := make(map[string]int, len(d.entries))
	for i, e := range d.entries {
		if e != "" {
			byEntry[e] = i
		}
	}
	for _, w := range rec.Winners {
		i, ok := byEntry[w]
		if !ok {
			continue // not ours: the checks say so
		}
		var out struct {
			Entry struct {
				ID            string  `json:"id"`
				Rank          int     `json:"rank"`
				ReservationID *string `json:"reservation_id"`
			} `json:"entry"`
		}
		h.Asked++
		if err := d.node(i).Call(ctx, http.MethodGet, d.path+"/entry", d.accounts[i].Token, nil, &out, http.StatusOK); err != nil {
			h.Error = err.Error()
			return h
		}
		if out.Entry.ID == w && out.Entry.Rank > 0 && out.Entry.ReservationID != nil {
			h.WinnersHolding++
		}
	}
	return h
}
