// Package sqlstoretest holds the set-up the two SQL drivers' internal tests
// share: they reach a database below the domain stores (an unmigrated
// schema, a row of an old version) through its sqlstore.Conn.
package sqlstoretest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// Count answers a query of one number on c's readers.
func Count(t *testing.T, c *sqlstore.Conn, query string) int {
	t.Helper()
	var n int
	if err := c.Read.QueryRow(context.Background(), query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// MigrationRoundTrip runs storetest.MigrationRoundTrip for version with p
// on c's unmigrated database; query answers how many of the version's own
// tables and columns exist (want of them after it, none before it).
func MigrationRoundTrip(t *testing.T, c *sqlstore.Conn, p storetest.Migrator, version int64, want int, query string) {
	t.Helper()
	storetest.MigrationRoundTrip(t, p, version, want, func() int { return Count(t, c, query) })
}

// CredentialIDMigration runs storetest.CredentialIDMigration with p on c's
// unmigrated database, db being it as the credential store: insertUser
// writes the user in the driver's schema of the version before 7, and two
// sessions of it are stored as that version kept them.
func CredentialIDMigration(t *testing.T, c *sqlstore.Conn, p storetest.Migrator, db storetest.Credentials, insertUser func(user uuid.UUID, t0 time.Time)) {
	t.Helper()
	ctx := context.Background()
	storetest.CredentialIDMigration(t, p, db, func(user uuid.UUID, t0 time.Time) {
		insertUser(user, t0)
		for _, hash := range []string{"h1", "h2"} {
			if _, err := c.Exec(ctx, `INSERT INTO credentials (hash, user_id, kind, created_at, expires_at) VALUES ($1, $2, 'session', $3, $4)`,
				hash, user, c.Dialect.Time(t0), c.Dialect.Time(t0.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
		}
	}, func() int { return Count(t, c, `SELECT count(*) FROM credentials`) })
}
