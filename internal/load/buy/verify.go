package buy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/measure"
	"github.com/pavilion-live/pavilion/internal/load/scenario"
)

// orderJSON is an order as the brand's listing shows it.
type orderJSON struct {
	ID       string `json:"id"`
	UserID   string `json:"user_id"`
	OfferID  string `json:"offer_id"`
	Quantity int    `json:"quantity"`
	State    string `json:"state"`
}

// orderTally is the brand's orders for the run's offer.
type orderTally struct {
	Total   int            `json:"total"`
	ByState map[string]int `json:"by_state"`
	// Units is the quantity in orders that still count (not cancelled or refunded).
	Units int `json:"units"`
	// Buyers is how many customers hold such orders; MaxPerBuyer the most units one holds.
	Buyers      int `json:"buyers"`
	MaxPerBuyer int `json:"max_per_buyer"`
	// OursPaid is how many of the orders this run placed the ledger lists as paid.
	OursPaid int `json:"ours_paid"`
	Pages    int `json:"pages"`

	perBuyer map[string]int
}

// maxOrderPages bounds the read-back: 200 orders a page.
const maxOrderPages = 5000

// tallyOrders pages through the brand's orders for the show and counts those of the offer.
func tallyOrders(ctx context.Context, c *apiclient.Client, cfg *buyConfig, offerID string, ours map[string]bool) (*orderTally, error) {
	t := &orderTally{ByState: map[string]int{}, perBuyer: map[string]int{}}
	const limit = 200
	for offset := 0; t.Pages < maxOrderPages; offset += limit {
		var page struct {
			Orders []orderJSON `json:"orders"`
		}
		path := fmt.Sprintf("/api/brands/%s/orders?show=%s&limit=%d&offset=%d",
			url.PathEscape(cfg.brandID), url.QueryEscape(cfg.ShowID), limit, offset)
		if err := c.Call(ctx, http.MethodGet, path, cfg.brandToken, nil, &page, http.StatusOK); err != nil {
			return nil, err
		}
		t.Pages++
		for _, o := range page.Orders {
			if o.OfferID != offerID {
				continue
			}
			t.Total++
			t.ByState[o.State]++
			if o.State != "cancelled" && o.State != "refunded" {
				t.Units += o.Quantity
				t.perBuyer[o.UserID] += o.Quantity
			}
			if ours[o.ID] && o.State == "paid" {
				t.OursPaid++
			}
		}
		if len(page.Orders) < limit {
			break
		}
	}
	t.Buyers = len(t.perBuyer)
	for _, n := range t.perBuyer {
		t.MaxPerBuyer = max(t.MaxPerBuyer, n)
	}
	return t, nil
}

// verify reads the offer and the orders back and checks the ledger against
// what the buyers were told.
func verify(ctx context.Context, c *apiclient.Client, cfg *buyConfig, rep *buyReport, st *stampede) verifyReport {
	v := verifyReport{Pass: true}
	add := func(name string, ok bool, format string, args ...any) {
		res := "PASS"
		if !ok {
			res, v.Pass = "FAIL", false
		}
		v.Checks = append(v.Checks, measure.Check{Name: name, Result: res, Detail: fmt.Sprintf(format, args...)})
	}
	skip := func(name, format string, args ...any) {
		v.Checks = append(v.Checks, measure.Check{Name: name, Result: "SKIP", Detail: fmt.Sprintf(format, args...)})
	}
	off := rep.Offer
	reserved := rep.Burst.count(outReserved) + rep.Sustained.count(outReserved)
	soldOutSeen := rep.Burst.count(outSoldOut)+rep.Sustained.count(outSoldOut) > 0

	// Server errors.
	failures := int64(0)
	for _, p := range []*phaseReport{rep.Burst, rep.Sustained} {
		if p != nil {
			failures += p.Failures
		}
	}
	if rep.Pay != nil {
		failures += rep.Pay.Phase.Failures
	}
	add("no server errors", failures == 0, "%d answers were 5xx or never came", failures)

	// The offer as the show lists it.
	token := scenario.FirstSet(cfg.brandToken, cfg.AdminToken)
	after, err := apiclient.FindOffer(ctx, c, token, off.ShowID, off.ID)
	if err != nil {
		add("read the offer back", false, "%v", err)
		return v
	}
	v.Offer = &after
	add("no oversell", after.Sold+after.Held <= after.Allocated,
		"sold %d + held %d <= allocated %d", after.Sold, after.Held, after.Allocated)

	free := off.Allocated - off.SoldBefore - off.HeldBefore
	if off.Fresh {
		add("ledger agrees with the buyers", after.Sold+after.Held == int(reserved),
			"sold %d + held %d == %d reservations answered 201", after.Sold, after.Held, reserved)
	} else {
		add("no more won than was free", int(reserved) <= free, "%d reserved <= %d free before the run", reserved, free)
	}

	// Sold out exactly: when demand certainly covered the stock, or the
	// server said sold out, every unit must have gone.
	perBuyer := int64(cfg.taps)
	if off.PerCustomerLimit > 0 {
		perBuyer = min(perBuyer, int64(off.PerCustomerLimit))
	}
	demand := int64(len(st.buyers)) * perBuyer
	if off.Fresh && (demand >= int64(free) || soldOutSeen) {
		add("sold out exactly", reserved == int64(free), "%d reserved == %d units", reserved, free)
	} else if off.Fresh {
		skip("sold out exactly", "not sold out: %d of %d units reserved, and the burst's demand (%d) was below the stock", reserved, free, demand)
	} else {
		skip("sold out exactly", "the offer existed before the run: others may hold its units")
	}

	// Per-customer limit, as the buyers saw it.
	if lim := off.PerCustomerLimit; lim > 0 {
		most := int32(0)
		over := 0
		for i := range st.won {
			n := st.won[i].Load()
			most = max(most, n)
			if n > int32(lim) {
				over++
			}
		}
		add("per-customer limit (answers)", over == 0, "%d buyers got more than %d reservation(s); the most one got is %d", over, lim, most)
	}

	// Orders, from the brand's listing.
	if cfg.brandToken == "" || cfg.brandID == "" {
		skip("orders", "no brand admin token or brand ID to read the orders with")
		return v
	}
	ours := map[string]bool{}
	if rep.Pay != nil {
		for _, id := range rep.Pay.orderIDs {
			ours[id] = true
		}
	}
	tally, err := tallyOrders(ctx, c, cfg, off.ID, ours)
	if err != nil {
		add("read the orders back", false, "%v", err)
		return v
	}
	v.Orders = tally
	if rep.Pay != nil {
		add("every winner paid", rep.Pay.Paid == reserved && tally.OursPaid == int(reserved),
			"%d reservations won, %d orders answered paid, %d of them listed as paid by the brand", reserved, rep.Pay.Paid, tally.OursPaid)
		if off.Fresh {
			add("no stray orders", tally.Total == int(reserved) && tally.Units <= off.Allocated,
				"%d orders (%d units) for the offer, %d expected", tally.Total, tally.Units, reserved)
		}
	} else {
		skip("every winner paid", "--pay=false: %d orders for the offer", tally.Total)
	}
	if lim := off.PerCustomerLimit; lim > 0 && tally.Total > 0 {
		over := 0
		for _, n := range tally.perBuyer {
			if n > lim {
				over++
			}
		}
		add("per-customer limit (ledger)", over == 0, "%d customers hold more than %d unit(s) in orders; the most one holds is %d", over, lim, tally.MaxPerBuyer)
	}
	return v
}
