package stream

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// panicsOf reads pavilion_panics_total{component} from reg.
func panicsOf(t *testing.T, reg *prometheus.Registry, component string) float64 {
	t.Helper()
	n, err := crashguard.Count(reg, component)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestPanicInWHIPOrWHEPAnswers500: a bug reached from a WHIP or WHEP
// request (here in the stream-key check and the viewer check, the seams
// the server is wired through) answers that request 500, is counted, and
// the server publishes and plays the next requests as usual.
func TestPanicInWHIPOrWHEPAnswers500(t *testing.T) {
	reg := prometheus.NewRegistry()
	var nilMap map[string]int
	e := newEnv(t, func(s *Server) {
		s.Metrics = NewMetrics(reg)
		s.Logger = slog.New(slog.DiscardHandler)
		keys := s.Keys
		s.Keys = func(ctx context.Context, id uuid.UUID, key string) (bool, error) {
			if key == "sk_panic" {
				nilMap["key"]++
			}
			return keys(ctx, id, key)
		}
		s.Viewer = func(r *http.Request, _ uuid.UUID) error {
			if r.URL.Query().Has("panic") {
				panic("injected: viewer check")
			}
			return nil
		}
	})
	answer := func(resp *http.Response) (int, string) {
		t.Helper()
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		return resp.StatusCode, strings.TrimSpace(string(b))
	}

	if status, body := answer(e.post("/whip/"+e.show.String(), "sk_panic", "application/sdp", strings.NewReader(validOffer(t, e.api)))); status != http.StatusInternalServerError || body != "internal error" {
		t.Fatalf("WHIP with a panicking key check: %d %q", status, body)
	}
	pub, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP after the panic: %d %s", status, body)
	}
	defer pub.close()

	if status, body := answer(e.post("/whep/"+e.show.String()+"?panic=1", "", "application/sdp", strings.NewReader(validOffer(t, e.api)))); status != http.StatusInternalServerError || body != "internal error" {
		t.Fatalf("WHEP with a panicking viewer check: %d %q", status, body)
	}
	view, status, body := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP after the panic: %d %s", status, body)
	}
	waitFor(t, "video after the panics", 10*time.Second, func() bool { return view.video.count() > 10 })
	if n := panicsOf(t, reg, "stream_http"); n != 2 {
		t.Fatalf("pavilion_panics_total{component=stream_http} = %v; want 2", n)
	}
}

// TestPanicInAViewerWriterEndsThatViewer: a panic on a viewer's writer
// goroutine ends that viewer's session; the show and its other viewers
// carry on.
func TestPanicInAViewerWriterEndsThatViewer(t *testing.T) {
	reg := prometheus.NewRegistry()
	var doomedID atomic.Pointer[string]
	e := newEnv(t, func(s *Server) {
		s.Metrics = NewMetrics(reg)
		s.Logger = slog.New(slog.DiscardHandler)
		s.wrapWriter = func(id string, w rtpWriter) rtpWriter {
			return &hookWriter{w: w, before: func() {
				if p := doomedID.Load(); p != nil && *p == id {
					panic("injected: viewer write")
				}
			}}
		}
	})
	pub, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	defer pub.close()
	doomed, _, _ := e.watch("")
	other, _, _ := e.watch("")
	waitFor(t, "both viewers", 10*time.Second, func() bool { return doomed.video.count() > 10 && other.video.count() > 10 })
	id := doomed.location[strings.LastIndex(doomed.location, "/")+1:]
	doomedID.Store(&id)
	waitFor(t, "the viewer's session to end", 10*time.Second, func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return e.srv.sessions[id] == nil
	})
	n := other.video.count()
	waitFor(t, "the other viewer keeps receiving", 10*time.Second, func() bool { return other.video.count() > n+30 })
	if got := panicsOf(t, reg, "stream_viewer"); got < 1 {
		t.Fatalf("pavilion_panics_total{component=stream_viewer} = %v; want ≥ 1", got)
	}
}
