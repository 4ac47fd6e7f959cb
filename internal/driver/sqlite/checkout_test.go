package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/checkouttest"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// TestCheckout runs the buy path as the embedded mode wires it: the SQLite
// ledger behind the in-process stock gate.
func TestCheckout(t *testing.T) {
	checkouttest.Run(t, func(t *testing.T) checkouttest.Env {
		return checkouttest.Env{
			Stores:  stores(t),
			Gate:    memory.NewGate(),
			NewGate: func() checkout.Gate { return memory.NewGate() },
		}
	})
}

// BenchmarkReserveCrowd is the embedded mode's every-tap-wins path: 128
// goroutines tap for 2,000 buyers, so holds reach the file in batches as
// under bench/buy.sh's reserve loop. Run with a fixed count, e.g.
// go test -run '^$' -bench ReserveCrowd -benchtime 20000x -cpuprofile cpu.out
func BenchmarkReserveCrowd(b *testing.B) {
	for _, bc := range []struct {
		name  string
		limit int
	}{{"NoLimit", 0}, {"Limit", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			db := open(b, filepath.Join(b.TempDir(), "pavilion.db"))
			st := storetest.Stores{Accounts: db, Brands: db, Shows: db, Catalog: db, Ledger: db, Analytics: db, Images: db}
			checkouttest.BenchmarkReserveCrowd(b, checkouttest.Env{Stores: st, Gate: memory.NewGate()}, 2000, 128, bc.limit)
		})
	}
}
