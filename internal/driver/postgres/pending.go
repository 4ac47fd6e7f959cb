package postgres

import (
	"context"
	"fmt"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
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
	out, err := sqlstore.Pending(ctx, p)
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: pending migrations: %w", err)
	}
	return out, nil
}

// Latest is the version of the newest migration this binary carries.
func (db *DB) Latest() (int64, error) {
	p, err := db.provider()
	if err != nil {
		return 0, fmt.Errorf("postgres: latest migration: %w", err)
	}
	v := sqlstore.Latest(p)
	_ = p.Close() // its database/sql handle; the pool stays
	return v, nil
}
