package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout/checkouttest"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// BenchmarkDrawClose50k closes draws of 50,000 entries for 100 and 1,000 units
// (embedded mode: this file, the in-process gate).
func BenchmarkDrawClose50k(b *testing.B) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "pavilion.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	st := storetest.Stores{Accounts: db, Brands: db, Shows: db, Catalog: db, Ledger: db, Analytics: db}
	fill := func(tb testing.TB, drawID uuid.UUID, n int) {
		err := db.write(ctx, "bench fill", func(tx *sql.Tx) error {
			at := micros(time.Now())
			for i := range n {
				u := uuid.New()
				email := fmt.Sprintf("%s@draw.example", u)
				if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, email, email_key, created_at) VALUES (?, ?, ?, ?)`, u, email, email, at); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO draw_entries (id, draw_id, user_id, seq, created_at) VALUES (?, ?, ?, ?, ?)`,
					uuid.New(), drawID, u, i+1, at); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `UPDATE draws SET entries = ? WHERE id = ?`, n, drawID)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, units := range []int{100, 1_000} {
		b.Run(fmt.Sprintf("units=%d", units), func(b *testing.B) {
			checkouttest.BenchmarkDrawClose(b, checkouttest.Env{Stores: st, Gate: memory.NewGate()}, db, fill, 50_000, units)
		})
	}
}
