package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// migrationRoundTrip runs storetest.MigrationRoundTrip for version on a
// fresh file; count is a query answering how many of the version's own
// tables and columns exist (want of them after it, none before it).
func migrationRoundTrip(t *testing.T, version int64, want int, count string) {
	t.Helper()
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
	defer p.Close()
	storetest.MigrationRoundTrip(t, version, want,
		func(to int64) error { _, err := p.UpTo(ctx, to); return err },
		func(to int64) error { _, err := p.DownTo(ctx, to); return err },
		func() int {
			var n int
			if err := db.r.QueryRowContext(ctx, count).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		})
}

// TestChatLinesMigration: version 9 adds the chat tables.
func TestChatLinesMigration(t *testing.T) {
	migrationRoundTrip(t, 9, 2, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('chat_lines', 'chat_deletions')`)
}

// TestWalletMigrationReverts: version 11 adds the wallet and follows tables.
func TestWalletMigrationReverts(t *testing.T) {
	migrationRoundTrip(t, 11, 4, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'
		AND name IN ('addresses', 'payment_methods', 'buyer_privacy', 'brand_follows')`)
}

// TestShowPinsMigration: version 12 adds the pins table.
func TestShowPinsMigration(t *testing.T) {
	migrationRoundTrip(t, 12, 1, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'show_pins'`)
}

// TestCouponsMigrationReverts: version 14 adds its tables and columns on
// orders and draws, and takes all of them away going down.
func TestCouponsMigrationReverts(t *testing.T) {
	migrationRoundTrip(t, 14, 7, `SELECT
		(SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('coupons', 'coupon_uses'))
		+ (SELECT count(*) FROM pragma_table_info('orders') WHERE name IN ('coupon_id', 'coupon_code', 'discount_minor'))
		+ (SELECT count(*) FROM pragma_table_info('draws') WHERE name IN ('giveaway', 'eligibility'))`)
}
