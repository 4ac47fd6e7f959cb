package postgres

import (
	"context"
	"testing"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/checkouttest"
	"github.com/pavilion-live/pavilion/internal/redis"
	"github.com/pavilion-live/pavilion/internal/testinfra"
)

// TestDraws runs the fair-draw suite as cluster mode wires it: PostgreSQL
// behind the Redis stock gate.
func TestDraws(t *testing.T) {
	checkouttest.RunDraws(t, func(t *testing.T) (checkouttest.Env, checkout.DrawStore) {
		url, prefix := testinfra.Redis(t)
		client, err := redis.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		newGate := func(prefix string) checkout.Gate {
			g := redis.NewGate(client, prefix)
			t.Cleanup(func() { _ = g.Close() })
			return g
		}
		st := stores(t)
		return checkouttest.Env{
			Stores:  st,
			Gate:    newGate(prefix),
			NewGate: func() checkout.Gate { return newGate(prefix + "restarted:") },
		}, st.Ledger.(*DB)
	})
}
