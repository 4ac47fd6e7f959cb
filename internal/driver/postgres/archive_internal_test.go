package postgres

import (
	"context"
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// TestChatLinesMigration: version 9 adds the chat tables and reverts
// cleanly, and goes up again.
func TestChatLinesMigration(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, testinfra.Postgres(t))
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	storetest.MigrationRoundTrip(t, 9, 2,
		func(to int64) error { _, err := p.UpTo(ctx, to); return err },
		func(to int64) error { _, err := p.DownTo(ctx, to); return err },
		func() int {
			var n int
			if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('chat_lines', 'chat_deletions')`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		})
}
