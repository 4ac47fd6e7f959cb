package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPragmas checks the per-connection settings of both pools, and that
// the readers cannot write.
func TestPragmas(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "pavilion.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, pool := range []struct {
		name string
		db   *sql.DB
	}{{"writer", db.w}, {"reader", db.r.DB}} {
		for pragma, want := range map[string]string{
			"journal_mode": "wal",
			"foreign_keys": "1",
			"busy_timeout": "10000",
		} {
			var got string
			if err := pool.db.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("%s: PRAGMA %s = %s, want %s", pool.name, pragma, got, want)
			}
		}
	}
	var sync string
	if err := db.w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil || sync != "2" {
		t.Errorf("writer: PRAGMA synchronous = %s, %v; want 2 (FULL)", sync, err)
	}
	var temp string
	if err := db.w.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&temp); err != nil || temp != "2" {
		t.Errorf("writer: PRAGMA temp_store = %s, %v; want 2 (MEMORY)", temp, err)
	}
	if _, err := db.r.ExecContext(ctx, "CREATE TABLE t (x)"); err == nil {
		t.Error("a reader connection could write")
	}
}
