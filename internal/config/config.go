// Package config is Pavilion's one configuration loader: every setting is a
// command-line flag with a PAVILION_* environment fallback and a default that
// works on a fresh machine. Precedence: flag, then environment, then default.
package config

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is everything `pavilion serve` can be told.
type Config struct {
	HTTPAddr        string
	MediaPort       int
	PublicURL       string
	PublicIP        string
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
	PaymentTimeout  time.Duration

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
	str(fs, &c.PublicIP, "public-ip", "PAVILION_PUBLIC_IP", "", "public IP to announce in ICE candidates when behind 1:1 NAT")
	str(fs, &c.RedisURL, "redis-url", "PAVILION_REDIS_URL", "", "Redis URL (cluster mode bus), e.g. redis://host:6379/0")
	c.boolean(fs, &c.Migrate, "migrate", "PAVILION_MIGRATE", true, "apply database migrations on start (--migrate=false to leave the schema alone)")
	c.boolean(fs, &c.Demo, "demo", "PAVILION_DEMO", false, "seed the demo brand, accounts, products and show on start (idempotent)")
	c.boolean(fs, &c.SecureCookies, "secure-cookies", "PAVILION_SECURE_COOKIES", false, "mark session cookies Secure (on when --public-url is https)")
	str(fs, &c.DebugAddr, "debug-addr", "PAVILION_DEBUG_ADDR", "", "if set, serve Go's pprof profiles on this address (keep it private, e.g. 127.0.0.1:6060)")
	str(fs, &c.LogFormat, "log-format", "PAVILION_LOG_FORMAT", "text", "log format: text or json")
	c.dur(fs, &c.HoldTTL, "hold", "PAVILION_HOLD", 10*time.Minute, "how long a reservation holds stock when its show sets no time (1s to 1h)")
	c.dur(fs, &c.PaymentTimeout, "payment-timeout", "PAVILION_PAYMENT_TIMEOUT", 10*time.Second, "how long a charge may take before its order waits, pending, for reconciliation")
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
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
	}
	if strings.HasPrefix(c.PublicURL, "https://") {
		c.SecureCookies = true
	}
	return nil
}

// Level parses LogLevel.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return l, nil
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
