package postgres

import (
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/pavilion-live/pavilion/internal/driver/sqlstore/sqlstoretest"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// unmigrated opens a fresh schema with no migration applied, and the goose
// provider that walks its versions by hand; both close when the test ends.
func unmigrated(t *testing.T) (*DB, *goose.Provider) {
	t.Helper()
	db := openDB(t, testinfra.Postgres(t))
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return db, p
}

// migrationRoundTrip runs storetest.MigrationRoundTrip for version on a
// fresh schema; query answers how many of the version's own tables exist
// (want of them after it, none before it).
func migrationRoundTrip(t *testing.T, version int64, want int, query string) {
	t.Helper()
	db, p := unmigrated(t)
	sqlstoretest.MigrationRoundTrip(t, db.shared, p, version, want, query)
}

// TestDrawsMigration: version 10 adds the draws tables.
func TestDrawsMigration(t *testing.T) {
	migrationRoundTrip(t, 10, 2, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('draws', 'draw_entries')`)
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

// TestGuestRecordingsMigration: version 20 gives recordings a role and the
// timeline's marks a layout, and takes both away going down.
func TestGuestRecordingsMigration(t *testing.T) {
	migrationRoundTrip(t, 20, 2, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = current_schema()
		  AND ((table_name = 'recordings' AND column_name = 'role') OR (table_name = 'replay_marks' AND column_name = 'layout'))`)
}

// TestShowTimesMigration: version 19 adds the real start and end of shows,
// and takes them away going down (to 18, which PostgreSQL does not have:
// that is version 17's schema).
func TestShowTimesMigration(t *testing.T) {
	migrationRoundTrip(t, 19, 2, `SELECT count(*) FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'shows' AND column_name IN ('went_live_at', 'ended_at')`)
}
