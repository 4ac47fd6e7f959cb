package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore/sqlstoretest"
)

// TestCredentialIDMigration: sessions and tokens issued before version 7
// keep working after it, each with an id of its own, and the step reverts.
func TestCredentialIDMigration(t *testing.T) {
	ctx := context.Background()
	db, p := unmigrated(t)
	sqlstoretest.CredentialIDMigration(t, db.shared, p, db, func(user uuid.UUID, t0 time.Time) {
		if _, err := db.pool.Exec(ctx, `INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES ($1, 'a@x.org', 'A', '', $2)`,
			user, t0); err != nil {
			t.Fatal(err)
		}
	})
}
