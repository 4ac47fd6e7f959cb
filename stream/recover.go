package stream

import (
	"net/http"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// A panic in code that serves one publisher or viewer (its HTTP request,
// pion's callbacks for its connection, its writer and RTCP reader, the
// timers it starts) ends that session only: it is logged with its stack,
// counted (pavilion_panics_total, internal/crashguard), answered with 500
// when an HTTP answer is still possible, and the session is ended. The
// server serves on.

// panics is the server's guard, made on first use.
func (s *Server) panics() *crashguard.Guard {
	s.guardOnce.Do(func() {
		var base *crashguard.Guard
		if s.Metrics != nil {
			base = s.Metrics.panics
		}
		s.guard = base.WithLogger(s.log())
	})
	return s.guard
}

// guardRequest wraps a handler's writer; the handler defers done, which
// answers a panic with 500 when no answer has begun, and cuts the answer
// short when one has (a client must not take half an answer for a whole).
func (s *Server) guardRequest(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func()) {
	pw := &panicWriter{ResponseWriter: w}
	return pw, func() {
		p := recover()
		if p == nil {
			return
		}
		if p == http.ErrAbortHandler {
			panic(p)
		}
		s.panics().Recovered("stream_http", p, "method", r.Method, "path", r.URL.Path)
		if pw.wrote {
			panic(http.ErrAbortHandler)
		}
		httpError(w, http.StatusInternalServerError, "internal error")
	}
}

// panicWriter remembers whether an answer has begun.
type panicWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *panicWriter) WriteHeader(code int) {
	if code >= 200 {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *panicWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *panicWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// endOnPanic, deferred directly in a goroutine or callback that serves ss,
// ends ss after a panic there. The end runs on a tracked goroutine of its
// own: ending closes the PeerConnection, which must not happen from inside
// pion's callbacks.
func (s *Server) endOnPanic(component string, ss session, id string) {
	if p := recover(); p != nil {
		s.panics().Recovered(component, p, "show", ss.showID(), "session", id)
		s.goTracked(func() { ss.end("internal error") })
	}
}
