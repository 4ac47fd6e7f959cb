package e2e

import (
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestJustBoughtNotices: a purchase shows over another viewer's video as
// "<first name> <initial>. just bought …" and moves the product's sold
// counter; a buyer who opted out is "Someone".
func TestJustBoughtNotices(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	buyerTk := token(t, s, demo.ViewerEmail)
	offers := demo.Offers(time.Now())
	buy := func(i int) {
		t.Helper()
		var res struct {
			Reservation struct{ ID string } `json:"reservation"`
		}
		if code := apiCall(t, s, "POST", "/api/reservations", buyerTk, map[string]any{"offer_id": offers[i].ID.String(), "quantity": 1}, &res); code != 201 {
			t.Fatalf("reserve: HTTP %d", code)
		}
		if code := apiCall(t, s, "POST", "/api/orders", buyerTk, map[string]any{"reservation_id": res.Reservation.ID, "payment_token": "tok_visa",
			"shipping": map[string]string{"name": "Vic Viewer", "line1": "1 Rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"}}, nil); code != 201 {
			t.Fatalf("order: HTTP %d", code)
		}
	}
	watcher := b.newUser(t, s, "watcher")
	watcher.open("/shows/" + demoShow)
	watcher.waitFor("the room", `document.querySelector("#rail [data-offer]") && window.pavilionPlayer`, 10*time.Second)
	time.Sleep(time.Second) // the room's welcome

	buy(1)
	watcher.waitFor("the notice", `!document.querySelector("#bought-notice").hidden && document.querySelector("#bought-notice").textContent === "Vic V. just bought Silk carré 90"`, 10*time.Second)
	watcher.waitFor("the sold counter", `document.querySelector('#rail [data-offer="`+offers[1].ID.String()+`"] .sold')?.textContent === "1 sold"`, 10*time.Second)
	watcher.screenshots("player-bought")

	if code := apiCall(t, s, "PUT", "/api/me/privacy", buyerTk, map[string]any{"hide_purchases": true}, nil); code != 200 {
		t.Fatalf("opt out: HTTP %d", code)
	}
	buy(2)
	watcher.waitFor("the anonymous notice", `document.querySelector("#bought-notice").textContent === "Someone just bought Runway sneaker"`, 10*time.Second)
}
