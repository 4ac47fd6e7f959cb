package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestDrawsMigration: version 10 goes down and up again.
func TestDrawsMigration(t *testing.T) {
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
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM draws, draw_entries`).Scan(&n); err != nil {
		t.Fatalf("after up: %v", err)
	}
	if _, err := p.DownTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM draws`).Scan(&n); err == nil {
		t.Fatal("draws survived the down migration")
	}
	if _, err := p.UpTo(ctx, 10); err != nil {
		t.Fatalf("up again: %v", err)
	}
}
