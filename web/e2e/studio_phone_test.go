package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestStudioPhoneMode: a host runs the show from a phone: the camera films
// upright and fills the screen, the figures float over it, the controls are
// big, flipping the camera keeps the broadcast, and pinning and drops work
// from the products' bottom sheet.
func TestStudioPhoneMode(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	offer := demo.Offers(time.Now())[1].ID.String() // the carré
	host := b.newUser(t, s, "host on a phone")
	host.do("phone size", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	host.open("/studio/" + demoShow)
	host.do("open the log-in dialog", chromedp.Click(chromedp.ID("gate-login")), chromedp.WaitVisible(chromedp.ID("auth-email")))
	host.fillLogin(demo.HostEmail)
	host.waitFor("the studio", `!document.querySelector("#studio").hidden`, 10*time.Second)
	host.do("go live", chromedp.Click(chromedp.ID("go-live")))
	host.waitFor("the broadcast", `document.querySelector("#live-state").dataset.state === "live"`, 20*time.Second)
	host.waitFor("an upright camera", `document.querySelector("#preview").videoHeight > document.querySelector("#preview").videoWidth`, 10*time.Second)
	if r := eval[map[string]float64](host, `document.querySelector("#preview").getBoundingClientRect().toJSON()`); r["height"] < 500 || r["width"] < 330 {
		t.Errorf("the camera preview is %.0f×%.0f px on a 390×844 phone: it does not fill the screen", r["width"], r["height"])
	}
	if h := eval[float64](host, `document.querySelector("#stop").getBoundingClientRect().height`); h < 48 {
		t.Errorf("the stop button is %.0f px tall on a phone, want at least 48", h)
	}
	host.waitFor("the figures over the camera", `/watching/.test(document.querySelector("#ph-viewers").textContent)`, 10*time.Second)
	if !eval[bool](host, `document.querySelector("#products-sheet").getBoundingClientRect().top >= innerHeight`) {
		t.Error("the products sheet is open before it is asked for")
	}
	host.screenshots("studio-phone")
	host.do("phone size again", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))

	// Flip to the other camera: the broadcast stays on.
	host.do("flip the camera", chromedp.Click(chromedp.ID("flip")))
	time.Sleep(time.Second)
	if st := eval[string](host, `document.querySelector("#live-state").dataset.state`); st != "live" {
		t.Errorf("after flipping the camera the broadcast is %q", st)
	}

	// Pin and open a drop from the bottom sheet.
	host.do("open the products", chromedp.Click(chromedp.ID("products-open")))
	host.waitFor("the sheet", `document.body.classList.contains("products-open") && document.querySelector("#products-open").getAttribute("aria-expanded") === "true"`, 5*time.Second)
	host.waitFor("the sheet in view", `(() => { const r = document.querySelector("#products-sheet").getBoundingClientRect(); return r.top < innerHeight && r.bottom <= innerHeight + 1; })()`, 5*time.Second)
	_ = eval[bool](host, `(document.querySelector('#products-sheet [data-pin="`+offer+`"]').click(), true)`)
	host.waitFor("pinned", `document.querySelector('#products-sheet [data-pin="`+offer+`"]').getAttribute("aria-pressed") === "true"`, 10*time.Second)
	_ = eval[bool](host, `(document.querySelector('#products-sheet [data-drop="`+offer+`"]').click(), true)`)
	host.waitFor("the drop open", `document.querySelector('#studio-offers [data-offer="`+offer+`"] .drop.open')`, 10*time.Second)
	host.checkA11y("studio on a phone")
	host.screenshots("studio-phone-products")
	host.do("phone size again", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	host.do("close the sheet", chromedp.Click(chromedp.ID("products-close")))
	host.waitFor("the sheet closed", `!document.body.classList.contains("products-open")`, 5*time.Second)
}
