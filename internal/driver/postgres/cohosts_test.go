package postgres

import (
	"testing"

	"github.com/pavilion-live/pavilion/internal/cohost/cohosttest"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

func TestCohostStore(t *testing.T) {
	cohosttest.Run(t, func(t *testing.T) cohosttest.Fixture {
		db := fresh(t)
		return cohosttest.NewFixture(t, db.Cohosts(), storetest.Stores{Accounts: db, Brands: db, Shows: db})
	})
}
