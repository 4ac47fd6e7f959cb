package buy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// Outcomes of a reserve tap that have names of their own; any other answer
// is named by its status and error code ("503 unavailable"), and a request
// that got no answer by "timeout", "transport_error" or "cancelled".
const (
	outReserved     = "reserved"      // 201
	outSoldOut      = "sold_out"      // 409 sold_out
	outLimitReached = "limit_reached" // 409 limit_reached
)

// outcomeOf names an answer.
func outcomeOf(r apiclient.Response, err error) string {
	switch {
	case err != nil:
		return apiclient.TransportOutcome(err)
	case r.Status == http.StatusCreated:
		return outReserved
	case r.Status == http.StatusConflict && r.Code == "sold_out":
		return outSoldOut
	case r.Status == http.StatusConflict && r.Code == "limit_reached":
		return outLimitReached
	case r.Code != "":
		return fmt.Sprintf("%d %s", r.Status, r.Code)
	default:
		return fmt.Sprint(r.Status)
	}
}

// isFailure says whether an outcome is a server error or no answer at all:
// what a server under a stampede must never give.
func isFailure(outcome string) bool {
	switch outcome {
	case "timeout", "transport_error", "cancelled":
		return true
	}
	return len(outcome) >= 1 && outcome[0] == '5'
}

// win is one reservation a buyer got.
type win struct {
	buyer       int
	reservation string
}

// stampede is the crowd tapping one offer.
type stampede struct {
	c       *apiclient.Client
	cfg     *buyConfig
	runID   string
	offerID string
	body    []byte // the reserve request, the same for everyone
	buyers  []apiclient.Account
	budget  *measure.SampleBudget
	lite    *liteRequests // the buyers' requests for --client lite; nil for std

	won  []atomic.Int32 // reservations won, per buyer
	mu   sync.Mutex
	wins []win

	// startGate, when set, is called once every worker is ready and before
	// the barrier opens: a worker process waits there for its parent's go.
	startGate func() error
}

func newStampede(c *apiclient.Client, cfg *buyConfig, runID, offerID string, buyers []apiclient.Account) (*stampede, error) {
	body, _ := json.Marshal(map[string]any{"offer_id": offerID, "quantity": 1})
	s := &stampede{
		c: c, cfg: cfg, runID: runID, offerID: offerID, body: body, buyers: buyers,
		budget: measure.NewSampleBudget(cfg.maxSamples),
		won:    make([]atomic.Int32, len(buyers)),
	}
	if cfg.client == clientLite {
		var err error
		if s.lite, err = newLiteRequests(c.Base(), buyers, body); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// winners is every reservation won so far.
func (s *stampede) winners() []win {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]win(nil), s.wins...)
}

// burst has every buyer tap cfg.taps times, all starting together, with
// cfg.concurrency requests in flight at most. Taps go round by round: every
// buyer's first tap, then every buyer's second one.
func (s *stampede) burst(ctx context.Context) (*phaseReport, error) {
	n := int64(len(s.buyers)) * int64(s.cfg.taps)
	return s.run(ctx, min(int64(s.cfg.concurrency), n), 0, s.cfg.warmAuth, newBurstNext(s.runID, len(s.buyers), n))
}

// nextTap names a worker's kth tap: the buyer (negative when there is no
// more to do), and its idempotency key, appended to key.
type nextTap func(worker, k int, key []byte) (buyer int, _ []byte)

// newBurstNext hands out n taps over the buyers, round by round.
func newBurstNext(runID string, buyers int, n int64) nextTap {
	var next atomic.Int64
	return func(_, _ int, key []byte) (int, []byte) {
		i := next.Add(1) - 1
		if i >= n {
			return -1, key
		}
		b, tap := i%int64(buyers), i/int64(buyers)
		return int(b), appendKey(key, runID, 'b', b, tap)
	}
}

// appendKey appends "pl-<run>-<kind><a>-<b>", a tap's idempotency key.
func appendKey(key []byte, runID string, kind byte, a, b int64) []byte {
	key = append(key, "pl-"...)
	key = append(key, runID...)
	key = append(key, '-', kind)
	key = strconv.AppendInt(key, a, 10)
	key = append(key, '-')
	return strconv.AppendInt(key, b, 10)
}

// sustain has cfg.loopWorkers workers tap in a closed loop for d, each
// going through the buyers in turn.
func (s *stampede) sustain(ctx context.Context, d time.Duration) (*phaseReport, error) {
	return s.run(ctx, int64(s.cfg.loopWorkers), d, false, sustainNext(s.runID, len(s.buyers), s.cfg.loopWorkers))
}

// sustainNext has worker w go through the buyers in turn.
func sustainNext(runID string, buyers, workers int) nextTap {
	return func(w, k int, key []byte) (int, []byte) {
		b := int((int64(w) + int64(k)*int64(workers)) % int64(buyers))
		return b, appendKey(key, runID, 's', int64(w), int64(k))
	}
}

// run taps (see tap) and reports the phase.
func (s *stampede) run(ctx context.Context, workers int64, d time.Duration, warmAuth bool, next nextTap) (*phaseReport, error) {
	all, window, cpu, err := s.tap(ctx, workers, d, warmAuth, next)
	if err != nil {
		return nil, err
	}
	p := newPhaseReport(all, int(workers), window)
	p.clientCPU(cpu, window)
	return p, nil
}

// tap starts workers that wait at a barrier, then tap until next answers
// a negative buyer or, when d > 0, until d has passed since the barrier.
// With warmAuth, the workers first have every buyer call GET /api/me. It
// returns what the workers saw, the window from the barrier to the last
// answer and the CPU this process used in it.
func (s *stampede) tap(ctx context.Context, workers int64, d time.Duration, warmAuth bool, next nextTap) (*measure.Recorder, time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recs := make([]*measure.Recorder, workers)
	wins := make([][]win, workers)
	start := make(chan struct{})
	var deadline time.Time // written before start is closed, read after
	var ready, done sync.WaitGroup
	ready.Add(int(workers))
	for w := range int(workers) {
		recs[w] = measure.NewRecorder(s.budget)
		done.Go(func() {
			t := s.newTapper(ctx)
			defer t.close()
			if s.cfg.warm {
				t.warm(ctx)
			}
			if warmAuth {
				for b := w; b < len(s.buyers); b += int(workers) {
					_, _ = s.c.Do(ctx, http.MethodGet, "/api/me", s.buyers[b].Token, "", nil)
				}
			}
			ready.Done()
			select {
			case <-start:
			case <-ctx.Done():
				return
			}
			var key []byte
			for k := 0; ctx.Err() == nil; k++ {
				if d > 0 && !time.Now().Before(deadline) {
					return
				}
				var b int
				b, key = next(w, k, key[:0])
				if b < 0 {
					return
				}
				if !s.cfg.idempotency {
					key = key[:0]
				}
				t0 := time.Now()
				r, err := t.reserve(ctx, b, key)
				took := time.Since(t0)
				out := outcomeOf(r, err)
				recs[w].Add(out, took)
				if out == outReserved {
					s.won[b].Add(1)
					wins[w] = append(wins[w], win{buyer: b, reservation: apiclient.ReservationID(r.Body)})
				}
			}
		})
	}
	ready.Wait()
	if s.startGate != nil {
		if err := s.startGate(); err != nil {
			cancel() // the workers leave the barrier without tapping
			done.Wait()
			return nil, 0, 0, err
		}
	}
	t0 := time.Now()
	cpu0 := measure.ProcessCPU()
	deadline = t0.Add(d)
	close(start)
	done.Wait()
	window := time.Since(t0)
	cpu := measure.ProcessCPU() - cpu0
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}

	all := measure.NewRecorder(s.budget)
	for _, r := range recs {
		all.Merge(r)
	}
	s.mu.Lock()
	for _, w := range wins {
		s.wins = append(s.wins, w...)
	}
	s.mu.Unlock()
	return all, window, cpu, nil
}

// payAll has every winner place an order for their reservation and pay with
// the test provider's always-approved card, cfg.payWorkers at a time.
func payAll(ctx context.Context, c *apiclient.Client, cfg *buyConfig, runID string, buyers []apiclient.Account, wins []win) (*payReport, error) {
	budget := measure.NewSampleBudget(cfg.maxSamples)
	workers := max(1, min(cfg.payWorkers, len(wins)))
	recs := make([]*measure.Recorder, workers)
	orders := make([][]string, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		recs[w] = measure.NewRecorder(budget)
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(wins) {
					return
				}
				wn := wins[i]
				body, _ := json.Marshal(map[string]any{
					"reservation_id": wn.reservation,
					"shipping": map[string]string{
						"name": fmt.Sprintf("Buyer %d", wn.buyer), "line1": "1 rue de la Paix",
						"city": "Paris", "postal_code": "75002", "country": "FR",
					},
					"payment_token": "tok_visa",
				})
				key := ""
				if cfg.idempotency {
					key = fmt.Sprintf("pl-%s-o-%s", runID, wn.reservation)
				}
				t0 := time.Now()
				r, err := c.Do(ctx, http.MethodPost, "/api/orders", buyers[wn.buyer].Token, key, body)
				took := time.Since(t0)
				out := outcomeOf(r, err)
				switch {
				case err == nil && r.Status == http.StatusCreated:
					out = "paid"
				case err == nil && r.Status == http.StatusAccepted:
					out = "pending"
				}
				recs[w].Add(out, took)
				if out == "paid" || out == "pending" {
					orders[w] = append(orders[w], orderID(r.Body))
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	all := measure.NewRecorder(budget)
	for _, r := range recs {
		all.Merge(r)
	}
	pr := &payReport{
		Orders:  len(wins),
		Workers: workers,
		Paid:    all.Count("paid"),
		Pending: all.Count("pending"),
		Phase:   *newPhaseReport(all, workers, took),
	}
	pr.Failed = int64(len(wins)) - pr.Paid - pr.Pending
	for _, o := range orders {
		pr.orderIDs = append(pr.orderIDs, o...)
	}
	return pr, nil
}

// orderID reads the ID from a 201 or 202 answer to POST /api/orders.
func orderID(body []byte) string {
	var out struct {
		Order struct {
			ID string `json:"id"`
		} `json:"order"`
	}
	_ = json.Unmarshal(body, &out)
	return out.Order.ID
}
