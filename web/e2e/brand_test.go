package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestBrandConsole: a brand admin's calendar, stock, hub, analytics and
// orders; then a Pavilion Day booked, and a second brand refused the same
// day with the holder's name shown plainly.
func TestBrandConsole(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)

	admin := b.newUser(t, s, "brand admin")
	admin.open("/brand")
	admin.waitFor("the log-in prompt", `!document.querySelector("#gate").hidden`, 10*time.Second)
	admin.do("open the log-in dialog", chromedp.Click(chromedp.ID("gate-login")), chromedp.WaitVisible(chromedp.ID("auth-email")))
	admin.fillLogin(demo.BrandAdminEmail)
	admin.waitFor("the console", `!document.querySelector("#console").hidden && document.querySelector("#cal .day")`, 10*time.Second)
	admin.waitFor("the demo show on the calendar", `[...document.querySelectorAll("#cal .ev")].some((e) => e.textContent.includes("Autumn Runway Live"))`, 5*time.Second)
	admin.screenshots("brand-calendar")
	admin.checkA11y("brand console")
	admin.checkTabOrder("brand console", `document.querySelector("#cal .day")`)
	admin.do("week view", chromedp.SetValue(chromedp.ID("cal-view"), "week"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#cal-view").dispatchEvent(new Event("change"))`))
	admin.waitFor("seven days", `document.querySelectorAll("#cal .day").length === 7`, 5*time.Second)
	admin.screenshots("brand-calendar-week")

	// Stock: set a SKU's units on hand and see the API agree.
	admin.do("products", chromedp.Click(chromedp.ID("tab-products")))
	admin.waitFor("the SKU rows", `document.querySelector("#prod-rows [data-sku]")`, 5*time.Second)
	sku := eval[string](admin, `document.querySelector("#prod-rows [data-sku]").dataset.sku`)
	_ = eval[bool](admin, `(document.querySelector("#stock-`+sku+`").value = "33", true)`)
	admin.do("save the SKU", chromedp.Click(chromedp.CSS(`[data-sku="`+sku+`"] button`)))
	admin.waitFor("saved", `document.querySelector("#toast") && document.querySelector("#toast").textContent === "Saved."`, 5*time.Second)
	var skuOut struct {
		Products []struct {
			SKUs []struct {
				ID     string `json:"id"`
				OnHand int    `json:"on_hand"`
			} `json:"skus"`
		} `json:"products"`
	}
	var brands struct {
		Brands []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"brands"`
	}
	apiCall(t, s, "GET", "/api/brands", "", nil, &brands)
	apiCall(t, s, "GET", "/api/brands/"+brands.Brands[0].ID+"/products", "", nil, &skuOut)
	found := false
	for _, p := range skuOut.Products {
		for _, k := range p.SKUs {
			if k.ID == sku {
				found = true
				if k.OnHand != 33 {
					t.Errorf("SKU on hand %d after saving 33", k.OnHand)
				}
			}
		}
	}
	if !found {
		t.Errorf("SKU %s not in the brand's products", sku)
	}
	admin.screenshots("brand-products")
	admin.checkA11y("products")
	for _, tab := range []string{"hub", "analytics", "orders"} {
		admin.do(tab, chromedp.Click(chromedp.ID("tab-"+tab)))
		admin.waitFor(tab+" panel", `!document.querySelector("#p-`+tab+`").hidden`, 5*time.Second)
		if tab == "analytics" {
			admin.waitFor("the analytics", `document.querySelector("#a-body").children.length > 0`, 10*time.Second)
		}
		admin.screenshots("brand-" + tab)
		admin.checkA11y(tab)
	}

	// 5. A Pavilion Day three days from now, then a second brand tries it.
	day := time.Now().AddDate(0, 0, 3).Format("2006-01-02")
	book := func(u *user, title string) {
		u.do("calendar", chromedp.Click(chromedp.ID("tab-calendar")))
		_ = eval[bool](u, `(() => {
		  const k = document.querySelector("#s-kind"); k.value = "pavilion_day"; k.dispatchEvent(new Event("change"));
		  document.querySelector("#s-start").value = "`+day+`T10:00";
		  document.querySelector("#s-end").value = "`+day+`T20:00";
		  return true;
		})()`)
		u.do("fill in the title", chromedp.SendKeys(chromedp.ID("s-title"), title))
		u.do("schedule", chromedp.Click(chromedp.ID("s-submit")))
		u.waitFor("an answer", `document.querySelector("#s-ok").textContent || document.querySelector("#s-error").textContent`, 10*time.Second)
	}
	book(admin, "Maison Lumière Pavilion Day")
	if e := eval[string](admin, `document.querySelector("#s-error").textContent`); e != "" {
		t.Fatalf("brand admin: booking the Pavilion Day failed: %s", e)
	}
	admin.waitFor("the day on the calendar", `document.querySelector('#cal [data-date="`+day+`"] .ev.pday')`, 5*time.Second)

	adminTok := token(t, s, demo.AdminEmail)
	var nb struct {
		Brand struct {
			ID string `json:"id"`
		} `json:"brand"`
	}
	if code := apiCall(t, s, "POST", "/api/brands", adminTok, map[string]string{"slug": "atelier-nord", "name": "Atelier Nord"}, &nb); code != http.StatusCreated {
		t.Fatalf("create the second brand: %d", code)
	}
	if code := apiCall(t, s, "POST", "/api/users", adminTok, map[string]any{
		"email": "nord@pavilion.example", "password": demoPassword, "display_name": "Nils (Atelier Nord)",
		"roles": []string{"brand_admin"}, "brand_ids": []string{nb.Brand.ID},
	}, nil); code != http.StatusCreated {
		t.Fatalf("create the second brand's admin: %d", code)
	}
	other := b.newUser(t, s, "second brand admin")
	other.open("/brand")
	other.do("open the log-in dialog", chromedp.Click(chromedp.ID("gate-login")), chromedp.WaitVisible(chromedp.ID("auth-email")))
	other.fillLogin("nord@pavilion.example")
	other.waitFor("the console", `!document.querySelector("#console").hidden && document.querySelector("#cal .day")`, 10*time.Second)
	other.do("go to the day's month", chromedp.Evaluate[chromedp.Void](`void 0`))
	book(other, "Atelier Nord Pavilion Day")
	msg := eval[string](other, `document.querySelector("#s-error").textContent`)
	if !strings.Contains(msg, "Maison Lumière") || !strings.Contains(msg, "clashes") {
		t.Errorf("second brand: conflict shown as %q, want the clash and the holder's name", msg)
	}
	other.screenshots("brand-conflict")
}
