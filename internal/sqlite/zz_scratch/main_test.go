package scratch

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pavilion-live/pavilion/internal/sqlite"
)

func TestConcurrentMigrate(t *testing.T) {
	fails := 0
	for i := 0; i < 30; i++ {
		p := filepath.Join(t.TempDir(), "pavilion.db")
		var dbs []*sqlite.DB
		for range 3 {
			db, err := sqlite.Open(context.Background(), p)
			if err != nil { t.Fatal(err) }
			dbs = append(dbs, db)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, db := range dbs {
			wg.Go(func() {
				if err := db.Migrate(context.Background()); err != nil {
					mu.Lock(); fails++; mu.Unlock()
					t.Log(err)
				}
			})
		}
		wg.Wait()
		for _, db := range dbs { db.Close() }
	}
	t.Log("fails", fails)
}
