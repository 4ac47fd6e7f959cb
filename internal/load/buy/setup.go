package buy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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

	type skuIn struct {
		Code       string `json:"code"`
		PriceMinor int64  `json:"price_minor"`
		Currency   string `json:"currency"`
		OnHand     int    `json:"on_hand"`
	}
	var product struct {
		Product struct {
			ID   string `json:"id"`
			SKUs []struct {
				ID string `json:"id"`
			} `json:"skus"`
		} `json:"product"`
	}
	err := c.Call(ctx, http.MethodPost, "/api/brands/"+url.PathEscape(cfg.brandID)+"/products", cfg.brandToken,
		map[string]any{
			"name": "pavload drop " + runID,
			"skus": []skuIn{{Code: "PAVLOAD-" + runID, PriceMinor: cfg.price, Currency: "EUR", OnHand: cfg.units}},
		}, &product, http.StatusCreated)
	if err != nil {
		return offerReport{}, err
	}
	if len(product.Product.SKUs) != 1 {
		return offerReport{}, fmt.Errorf("the new product came back with %d SKUs, want 1", len(product.Product.SKUs))
	}
	var created struct {
		Offer apiclient.Offer `json:"offer"`
	}
	err = c.Call(ctx, http.MethodPost, "/api/shows/"+url.PathEscape(cfg.ShowID)+"/offers", cfg.brandToken,
		map[string]any{
			"sku_id":             product.Product.SKUs[0].ID,
			"price_minor":        cfg.price,
			"allocated":          cfg.units,
			"per_customer_limit": cfg.limit,
		}, &created, http.StatusCreated)
	if err != nil {
		return offerReport{}, err
	}
	o := created.Offer
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
