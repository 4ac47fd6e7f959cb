package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/config"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/postgres"
	"github.com/pavilion-live/pavilion/internal/driver/redis"
	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
	"github.com/pavilion-live/pavilion/internal/images"
	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/wallet"
	"github.com/pavilion-live/pavilion/stream"
	"github.com/pavilion-live/pavilion/web"
)

// database is what both store drivers provide: every domain store plus the
// operator's handles.
type database interface {
	account.Store
	account.ChangeLog
	brand.Store
	show.Store
	checkout.Store
	checkout.Ledger
	checkout.DrawStore
	checkout.CouponStore
	chat.Store
	chat.Archive
	analytics.Store
	images.Store
	wallet.Store
	brand.Follows
	replay.Store
	// Cohosts keeps shows' guests and stages.
	Cohosts() cohost.Store
	Migrate(ctx context.Context) error
	Version(ctx context.Context) (int64, error)
	// Pending lists the migrations of this binary the schema lacks.
	Pending(ctx context.Context) ([]string, error)
	// Latest is the version of the newest migration this binary carries.
	Latest() (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ database = (*sqlite.DB)(nil)
	_ database = (*postgres.DB)(nil)
)

// openDatabase picks PostgreSQL when a URL is configured, else the embedded
// SQLite file under the data directory. The second result names the store
// for the operator (driver, host, database; never the password).
func openDatabase(ctx context.Context, cfg *config.Config) (database, string, error) {
	name, err := describeStore(cfg)
	if err != nil {
		return nil, "", err
	}
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, name, fmt.Errorf("%s: %w", name, err)
		}
		return db, name, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("data directory: %w", err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "pavilion.db"))
	return db, name, err
}

// describeStore names the store cfg points at: "postgres host db:5432
// database pavilion user pavilion" or "sqlite /abs/path/pavilion.db".
func describeStore(cfg *config.Config) (string, error) {
	if cfg.DatabaseURL != "" {
		pc, err := pgconn.ParseConfig(cfg.DatabaseURL)
		if err != nil {
			// pgconn's message leaves the password out.
			return "", fmt.Errorf("--database-url: %w", err)
		}
		return fmt.Sprintf("postgres host %s database %s user %s", net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))), pc.Database, pc.User), nil
	}
	path := filepath.Join(cfg.DataDir, "pavilion.db")
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return "sqlite " + path, nil
}

// hot is the fast shared state between nodes: the live-room bus and the
// stock gate. Redis when configured, else in-process.
type hot struct {
	bus   chat.Bus
	gate  checkout.Gate
	dir   stream.Directory // which node publishes which show
	name  string
	close func()
}

// openHot picks Redis when a URL is configured, else the in-process bus and gate.
func openHot(ctx context.Context, cfg *config.Config, log *slog.Logger) (*hot, error) {
	if cfg.RedisURL == "" {
		bus := memory.NewBus()
		return &hot{bus: bus, gate: memory.NewGate(), dir: memory.NewDirectory(), name: "in-process", close: func() { bus.Close() }}, nil
	}
	redis.SetLogger(log)
	client, err := redis.Open(ctx, cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	if redis.IsCluster(client) {
		log.Info("redis is a cluster: rooms on sharded pub/sub, each offer's gate on its own slot")
	}
	bus := redis.NewBus(client, "pavilion:")
	gate := redis.NewGate(client, "pavilion:")
	return &hot{bus: bus, gate: gate, dir: redis.NewDirectory(client, "pavilion:"), name: "redis", close: func() {
		gate.Close()
		bus.Close()
		client.Close()
	}}, nil
}

// openData opens and migrates the database for a one-shot command, and
// tells the operator which store it is (on w): a command run against the
// wrong store must say so, not quietly succeed.
func openData(ctx context.Context, cfg *config.Config, w io.Writer) (database, error) {
	db, name, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "store: %s\n", name)
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate %s: %w", name, err)
	}
	return db, nil
}

// checkSchema refuses a schema older than the binary: a node on it would
// answer every request with a 500.
func checkSchema(ctx context.Context, db database, storeName string) error {
	pending, err := db.Pending(ctx)
	if err != nil {
		return fmt.Errorf("schema of %s: %w", storeName, err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("the schema of %s is behind this binary: %d migration(s) not applied (%s); run `pavilion migrate` with the same store flags, or start without --migrate=false",
			storeName, len(pending), strings.Join(pending, ", "))
	}
	return nil
}

// schemaOf reads the schema's version and what this binary expects of it.
func schemaOf(ctx context.Context, db database) (web.Schema, error) {
	var sc web.Schema
	var err error
	if sc.Expected, err = db.Latest(); err != nil {
		return sc, err
	}
	if sc.Version, err = db.Version(ctx); err != nil {
		return sc, err
	}
	sc.Pending, err = db.Pending(ctx)
	return sc, err
}

// accountService is the account service of a serving node and of the
// command line alike. Only a serving node reads the change log
// (FollowChanges); until it does, cached credentials keep the short TTL.
func accountService(db database) *account.Service {
	return &account.Service{Store: db, Changes: db}
}

func demoDeps(db database, accounts *account.Service) demo.Deps {
	return demo.Deps{Accounts: accounts, Brands: db, Shows: db, Catalog: db, Images: &images.Service{Store: db}}
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	level, _ := cfg.Level()
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// cohostBus is the live room's bus as the co-host service sees it (its
// Subscription is the bus's, under cohost's name).
type cohostBus struct{ chat.Bus }

func (b cohostBus) Subscribe(ctx context.Context, channel string) (cohost.Subscription, error) {
	return b.Bus.Subscribe(ctx, channel)
}

// runCohosts carries guest removals from other nodes until ctx ends,
// subscribing again after a bus failure.
func runCohosts(ctx context.Context, log *slog.Logger, guests *cohost.Service) {
	for ctx.Err() == nil {
		if err := guests.Run(ctx); err != nil {
			log.Warn("cohost: listening for removals", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
