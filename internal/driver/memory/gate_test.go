package memory

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/gatetest"
)

func TestGateContract(t *testing.T) {
	gatetest.Run(t, func(t *testing.T) checkout.Gate { return NewGate() })
}

// BenchmarkGateTake measures taps that win: one offer with stock that never
// runs out, every goroutine its own customer, no limit.
func BenchmarkGateTake(b *testing.B) {
	ctx := context.Background()
	g := NewGate()
	offer := uuid.New()
	if err := g.Load(ctx, offer, 1<<62, nil, true); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		tap := checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1}
		for pb.Next() {
			if v, err := g.Take(ctx, tap); err != nil || v != checkout.Taken {
				b.Errorf("Take = %v, %v", v, err)
				return
			}
		}
	})
}

// BenchmarkGateSoldOut measures the crowd that comes after the last unit,
// which in a flash drop is nearly everyone.
func BenchmarkGateSoldOut(b *testing.B) {
	ctx := context.Background()
	g := NewGate()
	offer := uuid.New()
	if err := g.Load(ctx, offer, 0, nil, true); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		tap := checkout.Tap{OfferID: offer, UserID: uuid.New(), Quantity: 1, Limit: 1}
		for pb.Next() {
			if v, err := g.Take(ctx, tap); err != nil || v != checkout.SoldOut {
				b.Errorf("Take = %v, %v", v, err)
				return
			}
		}
	})
}

// BenchmarkGateStampede is a drop as the gate sees it: many customers, a
// limit of one, and a stock that runs out and is refilled.
func BenchmarkGateStampede(b *testing.B) {
	ctx := context.Background()
	g := NewGate()
	offer := uuid.New()
	const units = 1000
	if err := g.Load(ctx, offer, units, nil, true); err != nil {
		b.Fatal(err)
	}
	// Customers are made up front: uuid.New reads the system's random
	// source, which would cost more than the tap.
	users := make([]uuid.UUID, 1<<14)
	for i := range users {
		users[i] = uuid.New()
	}
	var next, taken atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u := users[int(next.Add(1))%len(users)]
			v, err := g.Take(ctx, checkout.Tap{OfferID: offer, UserID: u, Quantity: 1, Limit: 1})
			if err != nil {
				b.Error(err)
				return
			}
			if v == checkout.Taken && taken.Add(1)%units == 0 {
				// Refill so the benchmark keeps mixing wins and sell-outs.
				if err := g.Load(ctx, offer, units, nil, true); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
}
