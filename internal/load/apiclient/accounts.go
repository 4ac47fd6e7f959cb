package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// Offer is an offer as the API shows it.
type Offer struct {
	ID               string `json:"id"`
	ShowID           string `json:"show_id"`
	SKUID            string `json:"sku_id"`
	Allocated        int    `json:"allocated"`
	PerCustomerLimit int    `json:"per_customer_limit"`
	Sold             int    `json:"sold"`
	Held             int    `json:"held"`
}

// Show is GET /api/shows/{id}.
type Show struct {
	Show struct {
		ID     string  `json:"id"`
		State  string  `json:"state"`
		Offers []Offer `json:"offers"`
	} `json:"show"`
}

// FindOffer reads a show and picks one of its offers.
func FindOffer(ctx context.Context, c *Client, token, showID, offerID string) (Offer, error) {
	var sh Show
	if err := c.Call(ctx, http.MethodGet, "/api/shows/"+url.PathEscape(showID), token, nil, &sh, http.StatusOK); err != nil {
		return Offer{}, err
	}
	for _, o := range sh.Show.Offers {
		if o.ID == offerID {
			return o, nil
		}
	}
	return Offer{}, fmt.Errorf("offer %s is not one of show %s's %d offers", offerID, showID, len(sh.Show.Offers))
}

// Account is one account of the crowd.
type Account struct {
	ID    string
	Token string
}

// CreateAccounts makes n token-only accounts (POST /api/users as the
// platform admin), workers at a time; names gives account i its email and
// display name. The first failure stops the others.
func CreateAccounts(ctx context.Context, c *Client, adminToken string, n, workers int, names func(i int) (email, name string)) ([]Account, AccountsReport, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	buyers := make([]Account, n)
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
				err := c.Call(ctx, http.MethodPost, "/api/users", adminToken, map[string]any{
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
				buyers[i] = Account{ID: out.User.ID, Token: out.Token}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	rep := AccountsReport{Count: n, Workers: workers, Seconds: measure.Round3(took.Seconds())}
	if err := context.Cause(ctx); err != nil {
		return nil, rep, err
	}
	if n > 0 {
		rep.PerSec = measure.Round1(float64(n) / took.Seconds())
	}
	return buyers, rep, nil
}

// RoomiestOffer picks the show's offer with the most units left, for stock
// changes that never sell it out.
func RoomiestOffer(ctx context.Context, c *Client, token, showID string) (string, error) {
	var sh Show
	if err := c.Call(ctx, http.MethodGet, "/api/shows/"+url.PathEscape(showID), token, nil, &sh, http.StatusOK); err != nil {
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

// AccountsReport is how the run's accounts were made, and how fast.
type AccountsReport struct {
	Count   int     `json:"count"`
	Workers int     `json:"workers"`
	Seconds float64 `json:"seconds"`
	PerSec  float64 `json:"per_sec"`
}

// ReservationID reads the ID from a 201 answer to POST /api/reservations.
func ReservationID(body []byte) string {
	var out struct {
		Reservation struct {
			ID string `json:"id"`
		} `json:"reservation"`
	}
	_ = json.Unmarshal(body, &out)
	return out.Reservation.ID
}

// NewOffer is what CreateOffer makes: a product with one SKU of units in
// stock, offered on a show with all of them allocated.
type NewOffer struct {
	BrandID, ShowID string
	Name, SKUCode   string
	PriceMinor      int64
	Units           int
	Limit           int // per customer; 0: none
}

// CreateOffer makes a fresh product and its offer as the brand admin
// (token), so that a run starts from stock nobody else touched.
func CreateOffer(ctx context.Context, c *Client, token string, n NewOffer) (Offer, error) {
	type skuIn struct {
		Code       string `json:"code"`
		PriceMinor int64  `json:"price_minor"`
		Currency   string `json:"currency"`
		OnHand     int    `json:"on_hand"`
	}
	var product struct {
		Product struct {
			SKUs []struct {
				ID string `json:"id"`
			} `json:"skus"`
		} `json:"product"`
	}
	err := c.Call(ctx, http.MethodPost, "/api/brands/"+url.PathEscape(n.BrandID)+"/products", token,
		map[string]any{"name": n.Name, "skus": []skuIn{{Code: n.SKUCode, PriceMinor: n.PriceMinor, Currency: "EUR", OnHand: n.Units}}},
		&product, http.StatusCreated)
	if err != nil {
		return Offer{}, err
	}
	if len(product.Product.SKUs) != 1 {
		return Offer{}, fmt.Errorf("the new product came back with %d SKUs, want 1", len(product.Product.SKUs))
	}
	var created struct {
		Offer Offer `json:"offer"`
	}
	err = c.Call(ctx, http.MethodPost, "/api/shows/"+url.PathEscape(n.ShowID)+"/offers", token,
		map[string]any{"sku_id": product.Product.SKUs[0].ID, "price_minor": n.PriceMinor, "allocated": n.Units, "per_customer_limit": n.Limit},
		&created, http.StatusCreated)
	return created.Offer, err
}
