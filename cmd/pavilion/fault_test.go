package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// The fault tests run a real sale against a real server process and break
// something in the middle: the process is killed (SIGKILL, no goodbye), or
// Redis restarts under it. Afterwards nothing may be oversold, no order a
// buyer was told is paid may be missing, and every hold must end.

type api struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newAPI(t *testing.T, base string) *api {
	return &api{t: t, base: base, hc: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
}

// call returns the status and the decoded body; status 0 means the request
// did not get an answer (the server was killed).
func (a *api) call(method, path, token, key string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Error(err)
		return 0, nil
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func (a *api) must(want int, method, path, token string, body any) map[string]any {
	a.t.Helper()
	status, out := a.call(method, path, token, "", body)
	if status != want {
		a.t.Fatalf("%s %s: %d %v", method, path, status, out)
	}
	return out
}

// sale is an offer of units with a per-customer limit of one, and buyers.
type sale struct {
	api      *api
	apis     []*api // if set, buyer i goes to apis[i%len(apis)] (several nodes)
	creds    map[string]any
	offerID  string
	skuID    string
	units    int
	buyers   []string      // bearer tokens
	cards    []string      // payment tokens, used in turn
	spacing  time.Duration // between buyers' first taps, so a fault lands mid-sale
	mu       sync.Mutex
	paid     map[string]bool // order IDs a buyer was told are paid
	answered atomic.Int64
}

func demoCreds(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, err := runCLI(t, "", append([]string{"demo", "--json"}, args...)...)
	if err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	var creds map[string]any
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatal(err)
	}
	return creds
}

func newSale(t *testing.T, a *api, creds map[string]any, units, buyers int) *sale {
	s := &sale{api: a, creds: creds, units: units, paid: map[string]bool{},
		cards: []string{"tok_visa", "tok_visa", "tok_slow", "tok_chargeDeclined"}}
	brandAdmin, admin := creds["brand_admin_token"].(string), creds["admin_token"].(string)
	p := a.must(201, "POST", "/api/brands/"+creds["brand_id"].(string)+"/products", brandAdmin, map[string]any{
		"name": "Fault-test bag", "skus": []map[string]any{{"code": "FT-" + uuid.NewString()[:8], "price_minor": 100000, "currency": "EUR", "on_hand": units + 10}}})
	s.skuID = p["product"].(map[string]any)["skus"].([]any)[0].(map[string]any)["id"].(string)
	o := a.must(201, "POST", "/api/shows/"+creds["show_id"].(string)+"/offers", brandAdmin, map[string]any{
		"sku_id": s.skuID, "price_minor": 90000, "allocated": units, "per_customer_limit": 1})
	s.offerID = o["offer"].(map[string]any)["id"].(string)
	for i := range buyers {
		u := a.must(201, "POST", "/api/users", admin, map[string]any{"email": fmt.Sprintf("buyer-%d-%s@fault.example", i, uuid.NewString()[:6]), "token_only": true})
		s.buyers = append(s.buyers, u["token"].(string))
	}
	return s
}

// run sends every buyer at once: reserve, then pay (some cards slow, some
// declined). It returns when every buyer has an answer or gave up.
func (s *sale) run() {
	var wg sync.WaitGroup
	for i, tok := range s.buyers {
		time.Sleep(s.spacing)
		a := s.api
		if len(s.apis) > 0 {
			a = s.apis[i%len(s.apis)]
		}
		wg.Go(func() {
			status, out := a.call("POST", "/api/reservations", tok, uuid.NewString(), map[string]any{"offer_id": s.offerID, "quantity": 1})
			if status != 201 {
				return
			}
			res := out["reservation"].(map[string]any)["id"].(string)
			status, out = a.call("POST", "/api/orders", tok, uuid.NewString(), map[string]any{"reservation_id": res,
				"shipping": map[string]string{"name": "Buyer", "line1": "1 Rue", "city": "Lyon", "country": "FR"}, "payment_token": s.cards[i%len(s.cards)]})
			if status == 201 {
				s.mu.Lock()
				s.paid[out["order"].(map[string]any)["id"].(string)] = true
				s.mu.Unlock()
			}
			s.answered.Add(1)
		})
	}
	wg.Wait()
}

// counts reads the offer's and the SKU's held and sold units from the API.
func (s *sale) counts() (held, sold, allocated int) {
	s.api.t.Helper()
	show := s.api.must(200, "GET", "/api/shows/"+s.creds["show_id"].(string), "", nil)["show"].(map[string]any)
	for _, o := range show["offers"].([]any) {
		o := o.(map[string]any)
		if o["id"] == s.offerID {
			return int(o["held"].(float64)), int(o["sold"].(float64)), int(o["allocated"].(float64))
		}
	}
	s.api.t.Fatalf("offer %s missing", s.offerID)
	return
}

// check asserts the invariants after the fault: never oversold, every
// order a buyer saw paid is paid, and — once holds have had time to expire
// and unknown payments to settle — nothing is stuck held.
func (s *sale) check(t *testing.T) (sold int) {
	t.Helper()
	held, sold, allocated := s.counts()
	if held+sold > allocated {
		t.Fatalf("oversold: %d held + %d sold of %d", held, sold, allocated)
	}
	brandAdmin := s.creds["brand_admin_token"].(string)
	s.mu.Lock()
	for id := range s.paid {
		o := s.api.must(200, "GET", "/api/orders/"+id, brandAdmin, nil)["order"].(map[string]any)
		if st := o["state"]; st != "paid" {
			t.Fatalf("order %s was answered paid but is %s", id, st)
		}
	}
	told := len(s.paid)
	s.mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	for {
		held, sold, _ = s.counts()
		if held == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d units still held 30 s after the fault", held)
		}
		time.Sleep(250 * time.Millisecond)
	}
	list := s.api.must(200, "GET", "/api/brands/"+s.creds["brand_id"].(string)+"/orders?state=paid&limit=200", brandAdmin, nil)["orders"].([]any)
	paidHere := 0
	for _, o := range list {
		if o.(map[string]any)["offer_id"] == s.offerID {
			paidHere++
		}
	}
	if paidHere != sold || sold < told {
		t.Fatalf("ledger sold %d, paid orders %d, buyers told paid %d", sold, paidHere, told)
	}
	return sold
}

// finish sells what is left to fresh buyers: exactly the remaining units go,
// which shows the gate came back in step with the ledger.
func (s *sale) finish(t *testing.T) {
	t.Helper()
	more := newSale(t, s.api, s.creds, 1, 0)
	more.offerID, more.units = s.offerID, s.units
	admin := s.creds["admin_token"].(string)
	for i := range s.units + 20 {
		u := s.api.must(201, "POST", "/api/users", admin, map[string]any{"email": fmt.Sprintf("late-%d-%s@fault.example", i, uuid.NewString()[:6]), "token_only": true})
		more.buyers = append(more.buyers, u["token"].(string))
	}
	more.cards = []string{"tok_visa"}
	// Units a killed node took from the gate but never wrote to the ledger
	// come back when the sweeper sees the gate and the ledger disagree for a
	// few seconds; until then those buyers hear "sold out" and, like real
	// ones, tap again. Whoever already bought is refused by the limit.
	deadline := time.Now().Add(20 * time.Second)
	for {
		more.run()
		held, sold, allocated := more.counts()
		if held+sold > allocated {
			t.Fatalf("oversold while selling out: held %d, sold %d of %d", held, sold, allocated)
		}
		if held == 0 && sold == allocated {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("20 s after the fault: held %d, sold %d of %d", held, sold, allocated)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// stores is what a test's nodes share: a fresh PostgreSQL database and a
// private Redis server.
type stores struct {
	env          []string // each node's environment: both URLs, then the extra given
	pg, redis    string   // their URLs
	restartRedis func()
}

func sharedStores(t *testing.T, extra ...string) stores {
	t.Helper()
	st := stores{pg: testinfra.Postgres(t)}
	st.redis, st.restartRedis = testinfra.RedisServer(t)
	st.env = append([]string{"PAVILION_DATABASE_URL=" + st.pg, "PAVILION_REDIS_URL=" + st.redis}, extra...)
	return st
}

func serveCmd(dataDir string, env []string, extra ...string) *exec.Cmd {
	args := append([]string{"serve", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--media-port", "0", "--log-format", "json", "--log-level", "warn",
		"--hold", "2s", "--payment-timeout", "3s"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "PAVILION_TEST_MAIN=1", "PAVILION_DATABASE_URL=", "PAVILION_REDIS_URL="), env...)
	return cmd
}

// killMidSale runs a sale, SIGKILLs the server once some orders are paid,
// restarts it on the same data and checks the invariants.
func killMidSale(t *testing.T, dataDir string, env []string, demoArgs ...string) {
	first := serveCmd(dataDir, env, "--demo")
	base := startCmd(t, first)
	creds := demoCreds(t, append(demoArgs, "--public-url", base)...)
	s := newSale(t, newAPI(t, base), creds, 40, 150)
	s.spacing = 3 * time.Millisecond

	done := make(chan struct{})
	go func() { s.run(); close(done) }()
	for s.answered.Load() < 5 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	_ = first.Wait()

	second := serveCmd(dataDir, env)
	s.api = newAPI(t, startCmd(t, second))
	sold := s.check(t)
	t.Logf("killed after %d answers; %d sold before the kill survived it; %d buyers were told paid", s.answered.Load(), sold, len(s.paid))
	s.finish(t)
}

func TestKillMidSaleEmbedded(t *testing.T) {
	dir := t.TempDir()
	killMidSale(t, dir, nil, "--data-dir", dir)
}

func TestKillMidSaleCluster(t *testing.T) {
	st := sharedStores(t)
	env, pg := st.env, st.pg
	killMidSale(t, t.TempDir(), env, "--database-url", pg)
}

// TestRedisRestartMidSale restarts Redis (losing the gate, the script cache
// and every connection) while buyers are tapping.
func TestRedisRestartMidSale(t *testing.T) {
	st := sharedStores(t)
	env, pg, restart := st.env, st.pg, st.restartRedis
	srv := serveCmd(t.TempDir(), env, "--demo")
	base := startCmd(t, srv)
	creds := demoCreds(t, "--database-url", pg, "--public-url", base)
	s := newSale(t, newAPI(t, base), creds, 40, 150)
	s.spacing = 3 * time.Millisecond

	done := make(chan struct{})
	go func() { s.run(); close(done) }()
	for s.answered.Load() < 5 {
		time.Sleep(5 * time.Millisecond)
	}
	restart()
	restartedAt := s.answered.Load()
	<-done
	sold := s.check(t)
	t.Logf("Redis restarted after %d answers (of %d in the end); %d sold; %d buyers told paid", restartedAt, s.answered.Load(), sold, len(s.paid))
	s.finish(t)
	// The server stayed up throughout and still answers ready.
	if code, body := get(t, base+"/readyz", ""); code != 200 {
		t.Fatalf("readyz after the Redis restart: %d %s", code, body)
	}
}
