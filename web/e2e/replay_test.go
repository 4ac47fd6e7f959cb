package e2e

import (
	"encoding/json"
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
	waitEnded(t, s)
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

// TestCoHostReplayFollowsTheLayout: a host and a guest publish into the
// show from pion peers (real VP8 and Opus), the host switches the layout
// to picture in picture, the guest leaves, the show ends. The replay page
// plays both recordings, the guest's kept in step with the host's, laid
// out side by side before the switch, in picture in picture after it, and
// the host alone once the guest left: seeking back and forth follows.
func TestCoHostReplayFollowsTheLayout(t *testing.T) {
	t.Setenv("PAVILION_END_GRACE", "1s")
	b := startBrowser(t)
	s := startServer(t)
	hostTk := token(t, s, demo.HostEmail)
	var keyOut struct {
		Key string `json:"stream_key"`
	}
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/stream-key", hostTk, nil, &keyOut); code != http.StatusCreated {
		t.Fatalf("stream key: %d", code)
	}
	var inv struct {
		Invite string `json:"invite"`
	}
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/guests", hostTk, map[string]any{"name": "Ana"}, &inv); code != http.StatusCreated {
		t.Fatalf("invite: %d", code)
	}
	var red struct {
		Key string `json:"guest_key"`
	}
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/guests/redeem", "", map[string]any{"invite": inv.Invite}, &red); code != http.StatusCreated {
		t.Fatalf("redeem: %d", code)
	}

	host := recordtest.Publish(t, s.base, demoShow, keyOut.Key, recordtest.Make(t, 4))
	time.Sleep(time.Second)
	guest := recordtest.Publish(t, s.base, demoShow+"?guest=1", red.Key, recordtest.Make(t, 3))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var st struct {
			Stage struct {
				GuestID *string `json:"guest_id"`
			} `json:"stage"`
		}
		apiCall(t, s, "GET", "/api/shows/"+demoShow+"/stage", "", nil, &st)
		if st.Stage.GuestID != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the guest never went on stage")
		}
	}
	time.Sleep(3 * time.Second)
	if code := apiCall(t, s, "PUT", "/api/shows/"+demoShow+"/stage", hostTk, map[string]any{"layout": "pip"}, nil); code != http.StatusOK {
		t.Fatalf("layout: %d", code)
	}
	time.Sleep(3 * time.Second)
	guest.Leave() // off air after the grace period
	time.Sleep(3 * time.Second)
	host.Leave()
	waitEnded(t, s)

	// The replay: the guest's media and the stage's marks.
	var rp struct {
		DurationMS int64 `json:"duration_ms"`
		Guest      *struct {
			URL        string `json:"url"`
			OffsetMS   int64  `json:"offset_ms"`
			DurationMS int64  `json:"duration_ms"`
		} `json:"guest"`
		Timeline []struct {
			AtMS   int64  `json:"at_ms"`
			Type   string `json:"type"`
			Layout string `json:"layout"`
		} `json:"timeline"`
	}
	var at map[string]int64
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		apiCall(t, s, "GET", "/api/shows/"+demoShow+"/replay", "", nil, &rp)
		at = map[string]int64{}
		for _, m := range rp.Timeline {
			at[m.Type+" "+m.Layout] = m.AtMS
		}
		if rp.Guest != nil && len(at) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replay %+v: want the guest and three stage marks", rp)
		}
	}
	joined, pip, left := at["guest_joined side-by-side"], at["layout pip"], at["guest_left pip"]
	if !(joined < pip && pip < left && left < rp.DurationMS) {
		t.Fatalf("stage marks %v in a replay of %d ms", at, rp.DurationMS)
	}
	if rp.Guest.OffsetMS < 0 || rp.Guest.OffsetMS > joined+1000 {
		t.Errorf("the guest's file starts at %d ms, the guest joined at %d", rp.Guest.OffsetMS, joined)
	}

	viewer := b.newUser(t, s, "replay viewer")
	viewer.open("/shows/" + demoShow)
	viewer.waitFor("both recordings", `document.querySelector("#video").src.endsWith("/replay/media") && document.querySelector("#video").readyState >= 1 &&
		document.querySelector("#guest-video")?.src.endsWith("/replay/guest/media") && document.querySelector("#guest-video").readyState >= 1`, 20*time.Second)
	seek := func(ms int64) {
		_ = eval[bool](viewer, fmt.Sprintf(`(document.querySelector("#video").currentTime = %f, true)`, float64(ms)/1000))
	}
	layout := `document.querySelector("#video-wrap").dataset.layout`
	boxShown := `!document.querySelector(".guest-box").hidden && document.querySelector("#video-wrap").classList.contains("costage")`

	// Before the switch: side by side, both playing, in step.
	seek((joined + pip) / 2)
	viewer.waitFor("side by side", layout+` === "side-by-side" && `+boxShown, 10*time.Second)
	_ = eval[bool](viewer, `(document.querySelector("#video").muted = true, document.querySelector("#video").play(), true)`)
	// In step: both playing, the guest where the host's time says (a
	// little behind or ahead while it catches up).
	state := fmt.Sprintf(`(() => { const h = document.querySelector("#video"), g = document.querySelector("#guest-video");
		return JSON.stringify({host: h.currentTime, hostPaused: h.paused, hostReady: h.readyState, guest: g.currentTime,
			guestPaused: g.paused, guestReady: g.readyState, rate: g.playbackRate, drift: g.currentTime - (h.currentTime - %f)}); })()`,
		float64(rp.Guest.OffsetMS)/1000)
	inStep := func(what string) {
		t.Helper()
		var last string
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
			last = eval[string](viewer, state)
			var st struct {
				HostPaused, GuestPaused bool
				Host, Drift             float64
			}
			if err := json.Unmarshal([]byte(last), &st); err != nil {
				t.Fatal(err)
			}
			if !st.HostPaused && !st.GuestPaused && st.Host > 0 && math.Abs(st.Drift) < 0.5 {
				return
			}
		}
		t.Fatalf("%s: not in step: %s%s", what, last, viewer.consoleErrors())
	}
	inStep("the guest playing")
	viewer.screenshots("player-replay-cohost-side-by-side")

	// Past the switch: picture in picture, still in step.
	seek(pip + 700)
	viewer.waitFor("picture in picture", layout+` === "pip" && `+boxShown, 10*time.Second)
	inStep("the guest after the seek")
	viewer.screenshots("player-replay-cohost-pip")
	viewer.checkA11y("player (co-host replay)")

	// Past the guest's leaving: the host alone; back before the switch.
	seek(left + 500)
	viewer.waitFor("the host alone", `document.querySelector(".guest-box").hidden && `+layout+` === ""`, 10*time.Second)
	seek(joined + 200)
	viewer.waitFor("side by side again", layout+` === "side-by-side" && `+boxShown, 10*time.Second)
	// The timeline lists the stage's moments.
	if n := eval[int](viewer, `document.querySelectorAll("#replay-stage button").length`); n != 3 {
		t.Errorf("%d stage moments on the replay's timeline, want 3", n)
	}
	if errs := viewer.consoleErrors(); errs != "" {
		t.Errorf("console errors:\n%s", errs)
	}
}

// waitEnded waits for the demo show to end.
func waitEnded(t *testing.T, s *server) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var sh struct {
			Show struct{ State string } `json:"show"`
		}
		apiCall(t, s, "GET", "/api/shows/"+demoShow, "", nil, &sh)
		if sh.Show.State == "ended" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the show did not end: %q", sh.Show.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
