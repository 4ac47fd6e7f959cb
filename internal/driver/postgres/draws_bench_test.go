package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/checkout/checkouttest"
	"github.com/pavilion-live/pavilion/internal/driver/redis"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// BenchmarkDrawClose50k closes draws of 50,000 entries for 100 and 1,000 units
// (cluster mode: PostgreSQL, the Redis gate).
func BenchmarkDrawClose50k(b *testing.B) {
	ctx := context.Background()
	db := fresh(b)
	url, prefix := testinfra.Redis(b)
	client, err := redis.Open(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	gate := redis.NewGate(client, prefix)
	defer gate.Close()
	st := storetest.Stores{Accounts: db, Brands: db, Shows: db, Catalog: db, Ledger: db, Analytics: db}
	fill := func(tb testing.TB, drawID uuid.UUID, n int) {
		at := time.Now().UTC()
		users := make([][]any, n)
		entries := make([][]any, n)
		for i := range n {
			u := uuid.New()
			users[i] = []any{u, fmt.Sprintf("%s@draw.example", u), at}
			entries[i] = []any{uuid.New(), drawID, u, i + 1, at}
		}
		err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"id", "email", "created_at"}, pgx.CopyFromRows(users)); err != nil {
				return err
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"draw_entries"}, []string{"id", "draw_id", "user_id", "seq", "created_at"}, pgx.CopyFromRows(entries)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `UPDATE draws SET entries = $1 WHERE id = $2`, n, drawID)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, units := range []int{100, 1_000} {
		b.Run(fmt.Sprintf("units=%d", units), func(b *testing.B) {
			checkouttest.BenchmarkDrawClose(b, checkouttest.Env{Stores: st, Gate: gate}, db, fill, 50_000, units)
		})
	}
}
