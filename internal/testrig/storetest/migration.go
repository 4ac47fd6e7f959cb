package storetest

import (
	"context"
	"testing"

	"github.com/pressly/goose/v3"
)

// Migrator walks a driver's schema one migration at a time: a
// *goose.Provider over a fresh database.
type Migrator interface {
	UpTo(ctx context.Context, version int64) ([]*goose.MigrationResult, error)
	DownTo(ctx context.Context, version int64) ([]*goose.MigrationResult, error)
}

// UpTo applies m's migrations up to version, failing the test when one fails.
func UpTo(t testing.TB, m Migrator, version int64) {
	t.Helper()
	if _, err := m.UpTo(context.Background(), version); err != nil {
		t.Fatalf("up to version %d: %v", version, err)
	}
}

// DownTo reverts m's migrations down to version, failing the test when one
// fails.
func DownTo(t testing.TB, m Migrator, version int64) {
	t.Helper()
	if _, err := m.DownTo(context.Background(), version); err != nil {
		t.Fatalf("down to version %d: %v", version, err)
	}
}

// MigrationRoundTrip checks one migration of a driver: going up to version
// adds the want tables (count says how many of them exist), going down to
// version-1 takes them away, and going up again brings them back.
func MigrationRoundTrip(t *testing.T, m Migrator, version int64, want int, count func() int) {
	t.Helper()
	for _, step := range []struct {
		up     bool
		to     int64
		tables int
	}{{true, version, want}, {false, version - 1, 0}, {true, version, want}} {
		if step.up {
			UpTo(t, m, step.to)
		} else {
			DownTo(t, m, step.to)
		}
		if got := count(); got != step.tables {
			t.Fatalf("at version %d: %d of the tables, want %d", step.to, got, step.tables)
		}
	}
}
