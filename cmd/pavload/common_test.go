package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runLoad runs pavload with args and --json, and reads the report back.
func runLoad[R any](t *testing.T, args ...string) (string, *R, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, append(args, "--json", out), &stdout, &stderr)
	t.Log(stdout.String(), stderr.String())
	var rep R
	if b, rerr := os.ReadFile(out); rerr == nil {
		if jerr := json.Unmarshal(b, &rep); jerr != nil {
			t.Fatalf("--json wrote something that is not a report: %v", jerr)
		}
	}
	return stdout.String(), &rep, err
}

func TestScraper(t *testing.T) {
	if s, err := newScraper("", time.Second); s != nil || err != nil {
		t.Fatalf("no --metrics-url: %v %v", s, err)
	}
	for _, bad := range []string{"127.0.0.1:9090/metrics", "ftp://host/metrics", "http:///metrics"} {
		if _, err := newScraper(bad, time.Second); err == nil || !strings.Contains(err.Error(), "--metrics-url") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "go_goroutines 42")
	}))
	defer srv.Close()
	s, err := newScraper(srv.URL+"/metrics", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	m, err := s.scrape(context.Background())
	if err != nil || m.Goroutines != 42 {
		t.Fatalf("scrape: %+v %v", m, err)
	}
	s, _ = newScraper(srv.URL+"/nothing", time.Second)
	if _, err := s.scrape(context.Background()); err == nil {
		t.Fatal("a 404 scraped")
	}
}
