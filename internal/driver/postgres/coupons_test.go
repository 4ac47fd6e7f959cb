package postgres

import (
	"testing"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/checkout/checkouttest"
)

// TestCoupons runs the coupon suite as cluster mode wires it.
func TestCoupons(t *testing.T) {
	checkouttest.RunCoupons(t, func(t *testing.T) (checkouttest.Env, checkout.CouponStore) {
		env, _ := clusterEnv(t)
		return env, env.Stores.Ledger.(*DB)
	})
}
