package measure

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ServerMetrics is one reading of the server's Prometheus /metrics: the
// figures the chat run reports about the server's own costs.
type ServerMetrics struct {
	At               time.Time `json:"at"`
	RSSBytes         float64   `json:"process_resident_memory_bytes"`
	HeapInuseBytes   float64   `json:"go_memstats_heap_inuse_bytes"`
	StackInuseBytes  float64   `json:"go_memstats_stack_inuse_bytes"`
	Goroutines       float64   `json:"go_goroutines"`
	CPUSeconds       float64   `json:"process_cpu_seconds_total"`
	ChatConnections  float64   `json:"pavilion_chat_connections"`
	ChatDroppedTotal float64   `json:"pavilion_chat_dropped_total"`
	Missing          []string  `json:"missing,omitempty"` // metrics the server did not export
	// The media server's, read by pavload whep (not listed in Missing:
	// a chat run's server may have no show on air).
	StreamSkips        float64 `json:"pavilion_stream_viewer_skips_total"`
	StreamIngestVideo  float64 `json:"pavilion_stream_ingest_video_bytes_total"` // kind="video", every show
	StreamEgressBytes  float64 `json:"pavilion_stream_egress_bytes_total"`
	StreamViewers      float64 `json:"pavilion_stream_viewers"`
	StreamRetransmits  float64 `json:"pavilion_stream_retransmits_total"`
	StreamKeyframeReqs float64 `json:"pavilion_stream_keyframe_requests_total"`
}

// streamField maps a media metric (and, for a labelled one, the label it
// must carry) to its field.
func (m *ServerMetrics) streamField(name, labels string) *float64 {
	switch name {
	case "pavilion_stream_viewer_skips_total":
		return &m.StreamSkips
	case "pavilion_stream_ingest_bytes_total":
		if strings.Contains(labels, `kind="video"`) {
			return &m.StreamIngestVideo
		}
	case "pavilion_stream_egress_bytes_total":
		return &m.StreamEgressBytes
	case "pavilion_stream_viewers":
		return &m.StreamViewers
	case "pavilion_stream_retransmits_total":
		return &m.StreamRetransmits
	case "pavilion_stream_keyframe_requests_total":
		return &m.StreamKeyframeReqs
	}
	return nil
}

// metricNames maps the exported names to the fields above.
func (m *ServerMetrics) fields() map[string]*float64 {
	return map[string]*float64{
		"process_resident_memory_bytes": &m.RSSBytes,
		"go_memstats_heap_inuse_bytes":  &m.HeapInuseBytes,
		"go_memstats_stack_inuse_bytes": &m.StackInuseBytes,
		"go_goroutines":                 &m.Goroutines,
		"process_cpu_seconds_total":     &m.CPUSeconds,
		"pavilion_chat_connections":     &m.ChatConnections,
		"pavilion_chat_dropped_total":   &m.ChatDroppedTotal,
	}
}

// NoMetricsURL is reported when the run reads none of the server's figures.
const NoMetricsURL = "no --metrics-url: the server's own figures were not read (start it with --metrics-addr)"

// Scraper reads the server's Prometheus metrics from its own listener
// (pavilion serve --metrics-addr): they are not on the public port.
type Scraper struct {
	url string
	hc  *http.Client
}

// NewScraper reads metricsURL (nil without one: the server's figures are
// then not read); timeout bounds each scrape.
func NewScraper(metricsURL string, timeout time.Duration) (*Scraper, error) {
	if metricsURL == "" {
		return nil, nil
	}
	u, err := url.Parse(metricsURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--metrics-url %q must be an http:// or https:// URL, e.g. http://127.0.0.1:9090/metrics", metricsURL)
	}
	// No proxy from the environment: the listener is private to the machine
	// or the monitoring network.
	return &Scraper{url: metricsURL, hc: &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil}}}, nil
}

func (s *Scraper) Close() {
	if s != nil {
		s.hc.CloseIdleConnections()
	}
}

// Scrape reads the metrics once.
func (s *Scraper) Scrape(ctx context.Context) (*ServerMetrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	res, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", s.url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", s.url, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", s.url, res.StatusCode)
	}
	return ParseMetrics(body), nil
}

// ParseMetrics reads the Prometheus text format: for each wanted metric, the
// sum of its samples (the ones here have no labels, or one series).
func ParseMetrics(body []byte) *ServerMetrics {
	m := &ServerMetrics{At: time.Now().UTC()}
	want := m.fields()
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		labels := ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Labels may hold spaces: the value follows the closing brace.
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			name, labels, rest, ok = line[:i], line[i:j+1], strings.TrimSpace(line[j+1:]), true
		}
		p := want[name]
		if p == nil {
			p = m.streamField(name, labels)
		}
		if !ok || p == nil {
			continue
		}
		val, _, _ := strings.Cut(strings.TrimSpace(rest), " ") // a timestamp may follow
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		*p += f
		seen[name] = true
	}
	for name := range want {
		if !seen[name] {
			m.Missing = append(m.Missing, name)
		}
	}
	slices.Sort(m.Missing)
	return m
}
