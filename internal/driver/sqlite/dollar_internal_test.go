package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

// TestDollarPlaceholdersBindPositionally checks what lets the two drivers
// share query texts: modernc.org/sqlite binds $N to the Nth argument, in
// whatever order and however often $N appears in the text.
func TestDollarPlaceholdersBindPositionally(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var a, b, c string
	if err := db.r.QueryRowContext(ctx, `SELECT $2, $1, $2`, "one", "two").Scan(&a, &b, &c); err != nil {
		t.Fatal(err)
	}
	if a != "two" || b != "one" || c != "two" {
		t.Fatalf("SELECT $2, $1, $2 with (one, two) = %q, %q, %q; want two, one, two", a, b, c)
	}
	var n int
	if err := db.r.QueryRowContext(ctx, `SELECT $1 + $1 * 10`, 3).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 33 {
		t.Fatalf("SELECT $1 + $1 * 10 with (3) = %d, want 33", n)
	}
	// The writer's prepared statements bind the same way.
	if _, err := db.w.ExecContext(ctx, `CREATE TEMP TABLE p (a TEXT, b TEXT)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO p (b, a) VALUES ($2, $1)`, "x", "y"); err != nil {
		t.Fatal(err)
	}
	if err := db.w.QueryRowContext(ctx, `SELECT a, b FROM p`).Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a != "x" || b != "y" {
		t.Fatalf("INSERT (b, a) VALUES ($2, $1) with (x, y) stored a=%q b=%q; want x, y", a, b)
	}
}
