package postgres

import (
	"context"
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// TestShowPinsMigration: version 12 adds the pins table, reverts cleanly,
// and goes up again.
func TestShowPinsMigration(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, testinfra.Postgres(t))
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	storetest.MigrationRoundTrip(t, 12, 1,
		func(to int64) error { _, err := p.UpTo(ctx, to); return err },
		func(to int64) error { _, err := p.DownTo(ctx, to); return err },
		func() int {
			var n int
			if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'show_pins'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		})
}
