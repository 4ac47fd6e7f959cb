package sqlite

import (
	"context"
	"fmt"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// Pending lists the migrations this binary carries that the file has not
// applied (their file names, oldest first): a node started with
// --migrate=false refuses a schema that is behind instead of failing on
// every request. The provider shares the writer: closing it would close the
// file.
func (db *DB) Pending(ctx context.Context) ([]string, error) {
	p, err := db.provider()
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending migrations: %w", err)
	}
	out, err := sqlstore.Pending(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending migrations: %w", err)
	}
	return out, nil
}

// Latest is the version of the newest migration this binary carries.
func (db *DB) Latest() (int64, error) {
	p, err := db.provider()
	if err != nil {
		return 0, fmt.Errorf("sqlite: latest migration: %w", err)
	}
	return sqlstore.Latest(p), nil
}
