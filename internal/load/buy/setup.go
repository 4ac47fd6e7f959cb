package buy

import (
	"context"
	"fmt"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
)

// prepareOffer creates the run's product and offer (--setup) or reads the
// existing --offer from its show.
func prepareOffer(ctx context.Context, c *apiclient.Client, cfg *buyConfig, runID string) (offerReport, error) {
	start := time.Now()
	if !cfg.setup {
		token := scenario.FirstSet(cfg.brandToken, cfg.AdminToken)
		o, err := apiclient.FindOffer(ctx, c, token, cfg.ShowID, cfg.offerID)
		if err != nil {
			return offerReport{}, err
		}
		return offerReport{ID: o.ID, ShowID: o.ShowID, SKUID: o.SKUID, Allocated: o.Allocated, PerCustomerLimit: o.PerCustomerLimit,
			SoldBefore: o.Sold, HeldBefore: o.Held, SetupSeconds: time.Since(start).Seconds()}, nil
	}

	o, err := apiclient.CreateOffer(ctx, c, cfg.brandToken, apiclient.NewOffer{
		BrandID: cfg.brandID, ShowID: cfg.ShowID, Name: "pavload drop " + runID, SKUCode: "PAVLOAD-" + runID,
		PriceMinor: cfg.price, Units: cfg.units, Limit: cfg.limit,
	})
	if err != nil {
		return offerReport{}, err
	}
	return offerReport{ID: o.ID, ShowID: o.ShowID, SKUID: o.SKUID, Allocated: o.Allocated, PerCustomerLimit: o.PerCustomerLimit,
		Fresh: true, SetupSeconds: time.Since(start).Seconds()}, nil
}

// createBuyers makes cfg.buyers token-only accounts as the platform admin,
// cfg.createWorkers at a time. The first failure stops the others.
func createBuyers(ctx context.Context, c *apiclient.Client, cfg *buyConfig, runID string) ([]apiclient.Account, apiclient.AccountsReport, error) {
	return apiclient.CreateAccounts(ctx, c, cfg.AdminToken, cfg.buyers, cfg.createWorkers, func(i int) (email, name string) {
		return fmt.Sprintf("pavload-%s-%06d@load.pavilion.example", runID, i), fmt.Sprintf("Buyer %d", i)
	})
}
