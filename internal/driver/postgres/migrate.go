package postgres

import (
	"context"
	"embed"
	"io/fs"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the key of the session-level advisory lock held while
// migrating ("PAVM" in ASCII). It differs from goose's default key so that
// another application migrating with goose on the same server never waits
// on Pavilion, nor Pavilion on it.
const migrationLockID int64 = 0x5041564d // "PAVM"

// provider builds a goose provider over the pool. Closing the returned
// provider releases its database/sql handle but leaves the pool open.
func (db *DB) provider() (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	// Poll for the lock every second, for up to five minutes: long enough for
	// another node to finish any migration Pavilion ships.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	sqlDB := stdlib.OpenDBFromPool(db.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return p, nil
}

// migrations runs the embedded migrations; each run closes its provider's
// database/sql handle, and the pool stays open.
func (db *DB) migrations() sqlstore.Migrations {
	return sqlstore.Migrations{Driver: "postgres", Provider: func() (*goose.Provider, func() error, error) {
		p, err := db.provider()
		if err != nil {
			return nil, nil, err
		}
		return p, p.Close, nil
	}}
}

// Migrate applies every pending migration. Concurrent calls, from this
// process or from other nodes, serialise on an advisory lock; the ones that
// come second find nothing left to do.
func (db *DB) Migrate(ctx context.Context) error { return db.migrations().Up(ctx) }

// Version reports the latest migration applied to the database, 0 when none is.
func (db *DB) Version(ctx context.Context) (int64, error) { return db.migrations().Version(ctx) }

// Pending lists the migrations this binary carries that the database has
// not applied (their file names, oldest first): a node started with
// --migrate=false refuses a schema that is behind instead of failing on
// every request.
func (db *DB) Pending(ctx context.Context) ([]string, error) { return db.migrations().Pending(ctx) }

// Latest is the version of the newest migration this binary carries.
func (db *DB) Latest() (int64, error) { return db.migrations().Latest() }
