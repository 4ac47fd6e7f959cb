package postgres

import (
	"testing"

	"github.com/pavilion-live/pavilion/internal/replay/replaytest"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

func TestReplayStore(t *testing.T) {
	replaytest.Run(t, func(t *testing.T) replaytest.Fixture {
		db := fresh(t)
		return replaytest.NewFixture(t, db, storetest.Stores{Accounts: db, Brands: db, Shows: db})
	})
}
