package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestStudioCouponGiveaway: the brand has a coupon; the host (who does not
// administer the brand) finds it in the studio's giveaway form beside the
// prize offers, picks it, the offer it is shown with and three winners, and
// starts the giveaway: the draw gives copies of that coupon, and the
// offer's card says it is running.
func TestStudioCouponGiveaway(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	brandTk := token(t, s, demo.BrandAdminEmail)
	var made struct {
		Coupon struct{ ID string } `json:"coupon"`
	}
	coupon := map[string]any{"code": "WIN100", "kind": "amount", "amount_off_minor": 10000, "currency": "EUR"}
	if code := apiCall(t, s, "POST", "/api/brands/"+demoBrandID(t, s)+"/coupons", brandTk, coupon, &made); code != 201 {
		t.Fatalf("making the coupon: HTTP %d", code)
	}
	withdrawn := map[string]any{"code": "GONE20", "kind": "percent", "percent_off": 20, "currency": "EUR"}
	var gone struct {
		Coupon struct{ ID string } `json:"coupon"`
	}
	if code := apiCall(t, s, "POST", "/api/brands/"+demoBrandID(t, s)+"/coupons", brandTk, withdrawn, &gone); code != 201 {
		t.Fatalf("making the second coupon: HTTP %d", code)
	}
	if code := apiCall(t, s, "PATCH", "/api/coupons/"+gone.Coupon.ID, brandTk, map[string]any{"disabled": true}, nil); code != 200 {
		t.Fatalf("withdrawing it: HTTP %d", code)
	}
	about := demo.Offers(time.Now())[1].ID.String() // CARRÉ ROUGE

	host := b.newUser(t, s, "host")
	host.open("/studio/" + demoShow)
	host.login(demo.HostEmail)
	pick := `#gw-prize option[data-coupon="WIN100"]`
	host.waitFor("the coupon in the giveaway form", `!document.querySelector("#giveaway-form").hidden && document.querySelector('`+pick+`')`, 15*time.Second)
	if got := eval[string](host, `document.querySelector('`+pick+`').textContent`); got != "€100.00 off with WIN100" {
		t.Errorf("the coupon reads %q", got)
	}
	if eval[bool](host, `!!document.querySelector('#gw-prize option[data-coupon="GONE20"]')`) {
		t.Error("a withdrawn coupon is offered as a prize")
	}
	if !eval[bool](host, `document.querySelector("#gw-about").closest(".field").hidden === (document.querySelector("#gw-prize").value.startsWith("offer:"))`) {
		t.Error("the offer picker is shown for a prize offer, or hidden for a coupon")
	}
	host.do("pick the coupon", chromedp.SetValue(chromedp.ID("gw-prize"), "coupon:"+made.Coupon.ID))
	_ = eval[bool](host, `document.querySelector("#gw-prize").dispatchEvent(new Event("change"))`)
	host.do("pick its offer, three winners, followers",
		chromedp.SetValue(chromedp.ID("gw-about"), about),
		chromedp.SetValue(chromedp.ID("gw-units"), "3"),
		chromedp.SetValue(chromedp.ID("gw-who"), "followers"),
	)
	if eval[bool](host, `document.querySelector("#gw-about").closest(".field").hidden`) {
		t.Error("the offer picker is hidden for a coupon")
	}
	host.checkA11y("studio giveaway form")
	host.do("start the giveaway", chromedp.Click(chromedp.ID("gw-start")))
	running := `#studio-offers [data-draw="` + about + `"]`
	host.waitFor("the giveaway running on the offer's card", `document.querySelector('`+running+`')?.textContent === "Draw now"`, 10*time.Second)

	var draws struct {
		Draws []struct {
			OfferID       string `json:"offer_id"`
			Units         int    `json:"units"`
			Giveaway      bool   `json:"giveaway"`
			Eligibility   string `json:"eligibility"`
			PrizeCouponID string `json:"prize_coupon_id"`
			State         string `json:"state"`
		} `json:"draws"`
	}
	if code := apiCall(t, s, "GET", "/api/shows/"+demoShow+"/draws", "", nil, &draws); code != 200 || len(draws.Draws) != 1 {
		t.Fatalf("draws: HTTP %d %+v", code, draws.Draws)
	}
	if d := draws.Draws[0]; d.OfferID != about || d.Units != 3 || !d.Giveaway || d.Eligibility != "followers" || d.PrizeCouponID != made.Coupon.ID || d.State != "open" {
		t.Fatalf("the giveaway = %+v", d)
	}
	if errs := host.consoleErrors(); errs != "" {
		t.Fatal(errs)
	}
}
