package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// BenchmarkReserveSoldOut is the sold-out answer of the buy button in
// process: one signed-in buyer taps the demo's sold-out bag with a bearer
// token and a fresh Idempotency-Key each time, through the server's whole
// handler (middleware, authentication from the credential cache, JSON in
// and out, the gate), without the network. It reports what a change to
// that path costs per request: allocations and process CPU (the test's own
// request and recorder included).
func BenchmarkReserveSoldOut(b *testing.B) {
	e := newEnv(b)
	h := e.srv.Config.Handler
	ctx := context.Background()
	tap := func(token, key string) *httptest.ResponseRecorder {
		body := `{"offer_id":"` + e.bagOffer() + `","quantity":1}`
		req := httptest.NewRequest("POST", "/api/reservations", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Idempotency-Key", key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	token := func(i int) string {
		u, err := e.svc.Create(ctx, account.NewUser{Email: fmt.Sprintf("buyer%d@example.com", i), Password: "buyer-password"})
		if err != nil {
			b.Fatal(err)
		}
		tk, _, err := e.svc.IssueToken(ctx, u.ID, "bench", 0)
		if err != nil {
			b.Fatal(err)
		}
		return tk
	}
	// The bag has 10 units, one per customer: ten buyers take them.
	for i := range 10 {
		if w := tap(token(i), "win"); w.Code != http.StatusCreated {
			b.Fatalf("buyer %d: %d %s", i, w.Code, w.Body)
		}
	}
	late := token(10)
	if w := tap(late, "first"); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "sold_out") {
		b.Fatalf("the late buyer got %d %s, want 409 sold_out", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := measure.ProcessCPU()
	for i := 0; b.Loop(); i++ {
		if w := tap(late, strconv.Itoa(i)); w.Code != http.StatusConflict {
			b.Fatalf("tap %d: %d %s", i, w.Code, w.Body)
		}
	}
	// The process's CPU moves much less with the machine's load than the
	// time per tap does.
	b.ReportMetric(float64((measure.ProcessCPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
}
