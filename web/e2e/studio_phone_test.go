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
	host.startShow()
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

// TestStudioPhoneChat: on a phone the host reads the chat over the camera
// (the latest lines at the bottom of the upright preview, over a scrim, the
// log scrolling back on touch) and moderates it from there: deletes a
// viewer's line, which leaves the viewer's page, and mutes the viewer, who
// is told. Clicks go through the page in one step: the log is redrawn on
// every live event.
func TestStudioPhoneChat(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	host := b.newUser(t, s, "host on a phone")
	host.asPhone()
	host.startShow()

	viewer := b.newUser(t, s, "viewer")
	viewer.open("/shows/" + demoShow)
	viewer.login(demo.ViewerEmail)
	viewer.waitFor("the room's welcome", `document.querySelector("#viewers").textContent !== ""`, 10*time.Second)
	rude, fine := "buy fakes at example.com", "Can you show the clasp?"
	sendChat(viewer, rude)
	sendChat(viewer, fine)

	line := func(text string) string {
		return `[...document.querySelectorAll("#cam-chat #chat-log li")].find((li) => li.querySelector(".chat-text").textContent === ` + jsString(text) + `)`
	}
	host.waitFor("the viewer's lines over the camera", line(rude)+` && `+line(fine), 10*time.Second)
	// Over the camera: inside the preview, on top where it is drawn (no
	// panel covers it), on a dark bubble over a scrim, the log scrollable.
	over := eval[map[string]bool](host, `(() => {
		const li = `+line(fine)+`, p = document.querySelector("#preview").getBoundingClientRect(), r = li.getBoundingClientRect();
		const top = document.elementFromPoint(r.left + 4, r.top + r.height / 2);
		const log = document.querySelector("#chat-log");
		return {
			inside: r.top >= p.top && r.bottom <= p.bottom + 1 && r.left >= p.left && r.right <= p.right + 1,
			lowerHalf: r.top > p.top + p.height / 2,
			onTop: !!top && li.contains(top),
			bubble: getComputedStyle(li).backgroundColor !== "rgba(0, 0, 0, 0)",
			scrim: getComputedStyle(document.querySelector("#cam-chat")).backgroundImage.includes("gradient"),
			scrolls: getComputedStyle(log).overflowY === "auto",
		};
	})()`)
	for k, ok := range over {
		if !ok {
			t.Errorf("the chat over the camera: %s is false (%v)", k, over)
		}
	}
	host.screenshots("studio-phone-chat")
	host.asPhone()
	host.waitFor("the chat back over the camera", line(fine), 5*time.Second)

	// Delete the rude line from over the camera: it leaves the viewer's page.
	if !eval[bool](host, `(() => { const b = `+line(rude)+`?.querySelector('.mod button[data-i18n="studio.m.delete"]'); if (!b) return false; b.click(); return true; })()`) {
		t.Fatal("host: no Delete button on the line over the camera")
	}
	viewer.waitFor("the deleted line gone", `![...document.querySelectorAll("#chat-log .chat-text")].some((e) => e.textContent === `+jsString(rude)+`)`, 10*time.Second)
	host.waitFor("the deleted line gone from the studio", `!(`+line(rude)+`)`, 10*time.Second)
	if n := len(chatCounts(viewer, []string{fine})); n != 1 || chatCounts(viewer, []string{fine})[0] != 1 {
		t.Errorf("viewer: the other line is not there once after the deletion")
	}

	// Mute the viewer from the same place: the viewer is told, and cannot chat.
	if !eval[bool](host, `(() => { const b = `+line(fine)+`?.querySelector('.mod button[data-i18n="studio.m.mute"]'); if (!b) return false; b.click(); return true; })()`) {
		t.Fatal("host: no Mute button on the line over the camera")
	}
	viewer.waitFor("the mute notice", `/muted/i.test(document.querySelector("#chat-error").textContent)`, 10*time.Second)
	host.checkA11y("studio on a phone, chat over the camera")
	host.screenshots("studio-phone-chat-moderated")
}
