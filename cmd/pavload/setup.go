package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// offerJSON is an offer as the API shows it.
type offerJSON struct {
	ID               string `json:"id"`
	ShowID           string `json:"show_id"`
	SKUID            string `json:"sku_id"`
	Allocated        int    `json:"allocated"`
	PerCustomerLimit int    `json:"per_customer_limit"`
	Sold             int    `json:"sold"`
	Held             int    `json:"held"`
}

// showJSON is GET /api/shows/{id}.
type showJSON struct {
	Show struct {
		ID     string      `json:"id"`
		State  string      `json:"state"`
		Offers []offerJSON `json:"offers"`
	} `json:"show"`
}

// prepareOffer creates the run's product and offer (--setup) or reads the
// existing --offer from its show.
func prepareOffer(ctx context.Context, c *client, cfg *buyConfig, runID string) (offerReport, error) {
	start := time.Now()
	if !cfg.setup {
		token := firstSet(cfg.brandToken, cfg.adminToken)
		o, err := findOffer(ctx, c, token, cfg.showID, cfg.offerID)
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
	err := c.call(ctx, http.MethodPost, "/api/brands/"+url.PathEscape(cfg.brandID)+"/products", cfg.brandToken,
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
		Offer offerJSON `json:"offer"`
	}
	err = c.call(ctx, http.MethodPost, "/api/shows/"+url.PathEscape(cfg.showID)+"/offers", cfg.brandToken,
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

// findOffer reads a show and picks one of its offers.
func findOffer(ctx context.Context, c *client, token, showID, offerID string) (offerJSON, error) {
	var sh showJSON
	if err := c.call(ctx, http.MethodGet, "/api/shows/"+url.PathEscape(showID), token, nil, &sh, http.StatusOK); err != nil {
		return offerJSON{}, err
	}
	for _, o := range sh.Show.Offers {
		if o.ID == offerID {
			return o, nil
		}
	}
	return offerJSON{}, fmt.Errorf("offer %s is not one of show %s's %d offers", offerID, showID, len(sh.Show.Offers))
}

// buyer is one account of the crowd.
type buyer struct {
	ID    string
	Token string
}

// createBuyers makes cfg.buyers token-only accounts as the platform admin,
// cfg.createWorkers at a time. The first failure stops the others.
func createBuyers(ctx context.Context, c *client, cfg *buyConfig, runID string) ([]buyer, buyersReport, error) {
	return createAccounts(ctx, c, cfg.adminToken, cfg.buyers, cfg.createWorkers, func(i int) (email, name string) {
		return fmt.Sprintf("pavload-%s-%06d@load.pavilion.example", runID, i), fmt.Sprintf("Buyer %d", i)
	})
}

// createAccounts makes n token-only accounts (POST /api/users as the
// platform admin), workers at a time; names gives account i its email and
// display name. The first failure stops the others.
func createAccounts(ctx context.Context, c *client, adminToken string, n, workers int, names func(i int) (email, name string)) ([]buyer, buyersReport, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	buyers := make([]buyer, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(buyers) {
					return
				}
				var out struct {
					User struct {
						ID string `json:"id"`
					} `json:"user"`
					Token string `json:"token"`
				}
				email, name := names(i)
				err := c.call(ctx, http.MethodPost, "/api/users", adminToken, map[string]any{
					"email":        email,
					"display_name": name,
					"token_only":   true,
				}, &out, http.StatusCreated)
				if err == nil && out.Token == "" {
					err = fmt.Errorf("POST /api/users with token_only answered without a token")
				}
				if err != nil {
					cancel(fmt.Errorf("account %d: %w", i, err))
					return
				}
				buyers[i] = buyer{ID: out.User.ID, Token: out.Token}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	rep := buyersReport{Count: n, Workers: workers, Seconds: round3(took.Seconds())}
	if err := context.Cause(ctx); err != nil {
		return nil, rep, err
	}
	if n > 0 {
		rep.PerSec = round1(float64(n) / took.Seconds())
	}
	return buyers, rep, nil
}

// roomiestOffer picks the show's offer with the most units left, for stock
// changes that never sell it out.
func roomiestOffer(ctx context.Context, c *client, token, showID string) (string, error) {
	var sh showJSON
	if err := c.call(ctx, http.MethodGet, "/api/shows/"+url.PathEscape(showID), token, nil, &sh, http.StatusOK); err != nil {
		return "", err
	}
	best, left := "", 0
	for _, o := range sh.Show.Offers {
		if n := o.Allocated - o.Sold - o.Held; n > left {
			best, left = o.ID, n
		}
	}
	if best == "" {
		return "", fmt.Errorf("show %s has no offer with units left", showID)
	}
	return best, nil
}
