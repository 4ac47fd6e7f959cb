package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// provider builds a goose provider over the writer.
func (db *DB) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectSQLite3, db.w, fsys, goose.WithDisableGlobalRegistry(true))
}

// migrations runs the embedded migrations over the writer. The provider
// shares the writer: closing it would close the file, so it is not.
func (db *DB) migrations() sqlstore.Migrations {
	return sqlstore.Migrations{Driver: "sqlite", Provider: func() (*goose.Provider, func() error, error) {
		p, err := db.provider()
		return p, func() error { return nil }, err
	}}
}

// Migrate applies every pending migration, each in its own transaction.
//
// goose has no lock for SQLite, and its transactions alone would let two
// processes both decide to apply the same migration. So Migrate holds an
// exclusive lock on a file next to the database (<path>-migrate.lock) while
// it runs: concurrent calls, from this process or another, apply the
// migrations one after the other and the later ones find nothing to do.
func (db *DB) Migrate(ctx context.Context) error {
	unlock, err := lockFile(ctx, db.path+"-migrate.lock")
	if err != nil {
		return fmt.Errorf("sqlite: migrate: lock: %w", err)
	}
	defer unlock()
	return db.migrations().Up(ctx)
}

// Version reports the latest migration applied to the file, 0 when none is.
func (db *DB) Version(ctx context.Context) (int64, error) { return db.migrations().Version(ctx) }

// Pending lists the migrations this binary carries that the file has not
// applied (their file names, oldest first): a node started with
// --migrate=false refuses a schema that is behind instead of failing on
// every request.
func (db *DB) Pending(ctx context.Context) ([]string, error) { return db.migrations().Pending(ctx) }

// Latest is the version of the newest migration this binary carries.
func (db *DB) Latest() (int64, error) { return db.migrations().Latest() }
