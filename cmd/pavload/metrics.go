package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// serverMetrics is one reading of the server's Prometheus /metrics: the
// figures the chat run reports about the server's own costs.
type serverMetrics struct {
	At               time.Time `json:"at"`
	RSSBytes         float64   `json:"process_resident_memory_bytes"`
	HeapInuseBytes   float64   `json:"go_memstats_heap_inuse_bytes"`
	StackInuseBytes  float64   `json:"go_memstats_stack_inuse_bytes"`
	Goroutines       float64   `json:"go_goroutines"`
	CPUSeconds       float64   `json:"process_cpu_seconds_total"`
	ChatConnections  float64   `json:"pavilion_chat_connections"`
	ChatDroppedTotal float64   `json:"pavilion_chat_dropped_total"`
	Missing          []string  `json:"missing,omitempty"` // metrics the server did not export
}

// metricNames maps the exported names to the fields above.
func (m *serverMetrics) fields() map[string]*float64 {
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

// scrapeMetrics reads GET /metrics (public, no token).
func scrapeMetrics(ctx context.Context, c *client) (*serverMetrics, error) {
	r, err := c.do(ctx, http.MethodGet, "/metrics", "", "", nil)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	if r.status != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %d", r.status)
	}
	return parseMetrics(r.body), nil
}

// parseMetrics reads the Prometheus text format: for each wanted metric, the
// sum of its samples (the ones here have no labels, or one series).
func parseMetrics(body []byte) *serverMetrics {
	m := &serverMetrics{At: time.Now().UTC()}
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
		if i := strings.IndexByte(name, '{'); i >= 0 {
			// Labels may hold spaces: the value follows the closing brace.
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			name, rest, ok = line[:i], strings.TrimSpace(line[j+1:]), true
		}
		p := want[name]
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
