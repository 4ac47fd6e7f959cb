package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestCouponsMigrationReverts: version 14 goes down to nothing of its own
// (its tables and the columns it added to orders and draws) and up again.
func TestCouponsMigrationReverts(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "pavilion.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	parts := func() int {
		var n int
		if err := db.r.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('coupons', 'coupon_uses'))
			+ (SELECT count(*) FROM pragma_table_info('orders') WHERE name IN ('coupon_id', 'coupon_code', 'discount_minor'))
			+ (SELECT count(*) FROM pragma_table_info('draws') WHERE name IN ('giveaway', 'eligibility'))`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := parts(); n != 7 {
		t.Fatalf("after migrating: %d of version 14's tables and columns, want 7", n)
	}
	if _, err := p.DownTo(ctx, 13); err != nil {
		t.Fatal(err)
	}
	if n := parts(); n != 0 {
		t.Fatalf("after going down: %d of version 14's tables and columns remain", n)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if n := parts(); n != 7 {
		t.Fatalf("up again: %d, want 7", n)
	}
}
