package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestBrandDataBank: a viewer's card is declined in the demo show, the
// brand admin opens the data bank and reads the lost intent in the table
// behind the chart, the funnel drawn as a funnel with its small groups
// masked, downloads a CSV table and tells the brand's followers about the
// show.
func TestBrandDataBank(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	viewerTk, adminTk := token(t, s, demo.ViewerEmail), token(t, s, demo.BrandAdminEmail)
	offer := demo.Offers(time.Now())[2].ID.String()
	var res struct {
		Reservation struct {
			ID string `json:"id"`
		} `json:"reservation"`
	}
	if code := apiCall(t, s, "POST", "/api/reservations", viewerTk, map[string]any{"offer_id": offer, "quantity": 1}, &res); code != 201 {
		t.Fatalf("reserve: %d", code)
	}
	ship := map[string]string{"name": "Vic", "line1": "1 Rue", "city": "Lyon", "country": "FR"}
	if code := apiCall(t, s, "POST", "/api/orders", viewerTk, map[string]any{"reservation_id": res.Reservation.ID, "shipping": ship, "payment_token": "tok_chargeDeclined"}, nil); code != 402 {
		t.Fatalf("declined card: %d", code)
	}
	var brands struct {
		Brands []struct {
			ID string `json:"id"`
		} `json:"brands"`
	}
	apiCall(t, s, "GET", "/api/brands", "", nil, &brands)
	brandID := brands.Brands[0].ID
	if code := apiCall(t, s, "PUT", "/api/brands/"+brandID+"/follow", viewerTk, nil, nil); code != 200 {
		t.Fatalf("follow: %d", code)
	}
	// The recorder writes every 5 s: wait until the API has the decline.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var in struct {
			Insights struct {
				LostTotals map[string]int `json:"lost_totals"`
			} `json:"insights"`
		}
		if code := apiCall(t, s, "GET", "/api/brands/"+brandID+"/insights", adminTk, nil, &in); code != 200 {
			t.Fatalf("insights: %d", code)
		}
		if in.Insights.LostTotals["payment_declined"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the declined card never reached the data bank: %v", in.Insights.LostTotals)
		}
		time.Sleep(500 * time.Millisecond)
	}

	admin := b.newUser(t, s, "brand admin")
	admin.open("/brand#bank")
	admin.login(demo.BrandAdminEmail)
	admin.waitFor("the data bank", `!document.querySelector("#p-bank").hidden && document.querySelector("#b-body svg.funnel-chart")`, 10*time.Second)
	if n := eval[int](admin, `document.querySelectorAll("#b-body svg.funnel-chart polygon").length`); n != 6 {
		t.Errorf("funnel bands = %d, want 6", n)
	}
	// One buyer-to-be is a group under ten: masked, in the chart and the table.
	if txt := eval[string](admin, `document.querySelector("#b-body table").textContent`); !strings.Contains(txt, "fewer than 10") {
		t.Errorf("funnel table = %q, want a masked group", txt)
	}
	row := eval[string](admin, `[...document.querySelectorAll("#b-body tr")].map((r) => r.textContent).find((t) => t.startsWith("Payment declined")) || ""`)
	if row != "Payment declined1" {
		t.Errorf("lost-intent row = %q", row)
	}
	csv := eval[string](admin, `(async () => {
	  const a = [...document.querySelectorAll("#b-body a[download]")].find((a) => a.href.includes("table=lost"));
	  return (await fetch(a.href)).text();
	})()`)
	if !strings.HasPrefix(csv, "show_id,offer_id,offer,sold_out") || !strings.HasSuffix(csv, ",1,0,1\n") {
		t.Errorf("lost CSV = %q", csv)
	}
	admin.screenshots("brand-bank")
	admin.checkA11y("data bank")

	admin.do("tell the followers", chromedp.SetValue(chromedp.ID("t-show"), demoShow), chromedp.Click(chromedp.CSS(`#tell button[type="submit"]`)))
	admin.waitFor("the followers told", `document.querySelector("#t-ok").textContent || document.querySelector("#t-error").textContent`, 10*time.Second)
	if ok := eval[string](admin, `document.querySelector("#t-ok").textContent`); ok != "1 followers told." {
		t.Errorf("tell followers: %q / %q", ok, eval[string](admin, `document.querySelector("#t-error").textContent`))
	}
}
