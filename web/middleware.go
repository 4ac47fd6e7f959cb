package web

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/time/rate"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/clientip"
)

func notImplemented(what string) error {
	return apperr.Errorf(apperr.NotImplemented, "%s is not built yet", what)
}

// limitBody caps every request body so one client cannot make the server
// buffer without bound. Handlers see *http.MaxBytesError past the limit.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.MaxBodyBytes
		if s.Images != nil && isImageUpload(r) {
			limit = s.Images.MaxBytes()
		}
		if r.ContentLength > limit {
			s.writeError(w, r, apperr.Errorf(apperr.TooLarge, "request body is larger than %d bytes", limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response carries. Their values are
// built once and shared by every response: Header.Set would canonicalize
// each name and allocate each value on every request (5 of the 69
// allocations of a sold-out tap in BenchmarkReserveSoldOut). Sharing is
// safe because each value is a slice of length and capacity one: Header.Set
// replaces it and Header.Add appends to a copy.
func securityHeaders(next http.Handler) http.Handler {
	fixed := http.Header{}
	fixed.Set("X-Content-Type-Options", "nosniff")
	fixed.Set("Referrer-Policy", "strict-origin-when-cross-origin")
	fixed.Set("X-Frame-Options", "DENY")
	fixed.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' https: data:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	fixed.Set("Permissions-Policy", "camera=(self), microphone=(self)")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range fixed {
			h[k] = v[:1:1]
		}
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status for logs and metrics. It keeps
// http.Flusher and the Hijacker (websockets) reachable through Unwrap.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection to a websocket upgrader (gorilla asserts
// http.Hijacker directly rather than unwrapping).
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.status = http.StatusSwitchingProtocols
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pavilion_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pavilion_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.duration)
	}
	return m
}

// MetricsHandler serves reg's metrics at GET /metrics, for a listener of
// its own (--metrics-addr): the figures name shows, members-only ones too,
// so they never go out on the public port.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// findClient records the client address (behind trusted proxies, the one
// they name) in the request's state: logs, rate limits and analytics read
// it there, through clientAddr or clientip.FromContext.
func (s *Server) findClient(next http.Handler) http.Handler {
	res := &clientip.Resolver{Trusted: s.TrustedProxies}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, r := stateOf(r)
		st.client = res.Client(r)
		next.ServeHTTP(w, r)
	})
}

// observe logs each request and records its metrics under the matched route
// pattern (never the raw path, which would make label values unbounded).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st, r := stateOf(r)
		st.rec = statusRecorder{ResponseWriter: w}
		rec := &st.rec
		next.ServeHTTP(rec, r)
		route := st.route
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		elapsed := time.Since(start)
		if route == "" {
			route = "unmatched"
		}
		s.metrics.requests.WithLabelValues(route, statusLabel(rec.status)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
		if route == "GET /healthz" {
			return
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		// Asked first: the attributes are built before LogAttrs looks at the
		// level, and the client's address costs a string (a stampede's
		// server runs at --log-level warn).
		if !s.logger().Enabled(r.Context(), level) {
			return
		}
		s.logger().LogAttrs(r.Context(), level, "http",
			slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", route),
			slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", elapsed), slog.String("remote", clientAddr(r)))
	})
}

// statusLabels are the status codes as metric label values, made once:
// strconv.Itoa allocates for numbers of three digits.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// clientAddr is the client's IP address (without port), as findClient found it.
func clientAddr(r *http.Request) string { return clientip.String(r) }

// limiter is a per-key token bucket for log-in and sign-up, against password
// guessing. Idle keys are forgotten so the map stays bounded by active clients.
type limiter struct {
	mu      sync.Mutex
	perMin  int
	every   time.Duration
	buckets map[string]*bucket
	swept   time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(perWindow int, window time.Duration) *limiter {
	return &limiter{perMin: perWindow, every: window / time.Duration(perWindow), buckets: map[string]*bucket{}}
}

func (l *limiter) allow(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > 10*time.Minute {
				delete(l.buckets, k)
			}
		}
		l.swept = now
	}
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.perMin)}
		l.buckets[key] = b
	}
	b.seen = now
	return b.lim.AllowN(now, 1)
}

// noAPIRoute answers what no API route takes. The catch-all "/api/" pattern
// would otherwise turn a wrong method into 404; a path that a route serves
// under other methods answers 405 with those methods in Allow (RFC 9110
// §15.5.6), as the mux itself does outside /api.
func (s *Server) noAPIRoute(mux *http.ServeMux) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range []string{http.MethodDelete, http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPatch, http.MethodPost, http.MethodPut} {
			probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" {
				allow = append(allow, m)
			}
		}
		if len(allow) == 0 {
			s.writeError(w, r, apperr.Errorf(apperr.NotFound, "no API route %s %s", r.Method, r.URL.Path))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, apperr.Errorf(apperr.MethodNotAllowed, "%s takes %s, not %s", r.URL.Path, strings.Join(allow, ", "), r.Method))
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz asks every dependency, in parallel, with a short deadline: a load
// balancer must not wait on a hung database.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	results := make(map[string]string, len(s.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for _, c := range s.Checks {
		wg.Go(func() {
			err := c.Ping(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ok = false
				results[c.Name] = "failing"
				s.logger().WarnContext(ctx, "readiness check failed", "check", c.Name, "err", err)
				return
			}
			results[c.Name] = "ok"
		})
	}
	var schema map[string]any
	if s.Schema != nil {
		wg.Go(func() {
			sc, err := s.Schema(ctx)
			mu.Lock()
			defer mu.Unlock()
			schema = s.schemaReport(ctx, sc, err)
			if schema["status"] == "behind" || schema["status"] == "failing" {
				ok = false
			}
		})
	}
	wg.Wait()
	status := http.StatusOK
	body := map[string]any{"status": "ok", "checks": results}
	if schema != nil {
		body["schema"] = schema
	}
	if !ok {
		status = http.StatusServiceUnavailable
		body["status"] = "unavailable"
	}
	writeJSON(w, status, body)
}

// schemaReport is /readyz's "schema": the version applied, the one the
// binary expects, the migrations missing, and a status: ok, behind (not
// ready: requests would fail on missing tables), ahead (a newer binary
// migrated it; ready) or failing (the version could not be read).
func (s *Server) schemaReport(ctx context.Context, sc Schema, err error) map[string]any {
	if err != nil {
		s.logger().WarnContext(ctx, "readiness check failed", "check", "schema", "err", err)
		return map[string]any{"status": "failing"}
	}
	status := "ok"
	switch {
	case len(sc.Pending) > 0 || sc.Version < sc.Expected:
		status = "behind"
		s.logger().WarnContext(ctx, "readiness: the schema is behind this binary", "version", sc.Version, "expected", sc.Expected, "pending", sc.Pending)
	case sc.Version > sc.Expected:
		status = "ahead"
	}
	pending := sc.Pending
	if pending == nil {
		pending = []string{}
	}
	return map[string]any{"status": status, "version": sc.Version, "expected": sc.Expected, "pending": pending}
}

// crossOriginDenied answers a write refused by the cross-origin protection
// in the JSON error shape, and logs why with the headers seen: a reverse
// proxy that rewrites Host (nginx's $host drops the port) is the usual
// cause, and an operator cannot fix what the log does not show.
func (s *Server) crossOriginDenied(cop *http.CrossOriginProtection) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reason := "cross-origin request"
		if err := cop.Check(r); err != nil {
			reason = err.Error()
		}
		s.logger().WarnContext(r.Context(), "cross-origin write refused", "reason", reason,
			"method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "host", r.Host,
			"sec_fetch_site", r.Header.Get("Sec-Fetch-Site"), "remote", clientAddr(r))
		msg := "cross-origin request refused: the Origin does not match the Host this server was reached at"
		if o := r.Header.Get("Origin"); o != "" {
			msg = fmt.Sprintf("cross-origin request refused: Origin %s does not match Host %s (a proxy in front must pass the Host header on as the client sent it)", o, r.Host)
		} else if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
			msg = fmt.Sprintf("cross-origin request refused: the browser says it comes from another site (Sec-Fetch-Site: %s)", site)
		}
		s.writeError(w, r, apperr.Errorf(apperr.Forbidden, "%s", msg))
	})
}
