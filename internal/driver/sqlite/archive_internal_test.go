package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// TestChatLinesMigration: version 9 adds the chat tables and reverts
// cleanly, and goes up again.
func TestChatLinesMigration(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "pavilion.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	storetest.MigrationRoundTrip(t, 9, 2,
		func(to int64) error { _, err := p.UpTo(ctx, to); return err },
		func(to int64) error { _, err := p.DownTo(ctx, to); return err },
		func() int {
			var n int
			if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('chat_lines', 'chat_deletions')`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		})
}
