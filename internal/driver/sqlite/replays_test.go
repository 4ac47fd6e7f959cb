package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/pavilion-live/pavilion/internal/replay/replaytest"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

func TestReplayStore(t *testing.T) {
	replaytest.Run(t, func(t *testing.T) replaytest.Fixture {
		db := open(t, filepath.Join(t.TempDir(), "pavilion.db"))
		return replaytest.NewFixture(t, db, storetest.Stores{Accounts: db, Brands: db, Shows: db})
	})
}
