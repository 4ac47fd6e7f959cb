package postgres

import (
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

func TestWallet(t *testing.T) {
	storetest.RunWallet(t, func(t *testing.T) storetest.WalletStores {
		db := fresh(t)
		return storetest.WalletStores{Accounts: db, Brands: db, Shows: db, Wallet: db, Follows: db}
	})
}
