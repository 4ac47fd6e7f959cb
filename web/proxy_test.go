package web_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/web"
)

// serveAgain serves e's API again with srv's settings over e's stores, and
// returns the server for its registry and settings.
func (e *env) serveAgain(srv *web.Server) *web.Server {
	e.t.Helper()
	srv.Accounts, srv.Brands, srv.Shows, srv.Schedule, srv.Catalog, srv.Checkout = e.svc, e.db, e.db, e.shows, e.db, e.shop
	srv.Registry = prometheus.NewRegistry()
	srv.Logger = slog.New(slog.DiscardHandler)
	e.srv = httptest.NewServer(srv.Handler())
	e.t.Cleanup(e.srv.Close)
	return srv
}

// badLogins sends n failed log-ins claiming to come from client (through a
// proxy's X-Forwarded-For) and counts the ones refused as rate limited.
func (e *env) badLogins(n int, client string) (limited int) {
	e.t.Helper()
	for range n {
		r := e.do("POST", "/api/auth/login", map[string]string{"email": demo.ViewerEmail, "password": "guess guess"},
			header("X-Forwarded-For", "1.2.3.4, "+client))
		if r.status == http.StatusTooManyRequests {
			limited++
		}
	}
	return limited
}

// TestTrustedProxies: behind a trusted proxy, the log-in rate limit keys on
// the client the proxy names, so one client's guesses do not lock out the
// others; without --trusted-proxies the header is ignored.
func TestTrustedProxies(t *testing.T) {
	e := newEnv(t)
	// The test client reaches the server from 127.0.0.1: it plays the proxy.
	e.serveAgain(&web.Server{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if e.badLogins(15, "198.51.100.1") == 0 {
		t.Fatal("15 quick failed log-ins from one client behind the proxy were never rate limited")
	}
	if n := e.badLogins(3, "198.51.100.2"); n != 0 {
		t.Fatalf("another client behind the same proxy was rate limited %d times", n)
	}
	// The leftmost hop is the client's own claim: changing it does not
	// give a client a fresh bucket.
	for i := range 3 {
		r := e.do("POST", "/api/auth/login", map[string]string{"email": demo.ViewerEmail, "password": "guess guess"},
			header("X-Forwarded-For", "10.0.0."+string(rune('1'+i))+", 198.51.100.1"))
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("a spoofed leftmost hop escaped the limit: %d", r.status)
		}
	}
	// RFC 7239 Forwarded, from a proxy that writes only that.
	r := e.do("POST", "/api/auth/login", map[string]string{"email": demo.ViewerEmail, "password": "guess guess"},
		header("Forwarded", `for="[2001:db8::1]:4711";proto=https`))
	e.want(r, http.StatusUnauthorized, "unauthorized")

	// Without trusted proxies the peer is the client, whatever it claims.
	e = newEnv(t)
	if e.badLogins(12, "198.51.100.1") == 0 {
		t.Fatal("no rate limit")
	}
	if e.badLogins(1, "198.51.100.2") != 1 {
		t.Fatal("an untrusted peer chose its own rate-limit bucket with X-Forwarded-For")
	}
}

// TestMetricsOnTheirOwnListener: the public handler has no /metrics (the
// figures name members-only shows); MetricsHandler serves them.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	e := newEnv(t)
	srv := e.serveAgain(&web.Server{})
	e.want(e.do("GET", "/readyz", nil), http.StatusOK, "")
	if r := e.do("GET", "/metrics", nil); r.status != http.StatusNotFound || strings.Contains(string(r.body), "pavilion_") {
		t.Fatalf("GET /metrics on the public handler: %d %.200s", r.status, r.body)
	}
	metrics := httptest.NewServer(web.MetricsHandler(srv.Registry))
	defer metrics.Close()
	res, err := http.Get(metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`pavilion_http_requests_total{code="200",route="GET /readyz"} 1`)) {
		t.Fatalf("metrics listener: %d\n%s", res.StatusCode, body)
	}
	if res, err := http.Get(metrics.URL + "/api/shows"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("the metrics listener serves only /metrics: %v %v", res, err)
	}
}
