package web_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/crashguard"
	"github.com/pavilion-live/pavilion/web"
)

// TestDropCloseOnPlainOfferOverHTTP: closing a "drop" on an offer that is
// not a flash drop used to panic in the handler (an empty reply); it is a
// conflict in the JSON error shape, and the offer is untouched.
func TestDropCloseOnPlainOfferOverHTTP(t *testing.T) {
	e := newEnv(t)
	path := "/api/shows/" + e.creds.ShowID + "/drops"
	for _, tok := range []string{e.creds.HostToken, e.creds.BrandAdminToken, e.creds.AdminToken} {
		r := e.do("POST", path, map[string]any{"offer_id": e.bagOffer(), "action": "close"}, bearer(tok))
		e.want(r, http.StatusConflict, "conflict")
	}
	o := e.do("GET", "/api/shows/"+e.creds.ShowID, nil).json(t)["show"].(map[string]any)["offers"].([]any)[0].(map[string]any)
	if o["id"] != e.bagOffer() || o["drop"] != false || o["drop_closes_at"] != nil {
		t.Fatalf("the plain offer after the refused closes: %v", o)
	}
}

// panickingMedia is a media server with bugs: WHEP panics before it
// answers, WHIP after it began to.
type panickingMedia struct{ web.Media } // Publisher and TakeOver are never called

func (panickingMedia) Delete(http.ResponseWriter, *http.Request)  {}
func (panickingMedia) Patch(http.ResponseWriter, *http.Request)   {}
func (panickingMedia) Options(http.ResponseWriter, *http.Request) {}
func (panickingMedia) Layer(http.ResponseWriter, *http.Request)   {}

func (panickingMedia) WHEP(http.ResponseWriter, *http.Request) {
	var m map[string]int
	m["boom"]++
}

func (panickingMedia) WHIP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/sdp")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, "v=0\r\n")
	w.(http.Flusher).Flush()
	panic("injected after the answer began")
}

// hijackingLive panics after taking over the connection, as a websocket
// upgrade gone wrong would.
type hijackingLive struct{ web.LiveRoom } // only ServeHTTP and Pin are called

func (hijackingLive) Pin(context.Context, *account.User, uuid.UUID, uuid.UUID) error { return nil }

func (hijackingLive) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_ = c // never closed here: the bug
	panic("injected after the hijack")
}

// TestPanickingHandlerAnswers500: a handler's panic is answered with a 500
// in the JSON error shape (net/http alone would drop the connection),
// logged, counted, and the server serves on.
func TestPanickingHandlerAnswers500(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := &web.Server{Live: hijackingLive{}, Media: panickingMedia{}, Registry: reg, Logger: slog.New(slog.DiscardHandler)}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	show := uuid.NewString()

	res, err := http.Post(hs.URL+"/whep/"+show, "application/sdp", strings.NewReader("v=0\r\n"))
	if err != nil {
		t.Fatalf("a panicking handler: %v (an empty reply)", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	r := resp{res.StatusCode, res.Header, body}
	if r.status != http.StatusInternalServerError || r.errCode(t) != "internal" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("answer = %d %v %s", r.status, r.header, r.body)
	}
	if r.json(t)["error"].(map[string]any)["message"] != "internal error" {
		t.Fatalf("the message says more than it should: %s", r.body)
	}

	// An answer that had begun is cut short, never passed off as whole.
	res, err = http.Post(hs.URL+"/whip/"+show, "application/sdp", strings.NewReader("v=0\r\n"))
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Fatal("a response cut short by a panic read as complete")
	}

	// A hijacked connection is closed, not leaked.
	c, err := net.Dial("tcp", strings.TrimPrefix(hs.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "GET /ws/shows/"+show+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(c).ReadByte(); err != io.EOF {
		t.Fatalf("the hijacked connection after the panic: %v; want it closed (EOF)", err)
	}

	if n := panicsOf(t, reg, "http"); n != 3 {
		t.Fatalf("pavilion_panics_total{component=http} = %v; want 3", n)
	}
	// The server serves on.
	if res, err := http.Get(hs.URL + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz after the panics: %v %v", res, err)
	}
}

// panicsOf reads pavilion_panics_total{component} from reg.
func panicsOf(t *testing.T, reg *prometheus.Registry, component string) float64 {
	t.Helper()
	n, err := crashguard.Count(reg, component)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
