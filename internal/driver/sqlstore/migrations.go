package sqlstore

import (
	"context"
	"fmt"
	"path"

	"github.com/pressly/goose/v3"
)

// Migrations runs a driver's embedded goose migrations.
type Migrations struct {
	// Driver names the driver in errors ("sqlite", "postgres").
	Driver string
	// Provider returns a provider over the driver's database and what
	// releases it when done (a provider of its own connection is closed, one
	// sharing the driver's is not).
	Provider func() (p *goose.Provider, release func() error, err error)
}

// with runs fn on a provider and releases it; errors are "<driver>: <op>: …".
func (m Migrations) with(op string, fn func(p *goose.Provider) error) error {
	p, release, err := m.Provider()
	if err != nil {
		return fmt.Errorf("%s: %s: %w", m.Driver, op, err)
	}
	err = fn(p)
	if rerr := release(); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("%s: %s: %w", m.Driver, op, err)
	}
	return nil
}

// Up applies every pending migration.
func (m Migrations) Up(ctx context.Context) error {
	return m.with("migrate", func(p *goose.Provider) error {
		_, err := p.Up(ctx)
		return err
	})
}

// Version reports the latest migration applied to the database, 0 when none is.
func (m Migrations) Version(ctx context.Context) (int64, error) {
	var v int64
	err := m.with("version", func(p *goose.Provider) (err error) {
		v, err = p.GetDBVersion(ctx)
		return err
	})
	return v, err
}

// Pending lists the migrations the binary carries that the database has not
// applied (their file names, oldest first).
func (m Migrations) Pending(ctx context.Context) ([]string, error) {
	var out []string
	err := m.with("pending migrations", func(p *goose.Provider) error {
		st, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			if s.State == goose.StatePending {
				out = append(out, path.Base(s.Source.Path))
			}
		}
		return nil
	})
	return out, err
}

// Latest is the version of the newest migration the binary carries, 0 when
// it carries none.
func (m Migrations) Latest() (int64, error) {
	var v int64
	err := m.with("latest migration", func(p *goose.Provider) error {
		if src := p.ListSources(); len(src) > 0 {
			v = src[len(src)-1].Version
		}
		return nil
	})
	return v, err
}
