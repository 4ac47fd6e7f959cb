package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// inflight tracks the requests being served, so that a shutdown that runs
// out of time (--shutdown-timeout) answers the ones still running with a
// 503 instead of cutting their connections: a client then knows to retry,
// where an empty reply leaves it guessing whether its order went through.
type inflight struct {
	mu   sync.Mutex
	reqs map[*drainWriter]struct{}
}

// track wraps every request's writer and remembers it while it runs.
func (f *inflight) track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &drainWriter{w: w, h: http.Header{}}
		f.mu.Lock()
		if f.reqs == nil {
			f.reqs = map[*drainWriter]struct{}{}
		}
		f.reqs[dw] = struct{}{}
		f.mu.Unlock()
		defer func() {
			f.mu.Lock()
			delete(f.reqs, dw)
			f.mu.Unlock()
			// A take-over wrote to the real writer from the shutdown's
			// goroutine; taking its lock orders those writes before what
			// net/http and the outer middleware do with it next.
			dw.mu.Lock()
			dw.mu.Unlock()
		}()
		next.ServeHTTP(dw, r)
	})
}

// abandon answers 503 to every running request that has not begun its
// answer, and returns how many it answered. Requests whose answer has begun
// (or that became websockets) are left as they are.
func (f *inflight) abandon() int {
	f.mu.Lock()
	reqs := make([]*drainWriter, 0, len(f.reqs))
	for dw := range f.reqs {
		reqs = append(reqs, dw)
	}
	f.mu.Unlock()
	n := 0
	for _, dw := range reqs {
		if dw.takeOver() {
			n++
		}
	}
	return n
}

// drainWriter is a request's writer that the shutdown can take over. The
// handler sets headers on a map of its own, copied to the real writer when
// its answer begins, so a take-over from another goroutine never shares a
// map with it; after a take-over the handler's writes go nowhere.
type drainWriter struct {
	mu    sync.Mutex
	w     http.ResponseWriter
	h     http.Header
	state drainState
}

type drainState int

const (
	drainIdle     drainState = iota // nothing written yet
	drainAnswered                   // the handler's answer has begun
	drainHijacked                   // a websocket took the connection
	drainTaken                      // the shutdown answered 503
)

// errDrained is what a handler's writes return after the shutdown answered.
var errDrained = errors.New("web: the server shut down and answered this request 503")

func (d *drainWriter) Header() http.Header { return d.h }

// begin copies the handler's headers to the real writer; d.mu is held.
func (d *drainWriter) begin() {
	if d.state == drainIdle {
		dst := d.w.Header()
		for k, v := range d.h {
			dst[k] = v
		}
		d.state = drainAnswered
	}
}

func (d *drainWriter) WriteHeader(code int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == drainTaken {
		return
	}
	if code < 200 { // an informational answer: send the headers, stay idle
		dst := d.w.Header()
		for k, v := range d.h {
			dst[k] = v
		}
		d.w.WriteHeader(code)
		return
	}
	d.begin()
	d.w.WriteHeader(code)
}

func (d *drainWriter) Write(b []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == drainTaken {
		return 0, errDrained
	}
	d.begin()
	return d.w.Write(b)
}

// Flush sends what is buffered (http.Flusher, for streamed answers).
func (d *drainWriter) Flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == drainTaken {
		return
	}
	d.begin()
	_ = http.NewResponseController(d.w).Flush()
}

// Hijack hands the connection to a websocket upgrader; the shutdown leaves
// it alone from then on (the live room closes its sockets itself).
func (d *drainWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.state == drainTaken {
		return nil, nil, errDrained
	}
	d.state = drainHijacked
	return http.NewResponseController(d.w).Hijack()
}

// Unwrap keeps deadlines and the rest of http.ResponseController reachable.
func (d *drainWriter) Unwrap() http.ResponseWriter { return d.w }

// takeOver answers 503 if the handler has not begun its answer. It never
// waits on a handler stuck writing to a slow client.
func (d *drainWriter) takeOver() bool {
	if !d.mu.TryLock() {
		return false
	}
	defer d.mu.Unlock()
	if d.state != drainIdle {
		return false
	}
	d.state = drainTaken
	body, _ := json.Marshal(errorBody{Error: errorDetail{Code: apperr.Unavailable,
		Message: "the server is shutting down and this request did not finish in time; retry it (an Idempotency-Key makes a retry safe)"}})
	body = append(body, '\n')
	h := d.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// A length, not chunks: the answer is whole once flushed, even if the
	// process exits while the handler still runs.
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Connection", "close")
	h.Set("Retry-After", "5")
	d.w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = d.w.Write(body)
	_ = http.NewResponseController(d.w).Flush()
	return true
}
