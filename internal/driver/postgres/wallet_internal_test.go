package postgres

import (
	"context"
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// TestWalletMigrationReverts: version 11 goes down to nothing of its own and
// up again.
func TestWalletMigrationReverts(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, testinfra.Postgres(t))
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
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()
			AND tablename IN ('addresses', 'payment_methods', 'buyer_privacy', 'brand_follows')`).Scan(&n); err != nil {
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
