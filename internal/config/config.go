// Package config is Pavilion's one configuration loader: every setting is a
// command-line flag with a PAVILION_* environment fallback and a default that
// works on a fresh machine. Precedence: flag, then environment, then default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
	// The zone database in the binary: --time-zone works on hosts and in
	// images that have none.
	_ "time/tzdata"

	"github.com/pavilion-live/pavilion/internal/clientip"
)

// Config is everything `pavilion serve` can be told.
type Config struct {
	HTTPAddr  string
	MediaPort int
	PublicURL string
	PublicIP  string
	// ICEServerList holds comma-separated STUN/TURN URLs handed to WebRTC
	// clients (ICEServers splits it); TURN ones use TURNUsername and TURNCredential.
	ICEServerList  string
	TURNUsername   string
	TURNCredential string
	// EndGrace is how long a show whose publisher left waits for it to return.
	EndGrace time.Duration
	// NodeURL is where the other nodes reach this one's HTTP listener, for
	// relaying media; ClusterSecret authorizes those relays.
	NodeURL         string
	ClusterSecret   string
	DataDir         string
	DatabaseURL     string
	RedisURL        string
	Migrate         bool
	Demo            bool
	SecureCookies   bool
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	HoldTTL         time.Duration
	DebugAddr       string
	// MetricsAddr is where Prometheus metrics are served, on a listener of
	// their own; empty: not served.
	MetricsAddr string
	// TrustedProxies lists, comma-separated, the CIDR prefixes of the
	// reverse proxies whose X-Forwarded-For / Forwarded headers are believed
	// (ProxyPrefixes parses it).
	TrustedProxies string
	PaymentTimeout time.Duration
	// TimeZone is the platform's IANA time zone: Pavilion Days are its
	// calendar days. Location() loads it.
	TimeZone string

	envErrs []error // PAVILION_* values that did not parse
}

// Store flags are shared by every subcommand that touches data.
func (c *Config) registerStore(fs *flag.FlagSet) {
	str(fs, &c.DataDir, "data-dir", "PAVILION_DATA_DIR", "./data", "directory for the embedded SQLite database (used when no database URL is set)")
	str(fs, &c.DatabaseURL, "database-url", "PAVILION_DATABASE_URL", "", "PostgreSQL URL (cluster mode), e.g. postgres://user:pass@host:5432/pavilion")
}

// RegisterStore adds the data flags to fs (for migrate, user and demo).
func (c *Config) RegisterStore(fs *flag.FlagSet) {
	c.registerStore(fs)
	str(fs, &c.PublicURL, "public-url", "PAVILION_PUBLIC_URL", "", "public base URL of the server, for the URLs printed (default http://localhost plus the --http port)")
	str(fs, &c.HTTPAddr, "http", "PAVILION_HTTP", ":8080", "HTTP listen address (used to derive the public URL)")
	str(fs, &c.LogLevel, "log-level", "PAVILION_LOG_LEVEL", "info", "log level: debug, info, warn or error")
}

// RegisterServe adds every serve flag to fs.
func (c *Config) RegisterServe(fs *flag.FlagSet) {
	c.RegisterStore(fs)
	c.num(fs, &c.MediaPort, "media-port", "PAVILION_MEDIA_PORT", 8189, "UDP and TCP port for WebRTC media (ICE mux)")
	str(fs, &c.PublicIP, "public-ip", "PAVILION_PUBLIC_IP", "", "public IP(s), comma-separated, announced in ICE candidates instead of the host's own when behind a 1:1 NAT")
	str(fs, &c.ICEServerList, "ice-servers", "PAVILION_ICE_SERVERS", "", "STUN/TURN server URLs, comma-separated, handed to WebRTC clients (e.g. stun:stun.example.com:3478,turn:turn.example.com:3478?transport=udp)")
	str(fs, &c.TURNUsername, "turn-username", "PAVILION_TURN_USERNAME", "", "username for the turn: servers in --ice-servers")
	str(fs, &c.TURNCredential, "turn-credential", "PAVILION_TURN_CREDENTIAL", "", "credential (password) for the turn: servers in --ice-servers")
	str(fs, &c.NodeURL, "node-url", "PAVILION_NODE_URL", "", "cluster mode: this node's URL as the other nodes reach it, e.g. http://10.0.0.5:8080 (default http://<public-ip or 127.0.0.1>:<http port>)")
	str(fs, &c.ClusterSecret, "cluster-secret", "PAVILION_CLUSTER_SECRET", "", "cluster mode: a secret shared by the nodes that lets them relay shows from each other (at least 16 characters; without it each node serves only the shows published on it)")
	c.dur(fs, &c.EndGrace, "end-grace", "PAVILION_END_GRACE", 30*time.Second, "how long a show whose publisher left waits for it to come back before it ends")
	str(fs, &c.RedisURL, "redis-url", "PAVILION_REDIS_URL", "", "Redis URL (cluster mode bus), e.g. redis://host:6379/0")
	c.boolean(fs, &c.Migrate, "migrate", "PAVILION_MIGRATE", true, "apply database migrations on start (--migrate=false to leave the schema alone)")
	c.boolean(fs, &c.Demo, "demo", "PAVILION_DEMO", false, "seed the demo brand, accounts, products and show on start (idempotent)")
	c.boolean(fs, &c.SecureCookies, "secure-cookies", "PAVILION_SECURE_COOKIES", false, "mark session cookies Secure (on when --public-url is https)")
	str(fs, &c.DebugAddr, "debug-addr", "PAVILION_DEBUG_ADDR", "", "if set, serve Go's pprof profiles on this address (keep it private, e.g. 127.0.0.1:6060)")
	str(fs, &c.MetricsAddr, "metrics-addr", "PAVILION_METRICS_ADDR", "", "if set, serve Prometheus metrics at /metrics on this address, a listener of their own (keep it private, e.g. 127.0.0.1:9090 or :9090 on a monitoring network); never on the public --http port")
	str(fs, &c.TrustedProxies, "trusted-proxies", "PAVILION_TRUSTED_PROXIES", "", "CIDR prefixes (or addresses) of your reverse proxies, comma-separated, e.g. 10.0.0.0/8,fd00::/8: only requests from them may name the client in X-Forwarded-For or Forwarded; rate limits, logs and analytics then use that client address")
	str(fs, &c.LogFormat, "log-format", "PAVILION_LOG_FORMAT", "text", "log format: text or json")
	c.dur(fs, &c.HoldTTL, "hold", "PAVILION_HOLD", 10*time.Minute, "how long a reservation holds stock when its show sets no time (1s to 1h)")
	c.dur(fs, &c.PaymentTimeout, "payment-timeout", "PAVILION_PAYMENT_TIMEOUT", 10*time.Second, "how long a charge may take before its order waits, pending, for reconciliation")
	str(fs, &c.TimeZone, "time-zone", "PAVILION_TIME_ZONE", "UTC", "the platform's IANA time zone, e.g. Asia/Shanghai: a Pavilion Day is one calendar day in it")
	c.dur(fs, &c.ShutdownTimeout, "shutdown-timeout", "PAVILION_SHUTDOWN_TIMEOUT", 20*time.Second, "how long a graceful shutdown waits for requests to finish")
}

// Check validates values that flag parsing cannot.
func (c *Config) Check() error {
	if len(c.envErrs) > 0 {
		return fmt.Errorf("bad environment: %w", errors.Join(c.envErrs...))
	}
	if c.MediaPort < 0 || c.MediaPort > 65535 {
		return fmt.Errorf("--media-port %d is not a port number", c.MediaPort)
	}
	if c.HoldTTL != 0 && (c.HoldTTL < time.Second || c.HoldTTL > time.Hour) {
		return fmt.Errorf("--hold must be from 1s to 1h, not %s", c.HoldTTL)
	}
	if c.PaymentTimeout < 0 || c.PaymentTimeout > 2*time.Minute {
		return fmt.Errorf("--payment-timeout must be at most 2m, not %s", c.PaymentTimeout)
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	if _, err := c.Location(); err != nil {
		return err
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
	}
	for _, ip := range c.PublicIPs() {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("--public-ip %q is not an IP address", ip)
		}
	}
	for _, u := range c.ICEServers() {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return fmt.Errorf("--ice-servers: %q is not a stun:, stuns:, turn: or turns: URL", u)
		}
	}
	if c.ClusterSecret != "" && len(c.ClusterSecret) < 16 {
		return errors.New("--cluster-secret must be at least 16 characters")
	}
	if c.NodeURL != "" && !strings.HasPrefix(c.NodeURL, "http://") && !strings.HasPrefix(c.NodeURL, "https://") {
		return fmt.Errorf("--node-url %q must be an http:// or https:// URL", c.NodeURL)
	}
	if _, err := c.ProxyPrefixes(); err != nil {
		return err
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			return fmt.Errorf("--metrics-addr %q is not a host:port address such as 127.0.0.1:9090 or :9090", c.MetricsAddr)
		}
		if c.MetricsAddr == c.HTTPAddr {
			return fmt.Errorf("--metrics-addr must not be the public --http address %s", c.HTTPAddr)
		}
	}
	if c.EndGrace < 0 || c.EndGrace > time.Hour {
		return fmt.Errorf("--end-grace must be from 0 to 1h, not %s", c.EndGrace)
	}
	if strings.HasPrefix(c.PublicURL, "https://") {
		c.SecureCookies = true
	}
	return nil
}

// ProxyPrefixes parses --trusted-proxies; a bad entry is an error naming it.
func (c *Config) ProxyPrefixes() ([]netip.Prefix, error) {
	p, err := clientip.ParseTrusted(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return p, nil
}

// PublicIPs splits --public-ip.
func (c *Config) PublicIPs() []string { return splitList(c.PublicIP) }

// ICEServers splits --ice-servers.
func (c *Config) ICEServers() []string { return splitList(c.ICEServerList) }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Level parses LogLevel.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return l, nil
}

// Location loads TimeZone; "" is UTC.
func (c *Config) Location() (*time.Location, error) {
	if c.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("--time-zone %q is not an IANA time zone such as Asia/Shanghai", c.TimeZone)
	}
	return loc, nil
}

// BaseURL is PublicURL, or http://localhost on the HTTP port.
func (c *Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	host, port, ok := strings.Cut(c.HTTPAddr, ":")
	if !ok {
		return "http://" + c.HTTPAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" || host == "[::]" {
		host = "localhost"
	}
	return "http://" + host + ":" + port
}

func usage(help, env string) string { return fmt.Sprintf("%s (env %s)", help, env) }

func str(fs *flag.FlagSet, p *string, name, env, def, help string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	fs.StringVar(p, name, def, usage(help, env))
}

// envValue registers a typed flag whose default comes from env when env holds
// a value that parses; a value that does not parse is reported by Check.
func envValue[T any](c *Config, fs *flag.FlagSet, p *T, name, env string, def T, help string, parse func(string) (T, error), define func(*T, string, T, string)) {
	if v, ok := os.LookupEnv(env); ok {
		if x, err := parse(v); err == nil {
			def = x
		} else {
			c.envErrs = append(c.envErrs, fmt.Errorf("%s=%q: %w", env, v, err))
		}
	}
	define(p, name, def, usage(help, env))
}

func (c *Config) num(fs *flag.FlagSet, p *int, name, env string, def int, help string) {
	envValue(c, fs, p, name, env, def, help, strconv.Atoi, fs.IntVar)
}

func (c *Config) boolean(fs *flag.FlagSet, p *bool, name, env string, def bool, help string) {
	envValue(c, fs, p, name, env, def, help, strconv.ParseBool, fs.BoolVar)
}

func (c *Config) dur(fs *flag.FlagSet, p *time.Duration, name, env string, def time.Duration, help string) {
	envValue(c, fs, p, name, env, def, help, time.ParseDuration, fs.DurationVar)
}
