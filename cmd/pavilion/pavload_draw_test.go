package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/internal/load/drawload"
	"github.com/pavilion-live/pavilion/internal/load/loadtest"
)

// drawRun is the part of `pavload draw`'s JSON report the test reads.
type drawRun struct {
	Enter struct {
		Entered int `json:"entered"`
	} `json:"enter"`
	Close struct {
		Viewers int `json:"viewers"`
		Got     int `json:"got"`
		Nodes   []struct {
			Viewers int `json:"viewers"`
			Got     int `json:"got"`
		} `json:"nodes"`
	} `json:"close"`
	Verify struct {
		Pass    bool `json:"pass"`
		Winners int  `json:"winners"`
		Checks  []struct {
			Name   string `json:"name"`
			Result string `json:"result"`
		} `json:"checks"`
	} `json:"verify"`
}

func (r *drawRun) failed() []string {
	var out []string
	for _, c := range r.Verify.Checks {
		if c.Result != "PASS" {
			out = append(out, c.Name)
		}
	}
	return out
}

// TestPavloadDraw is `pavload draw` against a real server, small: 300
// entrants, 10 units, 20 viewers spread over two base URLs of the server.
// The result verifies; then the same run through a proxy that swaps two
// winners in the published record fails the verifier's check.
func TestPavloadDraw(t *testing.T) {
	dir := t.TempDir()
	_, base, _ := startServer(t, dir, "--demo", "--hold", "10m")
	demo := func(public string) string {
		out, err := runCLI(t, "", "demo", "--json", "--data-dir", dir, "--public-url", public)
		if err != nil {
			t.Fatalf("demo --json: %v\n%s", err, out)
		}
		p := filepath.Join(t.TempDir(), "demo.json")
		if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	args := []string{"--entries", "300", "--units", "10", "--viewers", "20", "--create-workers", "8", "--entry-workers", "16"}

	// Two URLs of one server stand for two nodes: the round-robin is exercised.
	alias := strings.Replace(base, "127.0.0.1", "localhost", 1)
	out, rep, err := loadtest.Run[drawRun](t, drawload.Run, append([]string{"--demo", demo(base), "--nodes", base + "," + alias}, args...)...)
	if err != nil || !rep.Verify.Pass || !strings.Contains(out, "\nPASS\n") {
		t.Fatalf("pavload draw: %v; failed checks %v", err, rep.failed())
	}
	if rep.Enter.Entered != 300 || rep.Verify.Winners != 10 || rep.Close.Viewers != 20 || rep.Close.Got != 20 {
		t.Fatalf("entered %d, winners %d, viewers %d of which %d got the result; want 300, 10, 20, 20",
			rep.Enter.Entered, rep.Verify.Winners, rep.Close.Viewers, rep.Close.Got)
	}
	if n := rep.Close.Nodes; len(n) != 2 || n[0].Viewers != 10 || n[1].Viewers != 10 || n[0].Got != 10 || n[1].Got != 10 {
		t.Fatalf("viewers per node: %+v, want 10 on each of the 2, each with the result", n)
	}

	// A proxy that publishes a tampered record: the first two winners swapped.
	target, _ := url.Parse(base)
	record := regexp.MustCompile(`^/api/shows/[^/]+/draws/[^/]+$`)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method != http.MethodGet || !record.MatchString(r.Request.URL.Path) || r.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		_ = r.Body.Close()
		var doc map[string]map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return err
		}
		if w, ok := doc["draw"]["winners"].([]any); ok && len(w) > 1 {
			w[0], w[1] = w[1], w[0]
		}
		if b, err = json.Marshal(doc); err != nil {
			return err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	front := httptest.NewServer(proxy)
	t.Cleanup(front.Close)
	out, rep, err = loadtest.Run[drawRun](t, drawload.Run, append([]string{"--demo", demo(front.URL)}, args...)...)
	if err == nil || !strings.Contains(err.Error(), "verification failed") || rep.Verify.Pass || !strings.Contains(out, "\nFAIL\n") {
		t.Fatalf("a tampered record passed: %v\n%s", err, out)
	}
	failed := strings.Join(rep.failed(), ", ")
	for _, want := range []string{"the verifier agrees", "the close answered the same result", "viewers saw the published winners"} {
		if !strings.Contains(failed, want) {
			t.Errorf("the check %q did not fail on a swapped pair of winners (failed: %s)", want, failed)
		}
	}
	if strings.Contains(failed, "winners = units exactly") || strings.Contains(failed, "every viewer got the result") {
		t.Errorf("checks that a swap leaves true failed too: %s", failed)
	}
}
