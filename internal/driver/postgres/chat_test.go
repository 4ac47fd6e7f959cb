package postgres

import (
	"testing"

	"github.com/pavilion-live/pavilion/chat/chattest"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

func TestChatStore(t *testing.T) {
	chattest.Run(t, func(t *testing.T) chattest.Fixture {
		db := fresh(t)
		return chattest.NewFixture(t, db, storetest.Stores{Accounts: db, Brands: db, Shows: db})
	})
}

func TestChatArchive(t *testing.T) {
	chattest.RunArchive(t, func(t *testing.T) chattest.Fixture {
		db := fresh(t)
		f := chattest.NewFixture(t, db, storetest.Stores{Accounts: db, Brands: db, Shows: db})
		f.Archive = db
		return f
	})
}

func BenchmarkKeepLines(b *testing.B) {
	db := fresh(b)
	f := chattest.NewFixture(b, db, storetest.Stores{Accounts: db, Brands: db, Shows: db})
	f.Archive = db
	chattest.BenchKeepLines(b, f)
}
