package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"github.com/pavilion-live/pavilion/internal/account"
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

// Credentials finds credentials by hash and by id: the part of
// account.Store that CredentialIDMigration reads.
type Credentials interface {
	CredentialByHash(ctx context.Context, hash string, now time.Time) (*account.Credential, error)
	CredentialByID(ctx context.Context, id uuid.UUID, now time.Time) (*account.Credential, error)
}

// CredentialIDMigration checks version 7 of a driver: sessions and tokens
// issued before it keep working after it, each with an id of its own, and
// the step reverts keeping them. seed stores, at version 6, the user and its
// two sessions "h1" and "h2" created at t0 and expiring an hour later;
// count says how many credentials are stored.
func CredentialIDMigration(t *testing.T, m Migrator, store Credentials,
	seed func(user uuid.UUID, t0 time.Time), count func() int) {
	t.Helper()
	ctx := context.Background()
	UpTo(t, m, 6)
	user, t0 := uuid.New(), time.Now().UTC().Truncate(time.Microsecond)
	seed(user, t0)
	UpTo(t, m, 7)
	a, err := store.CredentialByHash(ctx, "h1", t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.CredentialByHash(ctx, "h2", t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == uuid.Nil || a.ID == b.ID || a.UserID != user || a.LastUsedAt != nil {
		t.Fatalf("after version 7: %+v and %+v", a, b)
	}
	if got, err := store.CredentialByID(ctx, b.ID, t0); err != nil || got.Hash != "h2" {
		t.Fatalf("CredentialByID = %+v, %v", got, err)
	}
	DownTo(t, m, 6)
	if n := count(); n != 2 {
		t.Fatalf("after going back to version 6: %d credentials", n)
	}
}
