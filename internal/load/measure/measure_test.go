package measure

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var s Series
	b := NewSampleBudget(1000)
	for i := 100; i >= 1; i-- { // 1..100 ms, recorded out of order
		s.Add(time.Duration(i)*time.Millisecond, b.Take())
	}
	l := s.Latency()
	if l.P50Ms != 50 || l.P90Ms != 90 || l.P99Ms != 99 || l.MaxMs != 100 || l.MeanMs != 50.5 || l.Count != 100 {
		t.Errorf("latency = %+v", l)
	}

	// Past the budget, counts and maxima stay exact.
	small := NewSampleBudget(2)
	r := NewRecorder(small)
	for i := 1; i <= 5; i++ {
		r.Add("x", time.Duration(i)*time.Millisecond)
	}
	l = r.Total().Latency()
	if l.Count != 5 || l.Samples != 2 || l.MaxMs != 5 || l.P99Ms != 2 {
		t.Errorf("budgeted latency = %+v", l)
	}
}

func TestHistogram(t *testing.T) {
	// Bucket bounds are contiguous and each bucket is at most 1/64 of its values wide.
	for i := 1; i < histBuckets; i++ {
		if histLow(i) != histHigh(i-1)+1 {
			t.Fatalf("bucket %d starts at %d, bucket %d ends at %d", i, histLow(i), i-1, histHigh(i-1))
		}
		if histIndex(histLow(i)) != i || histIndex(histHigh(i)) != i {
			t.Fatalf("bucket %d: [%d, %d] indexes to %d, %d", i, histLow(i), histHigh(i), histIndex(histLow(i)), histIndex(histHigh(i)))
		}
		if w := histHigh(i) - histLow(i) + 1; i >= histSub && float64(w)/float64(histLow(i)) > 1.0/64+1e-9 {
			t.Fatalf("bucket %d is %d wide at %d", i, w, histLow(i))
		}
	}
	if histIndex(1<<40) != histBuckets-1 {
		t.Error("a value past the top does not land in the last bucket")
	}

	var h Histogram
	for i := 1; i <= 100_000; i++ { // 1 µs .. 100 ms, uniform
		h.Record(time.Duration(i) * time.Microsecond)
	}
	h.Record(-time.Second) // a clock step: counts as 0
	l := h.Latency()
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.02 }
	if l.Count != 100_001 || !near(l.P50Ms, 50) || !near(l.P90Ms, 90) || !near(l.P99Ms, 99) || !near(l.P999Ms, 99.9) || l.MaxMs != 100 || !near(l.MeanMs, 50) {
		t.Errorf("latency = %+v", l)
	}
	var merged Histogram
	merged.Merge(&h)
	merged.Record(2 * time.Minute)
	if m := merged.Latency(); m.Count != 100_002 || m.MaxMs != 120_000 || !near(m.P50Ms, 50) {
		t.Errorf("merged = %+v", m)
	}
	var empty Histogram
	if e := empty.Latency(); e.Count != 0 || e.P99Ms != 0 {
		t.Errorf("empty = %+v", e)
	}
}

func TestParseMetrics(t *testing.T) {
	m := ParseMetrics([]byte(`# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 5.4321e+07
go_memstats_heap_inuse_bytes 1.2e+07
go_goroutines 42
pavilion_chat_connections{node="a b"} 7
pavilion_chat_connections{node="c"} 3 1700000000000
process_cpu_seconds_total 12.5
`))
	if m.RSSBytes != 54_321_000 || m.HeapInuseBytes != 12e6 || m.Goroutines != 42 || m.ChatConnections != 10 || m.CPUSeconds != 12.5 {
		t.Errorf("parsed %+v", m)
	}
	if strings.Join(m.Missing, ",") != "go_memstats_stack_inuse_bytes,pavilion_chat_dropped_total" {
		t.Errorf("missing = %v", m.Missing)
	}
}

func TestScraper(t *testing.T) {
	if s, err := NewScraper("", time.Second); s != nil || err != nil {
		t.Fatalf("no --metrics-url: %v %v", s, err)
	}
	for _, bad := range []string{"127.0.0.1:9090/metrics", "ftp://host/metrics", "http:///metrics"} {
		if _, err := NewScraper(bad, time.Second); err == nil || !strings.Contains(err.Error(), "--metrics-url") {
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
	s, err := NewScraper(srv.URL+"/metrics", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m, err := s.Scrape(context.Background())
	if err != nil || m.Goroutines != 42 {
		t.Fatalf("scrape: %+v %v", m, err)
	}
	s, _ = NewScraper(srv.URL+"/nothing", time.Second)
	if _, err := s.Scrape(context.Background()); err == nil {
		t.Fatal("a 404 scraped")
	}
}
