package sqlite_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// BenchmarkReserveBatch is the group commit alone: one ReserveBatch of 50
// holds, each with an idempotency key, from 50 of 2,000 customers — the
// size of the batches bench/buy.sh's reserve loop reaches. cpu-µs/hold is
// the process's CPU (the driver's and SQLite's, the commit's fsync wait
// excluded) over the holds written: the figure the embedded server's
// per-hold budget is in. Limit adds the per-customer limit's reads.
func BenchmarkReserveBatch(b *testing.B) {
	const batch = 50
	for _, bc := range []struct {
		name  string
		limit int
	}{{"NoLimit", 0}, {"Limit", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			db := open(b, filepath.Join(b.TempDir(), "pavilion.db"))
			d := newDrop(b, db, 1<<30, 2000)
			next := 0
			holds := func() []checkout.Hold {
				hs := make([]checkout.Hold, batch)
				for i := range hs {
					u := d.users[next%len(d.users)]
					next++
					r := d.res(u, 1, time.Minute)
					r.ID = uuid.Must(uuid.NewV7()) // as the service's, in time order
					// The key's result is the hold's JSON, as the service stores it.
					result, err := json.Marshal(map[string]any{"result": r})
					if err != nil {
						b.Fatal(err)
					}
					hs[i] = checkout.Hold{Reservation: r, Limit: bc.limit, Key: &checkout.Idempotency{
						UserID: u, Key: uuid.NewString(), Op: "reserve", RequestHash: strings.Repeat("h", 64),
						Result: result, CreatedAt: r.CreatedAt}}
				}
				return hs
			}
			b.ReportAllocs()
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				hs := holds()
				b.StartTimer()
				cpu0 := measure.ProcessCPU()
				errs, err := db.ReserveBatch(ctx, hs)
				cpu += measure.ProcessCPU() - cpu0
				if err != nil {
					b.Fatal(err)
				}
				for i, err := range errs {
					if err != nil {
						b.Fatalf("hold %d: %v", i, err)
					}
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*batch), "cpu-µs/hold")
		})
	}
}
