package postgres

import (
	"testing"

	"github.com/pavilion-live/pavilion/checkout/checkouttest"
)

// TestDraws runs the fair-draw suite as cluster mode wires it: PostgreSQL
// behind the Redis stock gate.
func TestDraws(t *testing.T) { checkouttest.RunDraws(t, clusterEnv) }
