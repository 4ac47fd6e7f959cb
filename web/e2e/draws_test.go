package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestFairDraw: the host opens a draw from the studio; a viewer enters from
// the player and sees it entered; the host draws it now; the viewer, the
// only entrant, sees that it won and finds its hold in the bag.
func TestFairDraw(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	ivory := demo.Offers(time.Now())[3].ID.String()

	host := b.newUser(t, s, "host")
	host.open("/studio/" + demoShow)
	host.login(demo.HostEmail)
	open := `#studio-offers [data-draw="` + ivory + `"]`
	host.waitFor("the open-draw button", `document.querySelector('`+open+`')`, 15*time.Second)
	host.do("open a draw", chromedp.Click(chromedp.CSS(open)))
	host.waitFor("the draw running", `document.querySelector('`+open+`').textContent === "Draw now"`, 10*time.Second)

	viewer := b.newUser(t, s, "viewer")
	viewer.open("/shows/" + demoShow)
	viewer.login(demo.ViewerEmail)
	enter := `#draws .draw-enter`
	viewer.waitFor("Enter the draw", `!document.querySelector("#draws").hidden && document.querySelector('`+enter+`')`, 10*time.Second)
	viewer.do("enter the draw", chromedp.Click(chromedp.CSS(enter)))
	viewer.waitFor("the entered state", `document.querySelector("#draws .draw-entered")`, 10*time.Second)

	host.do("draw now", chromedp.Click(chromedp.CSS(open)))
	viewer.waitFor("the result", `document.querySelector("#draws .draw-result")?.textContent.includes("You won")`, 10*time.Second)
	viewer.waitFor("the hold in the bag", `document.querySelectorAll("#holds-list li").length === 1`, 10*time.Second)
	host.waitFor("the studio's result", `document.querySelector('`+open+`').textContent === "Open draw"`, 10*time.Second)
	if errs := viewer.consoleErrors() + host.consoleErrors(); errs != "" {
		t.Fatal(errs)
	}
}
