package main

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeAddr returns a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestServeMetricsListener: /metrics is served on --metrics-addr only,
// never on the public port, and the process still stops cleanly.
func TestServeMetricsListener(t *testing.T) {
	metrics := freeAddr(t)
	cmd, base, stderr := startServer(t, t.TempDir(), "--metrics-addr", metrics)
	if code, _ := get(t, base+"/readyz", ""); code != 200 {
		t.Fatalf("readyz = %d", code)
	}
	if code, body := get(t, base+"/metrics", ""); code != 404 || strings.Contains(string(body), "pavilion_") {
		t.Fatalf("public /metrics = %d %.200s", code, body)
	}
	code, body := get(t, "http://"+metrics+"/metrics", "")
	if code != 200 || !strings.Contains(string(body), `pavilion_http_requests_total{code="200",route="GET /readyz"}`) || !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("metrics listener = %d\n%.500s", code, body)
	}
	stopCleanly(t, cmd, stderr)
	if _, err := net.DialTimeout("tcp", metrics, time.Second); err == nil {
		t.Fatal("the metrics listener outlived the process")
	}
}

// TestServeNoMetricsByDefault: without --metrics-addr there is no /metrics.
func TestServeNoMetricsByDefault(t *testing.T) {
	_, base, _ := startServer(t, t.TempDir())
	if code, _ := get(t, base+"/metrics", ""); code != 404 {
		t.Fatalf("public /metrics = %d", code)
	}
}

func TestServeBadTrustedProxies(t *testing.T) {
	_, err := runCLI(t, "", "serve", "--data-dir", filepath.Join(t.TempDir(), "d"), "--trusted-proxies", "10.0.0.0/8,192.168.0.0/33")
	if err == nil || !strings.Contains(err.Error(), "192.168.0.0/33") {
		t.Fatalf("a bad CIDR must stop the server, naming it: %v", err)
	}
}
