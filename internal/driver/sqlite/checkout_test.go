package sqlite_test

import (
	"testing"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/checkouttest"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
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
