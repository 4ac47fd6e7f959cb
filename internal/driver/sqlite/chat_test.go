package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/pavilion-live/pavilion/chat/chattest"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

func TestChatStore(t *testing.T) {
	chattest.Run(t, func(t *testing.T) chattest.Fixture {
		db := open(t, filepath.Join(t.TempDir(), "pavilion.db"))
		return chattest.NewFixture(t, db, storetest.Stores{Accounts: db, Brands: db, Shows: db})
	})
}

func TestChatArchive(t *testing.T) {
	chattest.RunArchive(t, func(t *testing.T) chattest.Fixture {
		db := open(t, filepath.Join(t.TempDir(), "pavilion.db"))
		f := chattest.NewFixture(t, db, storetest.Stores{Accounts: db, Brands: db, Shows: db})
		f.Archive = db
		return f
	})
}

func BenchmarkKeepLines(b *testing.B) {
	db := open(b, filepath.Join(b.TempDir(), "pavilion.db"))
	f := chattest.NewFixture(b, db, storetest.Stores{Accounts: db, Brands: db, Shows: db})
	f.Archive = db
	chattest.BenchKeepLines(b, f)
}
