package sqlite_test

import (
	"testing"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/checkouttest"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
)

// TestDraws runs the fair-draw suite as the embedded mode wires it.
func TestDraws(t *testing.T) {
	checkouttest.RunDraws(t, func(t *testing.T) (checkouttest.Env, checkout.DrawStore) {
		st := stores(t)
		return checkouttest.Env{
			Stores:  st,
			Gate:    memory.NewGate(),
			NewGate: func() checkout.Gate { return memory.NewGate() },
		}, st.Ledger.(*sqlite.DB)
	})
}
