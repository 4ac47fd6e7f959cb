package e2e

import (
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/record/recordtest"
)

// TestReplayPlaysSeeksAndSells: a show published from a pion peer (real VP8
// and Opus) with a pin, then ended; the player page plays its replay in
// Chromium, a tap on the timeline seeks to the pin and shows its card, and
// the viewer buys from the replay while the brand keeps it on sale.
func TestReplayPlaysSeeksAndSells(t *testing.T) {
	testReplayPlaysSeeksAndSells(t, recordtest.Make(t, 4))
}

// TestMP4ReplayPlaysSeeksAndSells is the same for a host publishing H.264:
// the replay is a fragmented MP4, which Chromium plays and seeks.
func TestMP4ReplayPlaysSeeksAndSells(t *testing.T) {
	testReplayPlaysSeeksAndSells(t, recordtest.MakeH264(t, 4))
}

func testReplayPlaysSeeksAndSells(t *testing.T, clip *recordtest.Clip) {
	t.Setenv("PAVILION_END_GRACE", "1s")
	b := startBrowser(t)
	s := startServer(t)
	offer := demo.Offers(time.Now())[1].ID.String() // the carré: no per-customer limit
	hostTk := token(t, s, demo.HostEmail)
	var keyOut struct {
		Key string `json:"stream_key"`
	}
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/stream-key", hostTk, nil, &keyOut); code != http.StatusCreated {
		t.Fatalf("stream key: %d", code)
	}

	p := recordtest.Publish(t, s.base, demoShow, keyOut.Key, clip)
	time.Sleep(3 * time.Second)
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/pin", hostTk, map[string]any{"offer_id": offer}, nil); code != 200 {
		t.Fatalf("pin: %d", code)
	}
	pinAt := time.Since(p.First)
	time.Sleep(5 * time.Second)
	p.Leave()
	sent := time.Since(p.First)
	deadline := time.Now().Add(15 * time.Second)
	for {
		var sh struct {
			Show struct{ State string } `json:"show"`
		}
		apiCall(t, s, "GET", "/api/shows/"+demoShow, "", nil, &sh)
		if sh.Show.State == "ended" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the show did not end: %q", sh.Show.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code := apiCall(t, s, "PUT", "/api/shows/"+demoShow+"/replay/settings", token(t, s, demo.BrandAdminEmail),
		map[string]any{"record": true, "replay_sales_until": until}, nil); code != 200 {
		t.Fatalf("replay settings: %d", code)
	}

	viewer := b.newUser(t, s, "replay viewer")
	viewer.open("/shows/" + demoShow)
	viewer.login(demo.ViewerEmail)
	viewer.waitFor("the replay's media", `document.querySelector("#video").src.endsWith("/replay/media") && document.querySelector("#video").readyState >= 1`, 20*time.Second)
	if d := eval[float64](viewer, `document.querySelector("#video").duration`); math.Abs(d-sent.Seconds()) > 1.5 {
		t.Errorf("the replay lasts %.1f s in the browser; %v was published", d, sent)
	}
	viewer.waitFor("the timeline", `document.querySelector("#replay-marks button")`, 10*time.Second)
	viewer.screenshots("player-replay")
	viewer.checkA11y("player (replay)")

	viewer.do("tap the pin on the timeline", chromedp.Click(chromedp.CSS("#replay-marks button")))
	viewer.waitFor("the video at the pin", fmt.Sprintf(`Math.abs(document.querySelector("#video").currentTime * 1000 - %d) < 1500`, pinAt.Milliseconds()), 10*time.Second)
	viewer.waitFor("the pinned card", `!document.querySelector("#pinned").hidden && document.querySelector('#pinned [data-offer="`+offer+`"]')`, 10*time.Second)

	viewer.do("buy from the replay", chromedp.Click(chromedp.CSS(`#pinned [data-buy="`+offer+`"]`)))
	viewer.waitFor("the checkout sheet", `document.querySelector("#checkout").open`, 10*time.Second)
	_ = eval[bool](viewer, `(document.querySelector("#ship-name").value = "", document.querySelector("#card").value = "tok_visa", true)`)
	viewer.do("fill in the address",
		chromedp.SendKeys(chromedp.ID("ship-name"), "Vic Viewer"),
		chromedp.SendKeys(chromedp.ID("ship-line1"), "1 Rue de la Paix"),
		chromedp.SendKeys(chromedp.ID("ship-city"), "Paris"),
		chromedp.SendKeys(chromedp.ID("ship-postal"), "75002"),
		chromedp.SetValue(chromedp.ID("ship-country"), "FR"),
	)
	viewer.do("pay", chromedp.Click(chromedp.ID("co-pay")))
	viewer.waitFor("the order confirmation", `!document.querySelector("#co-done").hidden`, 15*time.Second)
	var orders struct {
		Orders []struct {
			OfferID string `json:"offer_id"`
			State   string `json:"state"`
		} `json:"orders"`
	}
	apiCall(t, s, "GET", "/api/orders", token(t, s, demo.ViewerEmail), nil, &orders)
	paid := false
	for _, o := range orders.Orders {
		paid = paid || (o.OfferID == offer && o.State == "paid")
	}
	if !paid {
		t.Errorf("no paid order for the replay's offer: %+v", orders.Orders)
	}
	if errs := viewer.consoleErrors(); errs != "" {
		t.Errorf("console errors:\n%s", errs)
	}
}
