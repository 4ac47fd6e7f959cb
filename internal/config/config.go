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
	"net/url"
	"os"
	"path/filepath"
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
	NodeURL       string
	ClusterSecret string
	// RelayFanout is how many other nodes this one feeds per show
	// (default stream.DefaultRelayFanout).
	RelayFanout     int
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
	// ChatRetention is how long chat lines stay in the database; 0: for ever.
	ChatRetention time.Duration
	// Recordings is the directory shows are recorded into (RecordingsDir
	// resolves the default), or an S3-compatible bucket (s3://bucket/prefix,
	// RecordingsBucket); "off" records nothing.
	Recordings string
	// RecordingsSpool is where recordings are written before they go to
	// the bucket (RecordingsDir resolves the default).
	RecordingsSpool string
	// S3Endpoint and S3Region: the S3-compatible service of an s3://
	// --recordings (credentials come from the environment).
	S3Endpoint, S3Region string
	DebugAddr            string
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

	// MediaAddr is the IP address the media port binds; empty: every interface.
	MediaAddr string

	envErrs []error // PAVILION_* values that did not parse
	// fs and envs name a setting the way the operator gave it: the flag when
	// it was on the command line, else its PAVILION_* variable when that is
	// set (see source).
	fs   *flag.FlagSet
	envs map[string]string
}

// Store flags are shared by every subcommand that touches data.
func (c *Config) registerStore(fs *flag.FlagSet) {
	c.fs = fs
	c.str(fs, &c.DataDir, "data-dir", "PAVILION_DATA_DIR", "./data", "directory for the embedded SQLite database (used when no database URL is set)")
	c.str(fs, &c.DatabaseURL, "database-url", "PAVILION_DATABASE_URL", "", "PostgreSQL URL (cluster mode), e.g. postgres://user:pass@host:5432/pavilion; an empty --database-url is an error (an empty variable counts as unset)")
}

// RegisterStore adds the data flags to fs (for migrate, user and demo).
func (c *Config) RegisterStore(fs *flag.FlagSet) {
	c.registerStore(fs)
	c.str(fs, &c.PublicURL, "public-url", "PAVILION_PUBLIC_URL", "", "public base URL of the server, for the URLs printed (default http://localhost plus the --http port)")
	c.str(fs, &c.HTTPAddr, "http", "PAVILION_HTTP", ":8080", "HTTP listen address (used to derive the public URL)")
	c.str(fs, &c.LogLevel, "log-level", "PAVILION_LOG_LEVEL", "info", "log level: debug, info, warn or error")
}

// RegisterRedis adds --redis-url to fs (serve and gate reset).
func (c *Config) RegisterRedis(fs *flag.FlagSet) {
	c.str(fs, &c.RedisURL, "redis-url", "PAVILION_REDIS_URL", "", "Redis URL (cluster mode bus and stock gate), e.g. redis://host:6379/0, or a Redis Cluster as several addresses, redis://h1:7000,h2:7001,h3:7002; needs --database-url")
}

// RegisterServe adds every serve flag to fs.
func (c *Config) RegisterServe(fs *flag.FlagSet) {
	c.RegisterStore(fs)
	c.num(fs, &c.MediaPort, "media-port", "PAVILION_MEDIA_PORT", 8189, "UDP and TCP port for WebRTC media (ICE mux)")
	c.str(fs, &c.PublicIP, "public-ip", "PAVILION_PUBLIC_IP", "", "public IP(s), comma-separated, announced in ICE candidates instead of the host's own when behind a 1:1 NAT")
	c.str(fs, &c.ICEServerList, "ice-servers", "PAVILION_ICE_SERVERS", "", "STUN/TURN server URLs, comma-separated, handed to WebRTC clients (e.g. stun:stun.example.com:3478,turn:turn.example.com:3478?transport=udp)")
	c.str(fs, &c.TURNUsername, "turn-username", "PAVILION_TURN_USERNAME", "", "username for the turn: servers in --ice-servers")
	c.str(fs, &c.TURNCredential, "turn-credential", "PAVILION_TURN_CREDENTIAL", "", "credential (password) for the turn: servers in --ice-servers")
	c.str(fs, &c.NodeURL, "node-url", "PAVILION_NODE_URL", "", "cluster mode: this node's URL as the other nodes reach it, e.g. http://10.0.0.5:8080 (default http://<public-ip or 127.0.0.1>:<http port>)")
	c.str(fs, &c.ClusterSecret, "cluster-secret", "PAVILION_CLUSTER_SECRET", "", "cluster mode: a secret shared by the nodes that lets them relay shows from each other (at least 16 characters; without it each node serves only the shows published on it)")
	c.num(fs, &c.RelayFanout, "relay-fanout", "PAVILION_RELAY_FANOUT", 4, "cluster mode: how many other nodes this node feeds each show to (its children in the show's relay tree); 1 to 64; a node with no room sends newcomers down the tree")
	c.dur(fs, &c.EndGrace, "end-grace", "PAVILION_END_GRACE", 30*time.Second, "how long a show whose publisher left waits for it to come back before it ends")
	c.RegisterRedis(fs)
	c.str(fs, &c.MediaAddr, "media-addr", "PAVILION_MEDIA_ADDR", "", "IP address the media port binds (default every interface; e.g. 127.0.0.1 for a node only this machine reaches)")
	c.boolean(fs, &c.Migrate, "migrate", "PAVILION_MIGRATE", true, "apply database migrations on start (--migrate=false to leave the schema alone)")
	c.boolean(fs, &c.Demo, "demo", "PAVILION_DEMO", false, "seed the demo brand, accounts, products and show on start (idempotent)")
	c.boolean(fs, &c.SecureCookies, "secure-cookies", "PAVILION_SECURE_COOKIES", false, "mark session cookies Secure (on when --public-url is https)")
	c.str(fs, &c.DebugAddr, "debug-addr", "PAVILION_DEBUG_ADDR", "", "if set, serve Go's pprof profiles on this address (keep it private, e.g. 127.0.0.1:6060)")
	c.str(fs, &c.MetricsAddr, "metrics-addr", "PAVILION_METRICS_ADDR", "", "if set, serve Prometheus metrics at /metrics on this address, a listener of their own (keep it private, e.g. 127.0.0.1:9090 or :9090 on a monitoring network); never on the public --http port")
	c.str(fs, &c.TrustedProxies, "trusted-proxies", "PAVILION_TRUSTED_PROXIES", "", "CIDR prefixes (or addresses) of your reverse proxies, comma-separated, e.g. 10.0.0.0/8,fd00::/8: only requests from them may name the client in X-Forwarded-For or Forwarded; rate limits, logs and analytics then use that client address")
	c.str(fs, &c.LogFormat, "log-format", "PAVILION_LOG_FORMAT", "text", "log format: text or json")
	c.dur(fs, &c.HoldTTL, "hold", "PAVILION_HOLD", 10*time.Minute, "how long a reservation holds stock when its show sets no time (1s to 1h)")
	c.str(fs, &c.Recordings, "recordings", "PAVILION_RECORDINGS", "", "where shows are recorded, for their replays: a directory (default <data-dir>/recordings; in cluster mode a volume the nodes share), or an S3-compatible bucket, s3://bucket/prefix (see --s3-endpoint; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); off records nothing")
	c.str(fs, &c.RecordingsSpool, "recordings-spool", "PAVILION_RECORDINGS_SPOOL", "", "with an s3:// --recordings: the directory recordings are written in until they are complete and stored in the bucket (default <data-dir>/recordings)")
	c.str(fs, &c.S3Endpoint, "s3-endpoint", "PAVILION_S3_ENDPOINT", "https://s3.amazonaws.com", "the S3-compatible service of an s3:// --recordings, e.g. https://s3.eu-west-3.amazonaws.com or http://127.0.0.1:7070")
	c.str(fs, &c.S3Region, "s3-region", "PAVILION_S3_REGION", "", "the region of an s3:// --recordings bucket, when the service wants it named")
	c.dur(fs, &c.ChatRetention, "chat-retention", "PAVILION_CHAT_RETENTION", 90*24*time.Hour, "how long chat lines are kept in the database, e.g. 720h; 0 keeps them for ever")
	c.dur(fs, &c.PaymentTimeout, "payment-timeout", "PAVILION_PAYMENT_TIMEOUT", 10*time.Second, "how long a charge may take before its order waits, pending, for reconciliation")
	c.str(fs, &c.TimeZone, "time-zone", "PAVILION_TIME_ZONE", "UTC", "the platform's IANA time zone, e.g. Asia/Shanghai: a Pavilion Day is one calendar day in it")
	c.dur(fs, &c.ShutdownTimeout, "shutdown-timeout", "PAVILION_SHUTDOWN_TIMEOUT", 20*time.Second, "how long a graceful shutdown waits for requests to finish")
}

// Check validates values that flag parsing cannot.
func (c *Config) Check() error {
	if len(c.envErrs) > 0 {
		return fmt.Errorf("bad environment: %w", errors.Join(c.envErrs...))
	}
	if err := c.checkStore(); err != nil {
		return err
	}
	if c.MediaPort < 0 || c.MediaPort > 65535 {
		return fmt.Errorf("%s %d is not a port number", c.source("media-port"), c.MediaPort)
	}
	if c.MediaAddr != "" && net.ParseIP(c.MediaAddr) == nil {
		return fmt.Errorf("%s %q is not an IP address", c.source("media-addr"), c.MediaAddr)
	}
	if c.HoldTTL != 0 && (c.HoldTTL < time.Second || c.HoldTTL > time.Hour) {
		return fmt.Errorf("%s must be from 1s to 1h, not %s", c.source("hold"), c.HoldTTL)
	}
	if c.PaymentTimeout < 0 || c.PaymentTimeout > 2*time.Minute {
		return fmt.Errorf("%s must be at most 2m, not %s", c.source("payment-timeout"), c.PaymentTimeout)
	}
	if c.ChatRetention < 0 || (c.ChatRetention > 0 && c.ChatRetention < time.Hour) {
		return fmt.Errorf("%s must be 0 (keep for ever) or at least 1h, not %s", c.source("chat-retention"), c.ChatRetention)
	}
	if c.ShutdownTimeout < 0 {
		return fmt.Errorf("%s must not be negative, not %s", c.source("shutdown-timeout"), c.ShutdownTimeout)
	}
	if _, err := c.Level(); err != nil {
		return err
	}
	if _, err := c.Location(); err != nil {
		return err
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("%s must be text or json, not %q", c.source("log-format"), c.LogFormat)
	}
	for _, ip := range c.PublicIPs() {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("%s %q is not an IP address", c.source("public-ip"), ip)
		}
	}
	for _, u := range c.ICEServers() {
		if !strings.HasPrefix(u, "stun:") && !strings.HasPrefix(u, "stuns:") && !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return fmt.Errorf("%s: %q is not a stun:, stuns:, turn: or turns: URL", c.source("ice-servers"), u)
		}
	}
	// 0 is what commands without the flag hold: the default applies.
	if c.RelayFanout < 0 || c.RelayFanout > 64 {
		return fmt.Errorf("%s %d: a node feeds from 1 to 64 others", c.source("relay-fanout"), c.RelayFanout)
	}
	if c.ClusterSecret != "" && len(c.ClusterSecret) < 16 {
		return fmt.Errorf("%s must be at least 16 characters", c.source("cluster-secret"))
	}
	if err := c.checkURL("node-url", c.NodeURL); err != nil {
		return err
	}
	if err := c.checkURL("public-url", c.PublicURL); err != nil {
		return err
	}
	if _, err := c.ProxyPrefixes(); err != nil {
		return err
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			return fmt.Errorf("%s %q is not a host:port address such as 127.0.0.1:9090 or :9090", c.source("metrics-addr"), c.MetricsAddr)
		}
		if c.MetricsAddr == c.HTTPAddr {
			return fmt.Errorf("%s must not be the public --http address %s", c.source("metrics-addr"), c.HTTPAddr)
		}
	}
	if strings.Contains(c.Recordings, "://") && !strings.HasPrefix(c.Recordings, "s3://") {
		return fmt.Errorf("%s %q: give a directory or an s3://bucket/prefix", c.source("recordings"), c.Recordings)
	}
	if c.EndGrace < 0 || c.EndGrace > time.Hour {
		return fmt.Errorf("%s must be from 0 to 1h, not %s", c.source("end-grace"), c.EndGrace)
	}
	if strings.HasPrefix(c.PublicURL, "https://") {
		c.SecureCookies = true
	}
	return nil
}

// RecordingsDir is where shows are recorded: --recordings, by default a
// directory under --data-dir; with a bucket, the spool it is written in
// first; "" when recording is off.
func (c *Config) RecordingsDir() string {
	switch {
	case c.Recordings == "off":
		return ""
	case c.RecordingsBucket() != "" && c.RecordingsSpool != "":
		return c.RecordingsSpool
	case c.Recordings == "" || c.RecordingsBucket() != "":
		return filepath.Join(c.DataDir, "recordings")
	}
	return c.Recordings
}

// RecordingsBucket is the s3:// address of --recordings, "" for a directory.
func (c *Config) RecordingsBucket() string {
	if strings.HasPrefix(c.Recordings, "s3://") {
		return c.Recordings
	}
	return ""
}

// ProxyPrefixes parses --trusted-proxies; a bad entry is an error naming it.
func (c *Config) ProxyPrefixes() ([]netip.Prefix, error) {
	p, err := clientip.ParseTrusted(c.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.source("trusted-proxies"), err)
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
		return 0, fmt.Errorf("%s must be debug, info, warn or error, not %q", c.source("log-level"), c.LogLevel)
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
		return nil, fmt.Errorf("%s %q is not an IANA time zone such as Asia/Shanghai", c.source("time-zone"), c.TimeZone)
	}
	return loc, nil
}

// BaseURL is PublicURL, or the HTTP address as a URL a person can open on
// this machine: http://localhost when it listens on every interface.
func (c *Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return "http://" + c.HTTPAddr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func usage(help, env string) string { return fmt.Sprintf("%s (env %s)", help, env) }

func (c *Config) str(fs *flag.FlagSet, p *string, name, env, def, help string) {
	c.noteEnv(name, env)
	// An empty variable counts as unset: `PAVILION_X=` in an env file or
	// `${X:-}` in a compose file means "not configured".
	if v := os.Getenv(env); v != "" {
		def = v
	}
	fs.StringVar(p, name, def, usage(help, env))
}

func (c *Config) noteEnv(name, env string) {
	if c.envs == nil {
		c.envs = map[string]string{}
	}
	c.envs[name] = env
}

// given reports whether the flag was on the command line.
func (c *Config) given(name string) bool {
	found := false
	if c.fs != nil {
		c.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	}
	return found
}

// source names a setting the way the operator gave it: "--media-port" when
// the flag was on the command line, "PAVILION_MEDIA_PORT" when the value
// came from that variable. An error then points at what to change.
func (c *Config) source(name string) string {
	if !c.given(name) {
		if env, ok := c.envs[name]; ok {
			if v, set := os.LookupEnv(env); set && v != "" {
				return env
			}
		}
	}
	return "--" + name
}

// checkStore refuses the store settings that would silently put data
// somewhere the operator did not mean.
func (c *Config) checkStore() error {
	// `--database-url "$PAVILION_DATABASE_URL"` with the variable unset
	// would otherwise migrate, and create accounts in, a SQLite file.
	if c.given("database-url") && c.DatabaseURL == "" {
		return errors.New("--database-url is empty (is the variable you passed unset?); leave the flag out to use the embedded SQLite file under --data-dir")
	}
	if c.given("redis-url") && c.RedisURL == "" {
		return errors.New("--redis-url is empty (is the variable you passed unset?); leave the flag out to run with the in-process bus")
	}
	if c.DatabaseURL != "" && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") && !strings.Contains(c.DatabaseURL, "=") {
		return fmt.Errorf("%s must be a postgres:// or postgresql:// URL (or a key=value connection string)", c.source("database-url"))
	}
	if c.RedisURL != "" {
		if !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") && !strings.HasPrefix(c.RedisURL, "unix://") {
			return fmt.Errorf("%s must be a redis://, rediss:// or unix:// URL", c.source("redis-url"))
		}
		// Nodes sharing Redis share the stock gate and the live room; one on
		// its own SQLite ledger would sell units the others never see.
		if c.DatabaseURL == "" {
			return fmt.Errorf("%s needs --database-url (PAVILION_DATABASE_URL): nodes that share Redis must share one PostgreSQL ledger, not each keep a SQLite file", c.source("redis-url"))
		}
	}
	return nil
}

// checkURL requires an absolute http:// or https:// URL with a host and
// no query or fragment (empty is fine: the setting is optional).
func (c *Config) checkURL(name, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%s %q must be an absolute http:// or https:// URL such as https://live.example.com", c.source(name), v)
	}
	return nil
}

// envValue registers a typed flag whose default comes from env when env holds
// a value that parses; a value that does not parse is reported by Check.
func envValue[T any](c *Config, fs *flag.FlagSet, p *T, name, env string, def T, help string, parse func(string) (T, error), define func(*T, string, T, string)) {
	c.noteEnv(name, env)
	if v := os.Getenv(env); v != "" {
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
