package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestCoHost: the host goes live from the studio and invites a guest; the
// guest opens the invite link in a second browser (no account), joins from
// the guest studio with the fake camera; a viewer's player shows both
// streams side by side, follows the host's switch to picture in picture,
// and drops the guest when the host removes them, whose page then says so.
func TestCoHost(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)

	host := b.newUser(t, s, "host")
	host.open("/studio/" + demoShow)
	host.login(demo.HostEmail)
	host.waitFor("the studio", `!document.querySelector("#studio").hidden`, 15*time.Second)
	host.do("go live", chromedp.Click(chromedp.ID("go-live")))
	host.waitFor("the broadcast", `document.querySelector("#live-state").dataset.state === "live"`, 20*time.Second)
	host.waitFor("the co-host panel", `!document.querySelector("#cohost-panel").hidden && !document.querySelector("#cohost-form").hidden`, 10*time.Second)
	host.do("invite a guest", chromedp.SendKeys(chromedp.ID("cohost-name"), "Ana (atelier)"), chromedp.Click(chromedp.CSS("#cohost-form button")))
	host.waitFor("the invite link", `!document.querySelector("#cohost-invite").hidden && document.querySelector("#cohost-link").value.includes("#invite=pvi_")`, 10*time.Second)
	link := eval[string](host, `document.querySelector("#cohost-link").value`)
	host.screenshots("studio-cohost-invite")

	viewer := b.newUser(t, s, "viewer")
	viewer.open("/shows/" + demoShow)
	deadline := time.Now().Add(40 * time.Second)
	for eval[int](viewer, `window.pavilionPlayer.framesDecoded()`) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("viewer: no video frames decoded (overlay says %q)%s", eval[string](viewer, `document.querySelector("#overlay-text").textContent`), viewer.consoleErrors())
		}
		time.Sleep(250 * time.Millisecond)
	}

	guest := b.newUser(t, s, "guest")
	guest.open(link[strings.Index(link, "/studio/"):]) // the link names the server as the request did
	guest.waitFor("the guest studio", `!document.querySelector("#guest").hidden && document.querySelector("#guest-name").textContent === "Ana (atelier)"`, 15*time.Second)
	if frag := eval[string](guest, `location.hash`); frag != "" {
		t.Errorf("the invite stays in the address bar: %q", frag)
	}
	guest.do("join", chromedp.Click(chromedp.ID("go-live")))
	guest.waitFor("on air", `document.querySelector("#live-state").dataset.state === "live"`, 20*time.Second)
	guest.screenshots("guest-studio-live")
	guest.checkA11y("guest studio")

	// The viewer sees both, side by side, the guest's frames decoding.
	viewer.waitFor("the guest beside the host", `document.querySelector("#video-wrap").dataset.layout === "side-by-side" && !document.querySelector(".guest-box").hidden`, 25*time.Second)
	guestFrames := `(document.querySelector("#guest-video").getVideoPlaybackQuality?.().totalVideoFrames || 0)`
	for deadline := time.Now().Add(45 * time.Second); eval[int](viewer, guestFrames) == 0; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("viewer: no guest frames (video ready state %d, tracks %d)%s", eval[int](viewer, `document.querySelector("#guest-video").readyState`),
				eval[int](viewer, `document.querySelector("#guest-video").srcObject?.getTracks().length || 0`), viewer.consoleErrors())
		}
	}
	host.waitFor("the guest on air in the studio", `document.querySelector("#cohost-list .badge.live")`, 15*time.Second)
	viewer.screenshots("player-cohost-side-by-side")

	// The host switches the layout: the viewer's player follows.
	host.do("picture in picture", chromedp.SetValue(chromedp.ID("cohost-layout"), "pip"))
	_ = eval[bool](host, `(document.querySelector("#cohost-layout").dispatchEvent(new Event("change")), true)`)
	viewer.waitFor("the layout switch", `document.querySelector("#video-wrap").dataset.layout === "pip"`, 15*time.Second)
	viewer.screenshots("player-cohost-pip")
	viewer.checkA11y("player (co-host)")

	// The host removes the guest: gone from the player, told on their page.
	_ = eval[bool](host, `(document.querySelector("#cohost-list .danger").click(), true)`)
	viewer.waitFor("the guest gone", `document.querySelector(".guest-box").hidden && !document.querySelector("#video-wrap").classList.contains("costage")`, 15*time.Second)
	guest.waitFor("the guest told", `document.querySelector("#live-state").dataset.state === "off"`, 20*time.Second)
	guest.do("try to join again", chromedp.Click(chromedp.ID("go-live")))
	guest.waitFor("refused", `!document.querySelector("#gate").hidden`, 15*time.Second)
	if n := eval[int](viewer, `window.pavilionPlayer.framesDecoded()`); n == 0 {
		t.Error("the host's video stopped with the guest's removal")
	}
}
