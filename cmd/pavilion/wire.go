package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/config"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/images"
	"github.com/pavilion-live/pavilion/internal/memory"
	"github.com/pavilion-live/pavilion/internal/postgres"
	"github.com/pavilion-live/pavilion/internal/redis"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/sqlite"
	"github.com/pavilion-live/pavilion/stream"
)

// database is what both store drivers provide: every domain store plus the
// operator's handles.
type database interface {
	account.Store
	brand.Store
	show.Store
	checkout.Store
	checkout.Ledger
	chat.Store
	analytics.Store
	images.Store
	Migrate(ctx context.Context) error
	Version(ctx context.Context) (int64, error)
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ database = (*sqlite.DB)(nil)
	_ database = (*postgres.DB)(nil)
)

// openDatabase picks PostgreSQL when a URL is configured, else the embedded
// SQLite file under the data directory.
func openDatabase(ctx context.Context, cfg *config.Config) (database, string, error) {
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL)
		return db, "postgres", err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, "", fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "pavilion.db")
	db, err := sqlite.Open(ctx, path)
	return db, "sqlite " + path, err
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
func openHot(ctx context.Context, cfg *config.Config) (*hot, error) {
	if cfg.RedisURL == "" {
		bus := memory.NewBus()
		return &hot{bus: bus, gate: memory.NewGate(), dir: memory.NewDirectory(), name: "in-process", close: func() { bus.Close() }}, nil
	}
	client, err := redis.Open(ctx, cfg.RedisURL)
	if err != nil {
		return nil, err
	}
	bus := redis.NewBus(client, "pavilion:")
	gate := redis.NewGate(client, "pavilion:")
	return &hot{bus: bus, gate: gate, dir: redis.NewDirectory(client, "pavilion:"), name: "redis", close: func() {
		gate.Close()
		bus.Close()
		client.Close()
	}}, nil
}

// openData opens (and, when asked, migrates) the database for a one-shot command.
func openData(ctx context.Context, cfg *config.Config, migrate bool) (database, error) {
	db, _, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("migrate: %w", err)
		}
	}
	return db, nil
}

func accountService(db database) *account.Service {
	return &account.Service{Store: db}
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
