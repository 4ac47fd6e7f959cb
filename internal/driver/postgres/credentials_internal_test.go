package postgres

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
	storetest.UpTo(t, p, 6)
	user, t0 := uuid.New(), time.Now().UTC().Truncate(time.Microsecond)
	if _, err := db.pool.Exec(ctx, `INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES ($1, 'a@x.org', 'A', '', $2)`,
		user, t0); err != nil {
		t.Fatal(err)
	}
	for _, hash := range []string{"h1", "h2"} {
		if _, err := db.pool.Exec(ctx, `INSERT INTO credentials (hash, user_id, kind, created_at, expires_at) VALUES ($1, $2, 'session', $3, $4)`,
			hash, user, t0, t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	storetest.UpTo(t, p, 7)
	a, err := db.CredentialByHash(ctx, "h1", t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.CredentialByHash(ctx, "h2", t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID == uuid.Nil || a.ID == b.ID || a.UserID != user || a.LastUsedAt != nil {
		t.Fatalf("after version 7: %+v and %+v", a, b)
	}
	if got, err := db.CredentialByID(ctx, b.ID, t0); err != nil || got.Hash != "h2" {
		t.Fatalf("CredentialByID = %+v, %v", got, err)
	}
	storetest.DownTo(t, p, 6)
	if n := count(t, db, `SELECT count(*) FROM credentials`); n != 2 {
		t.Fatalf("after going back to version 6: %d credentials", n)
	}
}
