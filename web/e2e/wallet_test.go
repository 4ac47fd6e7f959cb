package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestSavedAddressCheckoutAndBuyAgain: a first purchase in the player keeps
// the address (country chosen by name) and the card; the next checkout
// opens on them and pays in one tap; the orders page buys again with one
// confirmation.
func TestSavedAddressCheckoutAndBuyAgain(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	viewerTk := token(t, s, demo.ViewerEmail)
	offers := demo.Offers(time.Now())
	hold := func(i int) string {
		var res struct {
			Reservation struct{ ID string } `json:"reservation"`
		}
		if code := apiCall(t, s, "POST", "/api/reservations", viewerTk, map[string]any{"offer_id": offers[i].ID.String(), "quantity": 1}, &res); code != 201 {
			t.Fatalf("reserve offer %d: HTTP %d", i, code)
		}
		return res.Reservation.ID
	}

	viewer := b.newUser(t, s, "viewer")
	viewer.open("/")
	viewer.login(demo.ViewerEmail)

	// 1. The first checkout: no saved address yet, the form with a named country list.
	viewer.open("/shows/" + demoShow + "?checkout=" + hold(1))
	viewer.waitFor("the checkout sheet", `document.querySelector("#checkout").open && document.querySelector("#ship-country").options.length > 200`, 15*time.Second)
	if !eval[bool](viewer, `document.querySelector("#co-saved").hidden && !document.querySelector("#co-new").disabled`) {
		t.Fatal("a buyer with no saved address is not shown the address form")
	}
	if got := eval[string](viewer, `document.querySelector('#ship-country option[value="FR"]').textContent`); got != "France" {
		t.Errorf("country FR is named %q", got)
	}
	_ = eval[bool](viewer, `(document.querySelector("#ship-name").value = "", document.querySelector("#card").value = "tok_visa", true)`)
	viewer.do("fill in the address",
		chromedp.SendKeys(chromedp.ID("ship-name"), "Vic Viewer"),
		chromedp.SendKeys(chromedp.ID("ship-line1"), "1 Rue de la Paix"),
		chromedp.SendKeys(chromedp.ID("ship-city"), "Paris"),
		chromedp.SendKeys(chromedp.ID("ship-postal"), "75002"),
		chromedp.SetValue(chromedp.ID("ship-country"), "FR"),
	)
	if !eval[bool](viewer, `document.querySelector("#co-save-address").checked && document.querySelector("#co-remember").checked`) {
		t.Error("saving the address and remembering the card are not offered by default")
	}
	viewer.do("pay", chromedp.Click(chromedp.ID("co-pay")))
	viewer.waitFor("the order confirmation", `!document.querySelector("#co-done").hidden`, 15*time.Second)

	// 2. The next checkout opens on the saved address and card: one tap.
	viewer.open("/shows/" + demoShow + "?checkout=" + hold(2))
	viewer.waitFor("the sheet on the saved address and card", `document.querySelector("#checkout").open && !document.querySelector("#co-saved").hidden
		&& document.querySelector("#co-new").disabled && document.querySelector("#card").value === "saved"`, 15*time.Second)
	if got := eval[string](viewer, `document.querySelector("#co-address").selectedOptions[0].textContent`); !strings.Contains(got, "1 Rue de la Paix") || !strings.Contains(got, "France") {
		t.Errorf("the saved address reads %q", got)
	}
	if got := eval[string](viewer, `document.querySelector("#card").selectedOptions[0].textContent`); !strings.Contains(got, "•••• 4242") {
		t.Errorf("the saved card reads %q", got)
	}
	viewer.screenshots("player-checkout-saved")
	viewer.checkA11y("checkout with a saved address")
	viewer.do("pay in one tap", chromedp.Click(chromedp.ID("co-pay")))
	viewer.waitFor("the second confirmation", `!document.querySelector("#co-done").hidden`, 15*time.Second)
	var orders struct {
		Orders []struct {
			State    string
			Shipping struct{ Line1, Country string }
		} `json:"orders"`
	}
	apiCall(t, s, "GET", "/api/orders", viewerTk, nil, &orders)
	if len(orders.Orders) != 2 || orders.Orders[0].Shipping.Line1 != "1 Rue de la Paix" || orders.Orders[0].Shipping.Country != "FR" || orders.Orders[0].State != "paid" {
		t.Fatalf("orders after the one-tap checkout: %+v", orders.Orders)
	}

	// 3. Buy again from the orders page: one confirmation, paid.
	viewer.open("/orders")
	viewer.waitFor("the buy-again buttons", `document.querySelectorAll("#orders [data-again]").length === 2`, 10*time.Second)
	_ = eval[bool](viewer, `(window.confirm = (q) => (window.asked = q, true), true)`)
	_ = eval[bool](viewer, `(document.querySelectorAll("#orders [data-again]")[1].click(), true)`)
	viewer.waitFor("bought again", `document.querySelectorAll("#orders [data-again]").length === 3`, 15*time.Second)
	if asked := eval[string](viewer, `window.asked`); !strings.Contains(asked, "•••• 4242") || !strings.Contains(asked, "1 Rue de la Paix") {
		t.Errorf("the buy-again question %q does not say which card and address", asked)
	}
	if got := eval[string](viewer, `document.querySelector("#orders-status").textContent`); !strings.Contains(got, "again") {
		t.Errorf("after buying again the page says %q", got)
	}
	viewer.screenshots("orders-buy-again")
	apiCall(t, s, "GET", "/api/orders", viewerTk, nil, &orders)
	if len(orders.Orders) != 3 || orders.Orders[0].State != "paid" {
		t.Fatalf("orders after buying again: %+v", orders.Orders)
	}
}
