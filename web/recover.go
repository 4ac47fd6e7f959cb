package web

import (
	"bufio"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// recoverPanics keeps a handler's panic to its own request. net/http would
// recover it too, but by dropping the connection: the client got an empty
// reply, and nobody counted it. Here the panic is logged with its stack and
// counted (pavilion_panics_total{component="http"}), and the client gets a
// 500 in the JSON error shape; the server serves on.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	var reg prometheus.Registerer
	if s.Registry != nil {
		reg = s.Registry
	}
	guard := crashguard.New(reg, s.logger())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &panicWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // the handler chose to abort its response: net/http's way, not a bug
			}
			guard.Recovered("http", p, "method", r.Method, "path", r.URL.Path)
			switch {
			case pw.conn != nil:
				// Hijacked (a websocket): no HTTP answer is possible, and
				// nobody else will close the connection.
				_ = pw.conn.Close()
			case pw.wrote:
				// The answer had begun: cut it short rather than let half an
				// answer pass for a whole one.
				panic(http.ErrAbortHandler)
			default:
				writeJSON(w, http.StatusInternalServerError, errorBody{Error: errorDetail{Code: apperr.Internal, Message: "internal error"}})
			}
		}()
		next.ServeHTTP(pw, r)
	})
}

// panicWriter remembers whether an answer has begun, and the connection a
// websocket took over, for recoverPanics. Flush and the rest stay reachable
// through Unwrap (http.ResponseController).
type panicWriter struct {
	http.ResponseWriter
	wrote bool
	conn  net.Conn
}

func (w *panicWriter) WriteHeader(code int) {
	if code >= 200 { // 1xx answers are not the answer
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *panicWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *panicWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the connection to a websocket upgrader (gorilla asserts
// http.Hijacker directly rather than unwrapping).
func (w *panicWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil {
		w.conn = c
	}
	return c, rw, err
}
