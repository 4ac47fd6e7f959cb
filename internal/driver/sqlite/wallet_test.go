package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

func TestWallet(t *testing.T) {
	storetest.RunWallet(t, func(t *testing.T) storetest.WalletStores {
		db := open(t, filepath.Join(t.TempDir(), "pavilion.db"))
		return storetest.WalletStores{Accounts: db, Brands: db, Shows: db, Wallet: db, Follows: db}
	})
}
