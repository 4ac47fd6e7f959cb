package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestTripleTapOneHold: three quick taps on Buy are one intent to buy, one
// idempotency key, one hold (the sneaker allows two per customer, so extra
// holds would be accepted by the server); the holds list shows it, finds it
// again after a reload, and releases it.
func TestTripleTapOneHold(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	sneaker := demo.Offers(time.Now())[2].ID.String()
	viewerTk := token(t, s, demo.ViewerEmail)
	held := func() int {
		var out struct {
			Show struct {
				Offers []struct {
					ID   string `json:"id"`
					Held int    `json:"held"`
				} `json:"offers"`
			} `json:"show"`
		}
		apiCall(t, s, "GET", "/api/shows/"+demoShow, "", nil, &out)
		for _, o := range out.Show.Offers {
			if o.ID == sneaker {
				return o.Held
			}
		}
		t.Fatalf("offer %s not in the show", sneaker)
		return 0
	}
	myHolds := func() []string {
		var out struct {
			Reservations []struct {
				ID string `json:"id"`
			} `json:"reservations"`
		}
		if code := apiCall(t, s, "GET", "/api/reservations?show="+demoShow, viewerTk, nil, &out); code != 200 {
			t.Fatalf("GET /api/reservations: %d", code)
		}
		ids := []string{}
		for _, r := range out.Reservations {
			ids = append(ids, r.ID)
		}
		return ids
	}

	viewer := b.newUser(t, s, "viewer")
	viewer.open("/shows/" + demoShow)
	viewer.login(demo.ViewerEmail)
	buy := `#rail [data-buy="` + sneaker + `"]`
	viewer.waitFor("the buy button", `document.querySelector('`+buy+`') && !document.querySelector('`+buy+`').disabled`, 10*time.Second)
	// Three taps in one go, before any answer can come back.
	_ = eval[bool](viewer, `(() => { const b = document.querySelector('`+buy+`'); b.click(); b.click(); b.click(); return true; })()`)
	viewer.waitFor("the checkout sheet", `document.querySelector("#checkout").open`, 10*time.Second)
	viewer.waitFor("every tap answered", `!document.querySelector('#rail [data-offer="`+sneaker+`"] [aria-busy="true"]')`, 10*time.Second)
	time.Sleep(time.Second) // a stray second request would have landed by now
	if n := held(); n != 1 {
		t.Fatalf("three taps held %d units, want 1", n)
	}
	ids := myHolds()
	if len(ids) != 1 {
		t.Fatalf("the viewer has %d holds, want 1: %v", len(ids), ids)
	}
	row := `#holds-list [data-reservation="` + ids[0] + `"]`
	viewer.do("close the sheet", chromedp.Click(chromedp.ID("co-close")))
	viewer.waitFor("the hold in the list, counting down", `!document.querySelector("#my-holds").hidden && document.querySelector('`+row+`') && /\d:\d\d/.test(document.querySelector('`+row+` [data-hold-time]').textContent)`, 5*time.Second)
	if n := eval[int](viewer, `document.querySelectorAll("#holds-list [data-reservation]").length`); n != 1 {
		t.Fatalf("the holds list shows %d holds, want 1", n)
	}
	viewer.checkA11y("player (with a hold)")

	// A reload finds the hold again, with its card showing Check out.
	viewer.open("/shows/" + demoShow)
	viewer.waitFor("the hold after a reload", `document.querySelector('`+row+`') && document.querySelector('#rail [data-checkout="`+sneaker+`"]')`, 10*time.Second)
	viewer.screenshots("player-holds")

	// Releasing it from the list gives the unit back and says so.
	viewer.do("release the hold", chromedp.Click(chromedp.CSS(row+` [data-release]`)))
	viewer.waitFor("the list emptied", `document.querySelector("#my-holds").hidden && document.querySelector("#holds-status").textContent !== ""`, 10*time.Second)
	if n := held(); n != 0 {
		t.Fatalf("after the release %d units are held, want 0", n)
	}
	if ids := myHolds(); len(ids) != 0 {
		t.Fatalf("after the release the viewer has holds %v", ids)
	}
	viewer.waitFor("Buy again", `document.querySelector('`+buy+`') && !document.querySelector('`+buy+`').disabled`, 5*time.Second)
}
