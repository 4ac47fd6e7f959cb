package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// fillAddress fills the checkout sheet's new-address form and picks the test card.
func (u *user) fillAddress() {
	_ = eval[bool](u, `(document.querySelector("#ship-name").value = "", document.querySelector("#card").value = "tok_visa", true)`)
	u.do("fill in the address",
		chromedp.SendKeys(chromedp.ID("ship-name"), "Vic Viewer"),
		chromedp.SendKeys(chromedp.ID("ship-line1"), "1 Rue de la Paix"),
		chromedp.SendKeys(chromedp.ID("ship-city"), "Paris"),
		chromedp.SendKeys(chromedp.ID("ship-postal"), "75002"),
		chromedp.SetValue(chromedp.ID("ship-country"), "FR"),
	)
}

func demoBrandID(t *testing.T, s *server) string {
	t.Helper()
	var out struct {
		Show struct {
			BrandID string `json:"brand_id"`
		} `json:"show"`
	}
	if code := apiCall(t, s, "GET", "/api/shows/"+demoShow, "", nil, &out); code != 200 || out.Show.BrandID == "" {
		t.Fatalf("reading the demo show: HTTP %d", code)
	}
	return out.Show.BrandID
}

// TestCouponAtCheckout: the brand makes a show coupon; the player shows
// "€50.00 off with LUMIERE50"; a tap claims it; the checkout sheet applies
// it and shows the discounted total; the order is paid at that total.
func TestCouponAtCheckout(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	brandTk, viewerTk := token(t, s, demo.BrandAdminEmail), token(t, s, demo.ViewerEmail)
	coupon := map[string]any{"code": "LUMIERE50", "show_id": demoShow, "kind": "amount", "amount_off_minor": 5000,
		"currency": "EUR", "per_customer": 1}
	if code := apiCall(t, s, "POST", "/api/brands/"+demoBrandID(t, s)+"/coupons", brandTk, coupon, nil); code != 201 {
		t.Fatalf("making the coupon: HTTP %d", code)
	}
	offer := demo.Offers(time.Now())[1] // CARRÉ ROUGE, €390
	var res struct {
		Reservation struct{ ID string } `json:"reservation"`
	}
	if code := apiCall(t, s, "POST", "/api/reservations", viewerTk, map[string]any{"offer_id": offer.ID.String(), "quantity": 1}, &res); code != 201 {
		t.Fatalf("reserve: HTTP %d", code)
	}

	viewer := b.newUser(t, s, "viewer")
	viewer.open("/shows/" + demoShow)
	viewer.login(demo.ViewerEmail)
	chip := `#coupons [data-coupon="LUMIERE50"]`
	viewer.waitFor("the coupon chip", `!document.querySelector("#coupons").hidden && document.querySelector('`+chip+`')`, 15*time.Second)
	if got := eval[string](viewer, `document.querySelector('`+chip+` strong').textContent`); got != "€50.00 off with LUMIERE50" {
		t.Errorf("the chip reads %q", got)
	}
	viewer.do("claim the coupon", chromedp.Click(chromedp.CSS(chip)))
	viewer.waitFor("the claimed chip", `document.querySelector('`+chip+`').getAttribute("aria-pressed") === "true"`, 5*time.Second)

	viewer.open("/shows/" + demoShow + "?checkout=" + res.Reservation.ID)
	viewer.waitFor("the checkout sheet with the coupon applied", `document.querySelector("#checkout").open && !document.querySelector("#co-total").hidden`, 15*time.Second)
	if got := eval[string](viewer, `document.querySelector("#co-coupon").value`); got != "LUMIERE50" {
		t.Errorf("the code field holds %q", got)
	}
	total := eval[string](viewer, `document.querySelector("#co-total").textContent`)
	pay := eval[string](viewer, `document.querySelector("#co-pay").textContent`)
	if !strings.Contains(total, "€390.00") || !strings.Contains(total, "€50.00") || !strings.Contains(total, "€340.00") || !strings.Contains(pay, "€340.00") {
		t.Errorf("the sheet shows %q and a button %q, want €390.00 − €50.00 = €340.00", total, pay)
	}
	viewer.fillAddress()
	viewer.do("pay", chromedp.Click(chromedp.ID("co-pay")))
	viewer.waitFor("the order confirmation", `!document.querySelector("#co-done").hidden`, 15*time.Second)
	if done := eval[string](viewer, `document.querySelector("#co-done-body").textContent`); !strings.Contains(done, "340.00") {
		t.Errorf("the confirmation %q does not show the discounted total", done)
	}
	var orders struct {
		Orders []struct {
			TotalMinor    int64  `json:"total_minor"`
			DiscountMinor int64  `json:"discount_minor"`
			CouponCode    string `json:"coupon_code"`
		} `json:"orders"`
	}
	if code := apiCall(t, s, "GET", "/api/orders", viewerTk, nil, &orders); code != 200 || len(orders.Orders) != 1 ||
		orders.Orders[0].TotalMinor != 34000 || orders.Orders[0].DiscountMinor != 5000 || orders.Orders[0].CouponCode != "LUMIERE50" {
		t.Fatalf("orders: HTTP %d %+v", code, orders.Orders)
	}
	if errs := viewer.consoleErrors(); errs != "" {
		t.Fatal(errs)
	}
}

// TestGiveawayStudioToClaim: the brand adds a prize (an offer at price 0);
// the host starts a giveaway on it from the studio; a viewer enters from
// the player, wins when the host draws, and claims the prize from the bag
// with an address and nothing to pay.
func TestGiveawayStudioToClaim(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	brandTk := token(t, s, demo.BrandAdminEmail)
	sku := demo.Offers(time.Now())[4].SKUID // CARRÉ BLEU
	var made struct {
		Offer struct{ ID string } `json:"offer"`
	}
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/offers", brandTk,
		map[string]any{"sku_id": sku.String(), "price_minor": 0, "allocated": 1, "per_customer_limit": 1}, &made); code != 201 {
		t.Fatalf("adding the prize: HTTP %d", code)
	}
	prize := made.Offer.ID

	host := b.newUser(t, s, "host")
	host.open("/studio/" + demoShow)
	host.login(demo.HostEmail)
	start := `#studio-offers [data-draw="` + prize + `"]`
	host.waitFor("the start-giveaway button", `document.querySelector('`+start+`')?.textContent === "Start giveaway"`, 15*time.Second)
	host.do("start the giveaway", chromedp.Click(chromedp.CSS(start)))
	host.waitFor("the giveaway running", `document.querySelector('`+start+`').textContent === "Draw now"`, 10*time.Second)

	viewer := b.newUser(t, s, "viewer")
	viewer.open("/shows/" + demoShow)
	viewer.login(demo.ViewerEmail)
	enter := `#draws .draw-enter`
	viewer.waitFor("Enter the giveaway", `document.querySelector('`+enter+`')?.textContent === "Enter the giveaway"`, 10*time.Second)
	viewer.do("enter the giveaway", chromedp.Click(chromedp.CSS(enter)))
	viewer.waitFor("the entered state", `document.querySelector("#draws .draw-entered")`, 10*time.Second)

	host.do("draw now", chromedp.Click(chromedp.CSS(start)))
	viewer.waitFor("told live that it won", `document.querySelector("#draws .draw-result")?.textContent.includes("You won")`, 10*time.Second)
	viewer.waitFor("the prize in the bag", `document.querySelectorAll("#holds-list li").length === 1`, 10*time.Second)
	viewer.do("open the claim", chromedp.Click(chromedp.CSS(`#holds-list li .primary`)))
	viewer.waitFor("the checkout sheet", `document.querySelector("#checkout").open`, 10*time.Second)
	if got := eval[string](viewer, `document.querySelector("#co-pay").textContent`); got != "Claim prize" {
		t.Errorf("the sheet's button reads %q", got)
	}
	viewer.fillAddress()
	viewer.do("claim", chromedp.Click(chromedp.ID("co-pay")))
	viewer.waitFor("the claim confirmed", `!document.querySelector("#co-done").hidden`, 15*time.Second)
	var offer struct {
		Show struct {
			Offers []struct {
				ID   string `json:"id"`
				Sold int    `json:"sold"`
				Held int    `json:"held"`
			} `json:"offers"`
		} `json:"show"`
	}
	if code := apiCall(t, s, "GET", "/api/shows/"+demoShow, "", nil, &offer); code != 200 {
		t.Fatalf("reading the show: HTTP %d", code)
	}
	for _, o := range offer.Show.Offers {
		if o.ID == prize && (o.Sold != 1 || o.Held != 0) {
			t.Fatalf("the prize's stock: sold %d held %d, want 1 and 0", o.Sold, o.Held)
		}
	}
	if errs := viewer.consoleErrors() + host.consoleErrors(); errs != "" {
		t.Fatal(errs)
	}
}

// TestBrandConsoleCoupons: a brand admin makes a coupon for the demo show
// in the console's Coupons tab, sees it listed with its bounds, and
// withdraws it; the player then no longer offers it.
func TestBrandConsoleCoupons(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	admin := b.newUser(t, s, "brand admin")
	admin.open("/brand#coupons")
	admin.waitFor("the log-in prompt", `!document.querySelector("#gate").hidden`, 10*time.Second)
	admin.do("open the log-in dialog", chromedp.Click(chromedp.ID("gate-login")), chromedp.WaitVisible(chromedp.ID("auth-email")))
	admin.fillLogin(demo.BrandAdminEmail)
	admin.waitFor("the coupons tab", `!document.querySelector("#p-coupons").hidden && document.querySelector("#cp-show").options.length > 1`, 10*time.Second)
	admin.do("fill in a coupon",
		chromedp.SendKeys(chromedp.ID("cp-code"), "lumiere50"),
		chromedp.SetValue(chromedp.ID("cp-show"), demoShow),
		chromedp.SendKeys(chromedp.ID("cp-value"), "50"),
		chromedp.SendKeys(chromedp.ID("cp-max"), "10"),
		chromedp.SendKeys(chromedp.ID("cp-budget"), "400"),
	)
	admin.checkA11y("brand console coupons")
	admin.do("create it", chromedp.Click(chromedp.CSS(`#cp-form button[type="submit"]`)))
	row := `#cp-rows [data-coupon="LUMIERE50"]`
	admin.waitFor("the coupon listed", `document.querySelector('`+row+`')`, 10*time.Second)
	text := eval[string](admin, `document.querySelector('`+row+`').textContent`)
	for _, want := range []string{"€50.00 off", "Autumn Runway Live", "0 / 10", "€0.00 / €400.00", "Active"} {
		if !strings.Contains(text, want) {
			t.Errorf("the row %q lacks %q", text, want)
		}
	}
	var seen struct {
		Coupons []struct{ Code string } `json:"coupons"`
	}
	if apiCall(t, s, "GET", "/api/shows/"+demoShow+"/coupons", "", nil, &seen); len(seen.Coupons) != 1 || seen.Coupons[0].Code != "LUMIERE50" {
		t.Fatalf("viewers see %+v", seen.Coupons)
	}
	admin.do("withdraw it", chromedp.Click(chromedp.CSS(row+` button`)))
	admin.waitFor("withdrawn", `document.querySelector('`+row+`').textContent.includes("Withdrawn")`, 10*time.Second)
	if apiCall(t, s, "GET", "/api/shows/"+demoShow+"/coupons", "", nil, &seen); len(seen.Coupons) != 0 {
		t.Fatalf("a withdrawn coupon is still offered: %+v", seen.Coupons)
	}
	if errs := admin.consoleErrors(); errs != "" {
		t.Fatal(errs)
	}
}
