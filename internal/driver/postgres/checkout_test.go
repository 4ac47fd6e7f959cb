package postgres

import (
	"context"
	"testing"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/checkouttest"
	"github.com/pavilion-live/pavilion/internal/driver/redis"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// TestCheckout runs the buy path as cluster mode wires it: the PostgreSQL
// ledger behind the Redis stock gate.
func TestCheckout(t *testing.T) {
	checkouttest.Run(t, func(t *testing.T) checkouttest.Env { env, _ := clusterEnv(t); return env })
}

// TestCheckoutOnRedisCluster runs the buy path with the stock gate on a
// Redis Cluster (three masters, three replicas).
func TestCheckoutOnRedisCluster(t *testing.T) {
	c := testinfra.StartRedisCluster(t)
	checkouttest.Run(t, func(t *testing.T) checkouttest.Env {
		env, _ := gateEnv(t, c.URL, testinfra.UniqueName("pavtest:")+":")
		return env
	})
}

// clusterEnv is a fresh database and a Redis gate over a prefix of its own,
// as cluster mode wires them, and the database's draw store.
func clusterEnv(t *testing.T) (checkouttest.Env, checkout.DrawStore) {
	url, prefix := testinfra.Redis(t)
	return gateEnv(t, url, prefix)
}

// gateEnv is a fresh database and a gate on the Redis at url under prefix.
func gateEnv(t *testing.T, url, prefix string) (checkouttest.Env, checkout.DrawStore) {
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
	n := 0
	st := stores(t)
	return checkouttest.Env{
		Stores: st,
		Gate:   newGate(prefix),
		// Another prefix is a Redis that has forgotten everything.
		NewGate: func() checkout.Gate { n++; return newGate(prefix + "lost" + string(rune('a'+n)) + ":") },
	}, st.Ledger.(*DB)
}
