package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestOrdersPage: a viewer's orders page lists what they bought with its
// picture, variant, show and state, and cancels a paid order; the
// player's confirmation and the top bar link to it.
func TestOrdersPage(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	viewerTk := token(t, s, demo.ViewerEmail)
	bleu := demo.Offers(time.Now())[4].ID.String() // the carré in bleu
	var res struct {
		Reservation struct{ ID string } `json:"reservation"`
	}
	if code := apiCall(t, s, "POST", "/api/reservations", viewerTk, map[string]any{"offer_id": bleu, "quantity": 1}, &res); code != 201 {
		t.Fatalf("reserve: HTTP %d", code)
	}
	var placed struct {
		Order struct{ ID, State string } `json:"order"`
	}
	if code := apiCall(t, s, "POST", "/api/orders", viewerTk, map[string]any{"reservation_id": res.Reservation.ID, "payment_token": "tok_visa",
		"shipping": map[string]string{"name": "Vic Viewer", "line1": "1 Rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"}}, &placed); code != 201 || placed.Order.State != "paid" {
		t.Fatalf("order: HTTP %d %+v", code, placed)
	}

	viewer := b.newUser(t, s, "viewer")
	viewer.open("/orders")
	viewer.waitFor("the log-in prompt", `!document.querySelector("#orders-gate").hidden`, 10*time.Second)
	viewer.login(demo.ViewerEmail)
	card := `#orders [data-order="` + placed.Order.ID + `"]`
	viewer.waitFor("the order", `document.querySelector('`+card+` img')?.complete && document.querySelector('`+card+` a')`, 10*time.Second)
	text := eval[string](viewer, `document.querySelector('`+card+`').textContent`)
	for _, want := range []string{"Silk carré 90", "bleu", "Autumn Runway Live", "€390.00", "Paid"} {
		if !strings.Contains(text, want) {
			t.Errorf("the order reads %q; want %q in it", text, want)
		}
	}
	if src := eval[string](viewer, `document.querySelector('`+card+` img').currentSrc`); !strings.Contains(src, "/media/") {
		t.Errorf("order picture %q", src)
	}
	if href := eval[string](viewer, `document.querySelector('`+card+` a').getAttribute("href")`); href != "/shows/"+demoShow {
		t.Errorf("the show link goes to %q", href)
	}
	if !eval[bool](viewer, `[...document.querySelectorAll("#nav-links a")].some((a) => a.getAttribute("href") === "/orders")`) {
		t.Error("no link to the orders page in the top bar")
	}
	viewer.screenshots("orders")
	viewer.checkA11y("orders")

	_ = eval[bool](viewer, `(window.confirm = () => true, true)`)
	_ = eval[bool](viewer, `(document.querySelector('`+card+` [data-cancel]').click(), true)`)
	viewer.waitFor("cancelled", `document.querySelector('`+card+` [data-state]').dataset.state === "cancelled" && !document.querySelector('`+card+` [data-cancel]')`, 10*time.Second)
	var got struct {
		Order struct{ State string } `json:"order"`
	}
	apiCall(t, s, "GET", "/api/orders/"+placed.Order.ID, viewerTk, nil, &got)
	if got.Order.State != "cancelled" {
		t.Errorf("the order is %q after cancelling", got.Order.State)
	}

	// The player's confirmation links here.
	viewer.open("/shows/" + demoShow)
	if href := eval[string](viewer, `document.querySelector("#co-orders").getAttribute("href")`); href != "/orders" {
		t.Errorf("the confirmation links to %q", href)
	}
}
