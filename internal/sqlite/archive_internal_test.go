package sqlite

import (
	"context"
	"path/filepath"
	"testing"
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
	defer p.Close()
	tables := func() int {
		var n int
		if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('chat_lines', 'chat_deletions')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, step := range []struct {
		up     bool
		to     int64
		tables int
	}{{true, 9, 2}, {false, 8, 0}, {true, 9, 2}} {
		if step.up {
			_, err = p.UpTo(ctx, step.to)
		} else {
			_, err = p.DownTo(ctx, step.to)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := tables(); got != step.tables {
			t.Fatalf("at version %d: %d chat tables, want %d", step.to, got, step.tables)
		}
	}
}
