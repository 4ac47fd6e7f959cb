package postgres

import (
	"context"
	"fmt"
	"path"

	"github.com/pressly/goose/v3"
)

// Pending lists the migrations this binary carries that the database has
// not applied (their file names, oldest first): a node started with
// --migrate=false refuses a schema that is behind instead of failing on
// every request.
func (db *DB) Pending(ctx context.Context) ([]string, error) {
	p, err := db.provider()
	if err != nil {
		return nil, fmt.Errorf("postgres: pending migrations: %w", err)
	}
	st, err := p.Status(ctx)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: pending migrations: %w", err)
	}
	var out []string
	for _, s := range st {
		if s.State == goose.StatePending {
			out = append(out, path.Base(s.Source.Path))
		}
	}
	return out, nil
}

// Latest is the version of the newest migration this binary carries.
func (db *DB) Latest() (int64, error) {
	p, err := db.provider()
	if err != nil {
		return 0, fmt.Errorf("postgres: latest migration: %w", err)
	}
	src := p.ListSources()
	_ = p.Close() // its database/sql handle; the pool stays
	if len(src) == 0 {
		return 0, nil
	}
	return src[len(src)-1].Version, nil
}
