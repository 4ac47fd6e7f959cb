package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// TestCredentialIDMigration: sessions and tokens issued before version 7
// keep working after it, each with an id of its own, and the step reverts.
func TestCredentialIDMigration(t *testing.T) {
	ctx := context.Background()
	db, p := unmigrated(t)
	storetest.CredentialIDMigration(t, p, db, func(user uuid.UUID, t0 time.Time) {
		if _, err := db.w.ExecContext(ctx, `INSERT INTO users (id, email, email_key, display_name, password_hash, created_at) VALUES (?, 'a@x.org', 'a@x.org', 'A', '', ?)`,
			user, micros(t0)); err != nil {
			t.Fatal(err)
		}
		for _, hash := range []string{"h1", "h2"} {
			if _, err := db.w.ExecContext(ctx, `INSERT INTO credentials (hash, user_id, kind, created_at, expires_at) VALUES (?, ?, 'session', ?, ?)`,
				hash, user, micros(t0), micros(t0.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
		}
	}, func() int { return count(t, db, `SELECT count(*) FROM credentials`) })
}
