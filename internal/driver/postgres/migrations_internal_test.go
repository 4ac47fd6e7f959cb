package postgres

import (
	"context"
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// migrationRoundTrip runs storetest.MigrationRoundTrip for version on a
// fresh schema; count is a query answering how many of the version's own
// tables exist (want of them after it, none before it).
func migrationRoundTrip(t *testing.T, version int64, want int, count string) {
	t.Helper()
	ctx := context.Background()
	db := openDB(t, testinfra.Postgres(t))
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	storetest.MigrationRoundTrip(t, version, want,
		func(to int64) error { _, err := p.UpTo(ctx, to); return err },
		func(to int64) error { _, err := p.DownTo(ctx, to); return err },
		func() int {
			var n int
			if err := db.pool.QueryRow(ctx, count).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		})
}

// TestChatLinesMigration: version 9 adds the chat tables.
func TestChatLinesMigration(t *testing.T) {
	migrationRoundTrip(t, 9, 2, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('chat_lines', 'chat_deletions')`)
}

// TestWalletMigrationReverts: version 11 adds the wallet and follows tables.
func TestWalletMigrationReverts(t *testing.T) {
	migrationRoundTrip(t, 11, 4, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()
		AND tablename IN ('addresses', 'payment_methods', 'buyer_privacy', 'brand_follows')`)
}

// TestShowPinsMigration: version 12 adds the pins table.
func TestShowPinsMigration(t *testing.T) {
	migrationRoundTrip(t, 12, 1, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'show_pins'`)
}
