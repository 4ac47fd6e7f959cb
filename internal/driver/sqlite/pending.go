package sqlite

import (
	"context"
	"fmt"
	"path"

	"github.com/pressly/goose/v3"
)

// Pending lists the migrations this binary carries that the file has not
// applied (their file names, oldest first): a node started with
// --migrate=false refuses a schema that is behind instead of failing on
// every request.
func (db *DB) Pending(ctx context.Context) ([]string, error) {
	p, err := db.provider()
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending migrations: %w", err)
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending migrations: %w", err)
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
		return 0, fmt.Errorf("sqlite: latest migration: %w", err)
	}
	src := p.ListSources()
	// The provider shares the writer: closing it would close the file.
	if len(src) == 0 {
		return 0, nil
	}
	return src[len(src)-1].Version, nil
}
