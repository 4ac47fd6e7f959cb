package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args ...string) (*Config, error) {
	t.Helper()
	var c Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterServe(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &c, c.Check()
}

func TestDefaults(t *testing.T) {
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.MediaPort != 8189 || c.RelayFanout != 4 || c.DataDir != "./data" || !c.Migrate || c.Demo || c.ShutdownTimeout != 20*time.Second {
		t.Fatalf("defaults = %+v", c)
	}
	if got := c.BaseURL(); got != "http://localhost:8080" {
		t.Fatalf("BaseURL = %q", got)
	}
}

func TestPrecedence(t *testing.T) {
	t.Setenv("PAVILION_HTTP", "127.0.0.1:9000")
	t.Setenv("PAVILION_MIGRATE", "false")
	t.Setenv("PAVILION_SHUTDOWN_TIMEOUT", "5s")
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9000" || c.Migrate || c.ShutdownTimeout != 5*time.Second {
		t.Fatalf("environment not applied: %+v", c)
	}
	c, err = parse(t, "--http", ":7000", "--migrate=true")
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":7000" || !c.Migrate {
		t.Fatalf("flags must win over the environment: %+v", c)
	}
}

func TestBadValues(t *testing.T) {
	t.Setenv("PAVILION_MEDIA_PORT", "many")
	if _, err := parse(t); err == nil || !strings.Contains(err.Error(), "PAVILION_MEDIA_PORT") {
		t.Fatalf("bad env value: %v", err)
	}
	t.Setenv("PAVILION_MEDIA_PORT", "8189")
	if _, err := parse(t, "--log-level", "loud"); err == nil {
		t.Fatal("bad log level accepted")
	}
	if _, err := parse(t, "--media-port", "70000"); err == nil {
		t.Fatal("bad port accepted")
	}
	for _, n := range []string{"-1", "65"} {
		if _, err := parse(t, "--relay-fanout", n); err == nil || !strings.Contains(err.Error(), "--relay-fanout") {
			t.Errorf("--relay-fanout %s: %v, want an error naming the flag", n, err)
		}
	}
	t.Setenv("PAVILION_RELAY_FANOUT", "2")
	if c, err := parse(t); err != nil || c.RelayFanout != 2 {
		t.Errorf("PAVILION_RELAY_FANOUT=2: %v, %v", c, err)
	}
	c, err := parse(t, "--public-url", "https://live.example.com/")
	if err != nil || !c.SecureCookies || c.BaseURL() != "https://live.example.com" {
		t.Fatalf("https public URL: %+v %v", c, err)
	}
}

func TestTimeZone(t *testing.T) {
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if loc, err := c.Location(); err != nil || loc != time.UTC || c.TimeZone != "UTC" {
		t.Fatalf("default zone = %q %v %v", c.TimeZone, loc, err)
	}
	t.Setenv("PAVILION_TIME_ZONE", "Asia/Shanghai")
	c, err = parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if loc, err := c.Location(); err != nil || loc.String() != "Asia/Shanghai" {
		t.Fatalf("zone from the environment = %v %v", loc, err)
	}
	if _, err := parse(t, "--time-zone", "Mars/Olympus"); err == nil || !strings.Contains(err.Error(), "--time-zone") {
		t.Fatalf("unknown zone: %v", err)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := c.ProxyPrefixes(); len(p) != 0 {
		t.Fatalf("trusted proxies by default: %v", p)
	}
	t.Setenv("PAVILION_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8,127.0.0.1")
	c, err = parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := c.ProxyPrefixes(); len(p) != 3 || p[2].String() != "127.0.0.1/32" {
		t.Fatalf("ProxyPrefixes = %v", p)
	}
	_, err = parse(t, "--trusted-proxies", "10.0.0.0/8,10.1.2.0/40")
	if err == nil || !strings.Contains(err.Error(), "--trusted-proxies") || !strings.Contains(err.Error(), "10.1.2.0/40") {
		t.Fatalf("a bad CIDR must be a startup error naming it: %v", err)
	}
}

func TestMetricsAddr(t *testing.T) {
	c, err := parse(t)
	if err != nil || c.MetricsAddr != "" {
		t.Fatalf("metrics must be off by default: %q %v", c.MetricsAddr, err)
	}
	t.Setenv("PAVILION_METRICS_ADDR", "127.0.0.1:9090")
	if c, err = parse(t); err != nil || c.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("PAVILION_METRICS_ADDR: %q %v", c.MetricsAddr, err)
	}
	for _, bad := range [][]string{{"--metrics-addr", "9090"}, {"--metrics-addr", ":8080"}} {
		if _, err := parse(t, bad...); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// Errors name what the operator set: the variable when the value came from
// the environment, the flag when it was on the command line.
func TestErrorsNameTheSource(t *testing.T) {
	t.Setenv("PAVILION_MEDIA_PORT", "70000")
	if _, err := parse(t); err == nil || !strings.Contains(err.Error(), "PAVILION_MEDIA_PORT 70000 is not a port number") {
		t.Fatalf("from the environment: %v", err)
	}
	if _, err := parse(t, "--media-port", "70001"); err == nil || !strings.Contains(err.Error(), "--media-port 70001") {
		t.Fatalf("from the flag: %v", err)
	}
	t.Setenv("PAVILION_MEDIA_PORT", "")
	t.Setenv("PAVILION_PUBLIC_URL", "notaurl")
	if _, err := parse(t); err == nil || !strings.Contains(err.Error(), "PAVILION_PUBLIC_URL") {
		t.Fatalf("a public URL that is not a URL: %v", err)
	}
	for _, bad := range []string{"live.example.com", "https://", "https://x.example/?a=1", "ftp://x.example"} {
		if _, err := parse(t, "--public-url", bad); err == nil || !strings.Contains(err.Error(), "--public-url") {
			t.Errorf("--public-url %q: %v", bad, err)
		}
	}
	if _, err := parse(t, "--public-url", "https://live.example.com/"); err != nil {
		t.Fatal(err)
	}
}

// An empty store flag (an unset variable passed on) is an error, an empty
// variable counts as unset, and Redis without a ledger URL is refused.
func TestStoreSettings(t *testing.T) {
	if _, err := parse(t, "--database-url", ""); err == nil || !strings.Contains(err.Error(), "--database-url is empty") {
		t.Fatalf("empty --database-url: %v", err)
	}
	if _, err := parse(t, "--redis-url", ""); err == nil || !strings.Contains(err.Error(), "--redis-url is empty") {
		t.Fatalf("empty --redis-url: %v", err)
	}
	t.Setenv("PAVILION_DATABASE_URL", "")
	if c, err := parse(t); err != nil || c.DatabaseURL != "" {
		t.Fatalf("an empty variable: %v", err)
	}
	if _, err := parse(t, "--redis-url", "redis://127.0.0.1:6379/0"); err == nil || !strings.Contains(err.Error(), "needs --database-url") {
		t.Fatalf("Redis without a database: %v", err)
	}
	if _, err := parse(t, "--redis-url", "redis://127.0.0.1:6379/0", "--database-url", "postgres://db/pavilion"); err != nil {
		t.Fatal(err)
	}
	if _, err := parse(t, "--media-addr", "not-an-ip"); err == nil || !strings.Contains(err.Error(), "--media-addr") {
		t.Fatalf("--media-addr: %v", err)
	}
}

// TestBaseURL: the address the server prints is one a person can open: a
// listener on every interface (":8080", or "[::]:8080" as the kernel names
// it once listening) is http://localhost, never http://[::].
func TestBaseURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":            "http://localhost:8080",
		"[::]:8080":        "http://localhost:8080",
		"0.0.0.0:8080":     "http://localhost:8080",
		"127.0.0.1:9000":   "http://127.0.0.1:9000",
		"[::1]:8080":       "http://[::1]:8080",
		"192.168.1.23:80":  "http://192.168.1.23:80",
		"live.example:443": "http://live.example:443",
	} {
		c := &Config{HTTPAddr: addr}
		if got := c.BaseURL(); got != want {
			t.Errorf("HTTPAddr %q: BaseURL = %q, want %q", addr, got, want)
		}
	}
}

func TestChatRetention(t *testing.T) {
	c, err := parse(t)
	if err != nil || c.ChatRetention != 90*24*time.Hour {
		t.Fatalf("default = %v, %v", c.ChatRetention, err)
	}
	for _, v := range []string{"0", "1h", "720h"} {
		if _, err := parse(t, "--chat-retention", v); err != nil {
			t.Errorf("--chat-retention %s: %v", v, err)
		}
	}
	if _, err := parse(t, "--chat-retention", "30m"); err == nil || !strings.Contains(err.Error(), "--chat-retention") {
		t.Errorf("--chat-retention 30m: %v", err)
	}
	t.Setenv("PAVILION_CHAT_RETENTION", "-1h")
	if _, err := parse(t); err == nil || !strings.Contains(err.Error(), "PAVILION_CHAT_RETENTION") {
		t.Errorf("PAVILION_CHAT_RETENTION=-1h: %v", err)
	}
}

func TestRecordings(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		dir, bucket string
	}{
		{nil, "data/recordings", ""},
		{[]string{"--recordings", "off"}, "", ""},
		{[]string{"--recordings", "/srv/rec"}, "/srv/rec", ""},
		{[]string{"--recordings", "s3://replays/eu"}, "data/recordings", "s3://replays/eu"},
		{[]string{"--recordings", "s3://replays", "--recordings-spool", "/spool"}, "/spool", "s3://replays"},
	} {
		c, err := parse(t, append([]string{"--data-dir", "data"}, tc.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if got := c.RecordingsDir(); got != tc.dir {
			t.Errorf("%v: directory %q, want %q", tc.args, got, tc.dir)
		}
		if got := c.RecordingsBucket(); got != tc.bucket {
			t.Errorf("%v: bucket %q, want %q", tc.args, got, tc.bucket)
		}
	}
	if _, err := parse(t, "--recordings", "https://replays.example/x"); err == nil {
		t.Error("an http:// --recordings was accepted")
	}
}
