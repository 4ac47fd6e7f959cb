package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/web"
)

// A request still running when the shutdown gives up gets a whole 503 in
// the JSON error shape, not a cut connection; the handler's late answer
// goes nowhere.
func TestAbandonInFlightAnswers503(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &web.Server{Logger: slog.New(slog.DiscardHandler), Checks: []web.Check{{Name: "slow", Ping: func(context.Context) error {
		close(entered)
		<-release // ignores its deadline: a handler stuck beyond the shutdown timeout
		return nil
	}}}}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer close(release)

	type answer struct {
		status int
		header http.Header
		body   []byte
		err    error
	}
	got := make(chan answer, 1)
	go func() {
		res, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		got <- answer{res.StatusCode, res.Header, b, err}
	}()
	<-entered
	if n := srv.AbandonInFlight(); n != 1 {
		t.Fatalf("AbandonInFlight answered %d requests, want 1", n)
	}
	select {
	case a := <-got:
		if a.err != nil {
			t.Fatalf("the client got no whole answer: %v", a.err)
		}
		var e struct {
			Error struct{ Code, Message string }
		}
		if a.status != http.StatusServiceUnavailable || json.Unmarshal(a.body, &e) != nil || e.Error.Code != "unavailable" || a.header.Get("Retry-After") == "" {
			t.Fatalf("answer = %d %v %s", a.status, a.header, a.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer while the handler still runs")
	}
	// Nothing left to answer: the request is taken already.
	if n := srv.AbandonInFlight(); n != 0 {
		t.Fatalf("a second AbandonInFlight answered %d", n)
	}
}

// A write refused by the cross-origin protection answers the JSON error
// and the log says why, with the headers seen.
func TestCrossOriginRefusalExplained(t *testing.T) {
	var logs bytes.Buffer
	srv := &web.Server{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	req, _ := http.NewRequest("POST", ts.URL+"/api/auth/logout", strings.NewReader("{}"))
	req.Header.Set("Origin", "https://live.example.com")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil || res.StatusCode != 403 || e.Error.Code != "forbidden" ||
		!strings.Contains(e.Error.Message, "https://live.example.com") || !strings.Contains(e.Error.Message, req.URL.Host) {
		t.Fatalf("answer = %d %+v (%v)", res.StatusCode, e, err)
	}
	var rec map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == "cross-origin write refused" {
			rec = r
		}
	}
	if rec == nil || rec["origin"] != "https://live.example.com" || rec["host"] != req.URL.Host || rec["reason"] == "" {
		t.Fatalf("no explained refusal in the log:\n%s", logs.String())
	}
}
