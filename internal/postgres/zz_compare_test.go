package postgres

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/testinfra"
)

// reserveTx is the straightforward Reserve: one statement per step in an explicit tx.
func (db *DB) reserveTx(ctx context.Context, r *checkout.Reservation, limit int) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE offers SET held = held + $2 WHERE id = $1 AND sold + held + $2 <= allocated`, r.OfferID, r.Quantity)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return checkout.ErrSoldOut
		}
		if limit > 0 {
			var have int64
			if err := tx.QueryRow(ctx, `SELECT COALESCE(SUM(quantity),0) FROM reservations WHERE offer_id=$1 AND user_id=$2 AND state IN `+liveStates, r.OfferID, r.UserID).Scan(&have); err != nil {
				return err
			}
			if int(have)+r.Quantity > limit {
				return checkout.ErrLimitReached
			}
		}
		tag, err = tx.Exec(ctx, `UPDATE skus SET held = held + $2 WHERE id = $1 AND sold + held + $2 <= on_hand`, r.SKUID, r.Quantity)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return checkout.ErrSoldOut
		}
		_, err = tx.Exec(ctx, `INSERT INTO reservations (`+reservationCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,'held',$9,$10,$11)`,
			r.ID, r.OfferID, r.ShowID, r.SKUID, r.UserID, r.Quantity, r.PriceMinor, r.Currency, r.CreatedAt, r.ExpiresAt, r.UpdatedAt)
		return err
	})
}

func BenchmarkCompare(b *testing.B) {
	ctx := context.Background()
	db := openDB(b, withPool(b, testinfra.Postgres(b), 32))
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	d := newDrop(b, db, 500)
	for _, impl := range []struct {
		name string
		f    func(context.Context, *checkout.Reservation, int) error
	}{{"batch", db.Reserve}, {"tx", db.reserveTx}} {
		for _, par := range []bool{false, true} {
			name := impl.name + "/serial"
			if par {
				name = impl.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				n := b.N
				o := d.offer(b, d.sku(b, n), n, n)
				var next atomic.Int64
				reserve := func() {
					i := next.Add(1)
					if err := impl.f(ctx, res(o, d.users[i%int64(len(d.users))], 1, time.Hour), n); err != nil {
						b.Error(err)
					}
				}
				b.ResetTimer()
				if par {
					b.SetParallelism(8)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							reserve()
						}
					})
				} else {
					for range n {
						reserve()
					}
				}
			})
		}
	}
}
