package sqlite_test

import (
	"testing"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/checkouttest"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
)

// TestCoupons runs the coupon suite as the embedded mode wires it.
func TestCoupons(t *testing.T) {
	checkouttest.RunCoupons(t, func(t *testing.T) (checkouttest.Env, checkout.CouponStore) {
		st := stores(t)
		return checkouttest.Env{Stores: st, Gate: memory.NewGate()}, st.Ledger.(*sqlite.DB)
	})
}
