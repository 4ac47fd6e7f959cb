package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestWalletMigrationReverts: version 11 goes down to nothing of its own and
// up again.
func TestWalletMigrationReverts(t *testing.T) {
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
	tables := func() int {
		var n int
		if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'
			AND name IN ('addresses', 'payment_methods', 'buyer_privacy', 'brand_follows')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := tables(); n != 4 {
		t.Fatalf("after migrating: %d of version 11's tables, want 4", n)
	}
	if _, err := p.DownTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if n := tables(); n != 0 {
		t.Fatalf("after going down to 10: %d of version 11's tables remain", n)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if n := tables(); n != 4 {
		t.Fatalf("up again: %d tables, want 4", n)
	}
}
