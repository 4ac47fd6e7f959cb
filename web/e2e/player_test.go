package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// asPhone makes u's tab a 390×844 phone (as the screenshots do);
// asDesktop a 1440×900 window.
func (u *user) asPhone() {
	u.t.Helper()
	u.do("resize to a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Sleep(300*time.Millisecond))
}

func (u *user) asDesktop() {
	u.t.Helper()
	u.do("resize to a desktop", chromedp.EmulateViewport(1440, 900), chromedp.Sleep(300*time.Millisecond))
}

// reduceMotion turns prefers-reduced-motion on or off for u's tab.
func (u *user) reduceMotion(on bool) {
	u.t.Helper()
	v := "no-preference"
	if on {
		v = "reduce"
	}
	u.do("prefers-reduced-motion: "+v, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: v}}})
		return err
	}))
}

// rect is an element's box in the viewport, or zero when it is absent or
// not drawn.
type rect struct{ X, Y, W, H float64 }

func box(u *user, sel string) rect {
	u.t.Helper()
	return eval[rect](u, `(() => { const e = document.querySelector(`+jsString(sel)+`); if (!e || !e.getClientRects().length) return {X:0,Y:0,W:0,H:0};
	  const b = e.getBoundingClientRect(); return {X: b.x, Y: b.y, W: b.width, H: b.height}; })()`)
}

// goLive signs the host in at the studio and starts the fake camera.
func goLive(t *testing.T, b *browser, s *server) *user {
	t.Helper()
	host := b.newUser(t, s, "host")
	host.startShow()
	return host
}

// startShow signs u in as the demo host at the demo show's studio and
// broadcasts its fake camera (set the viewport first for a phone).
func (u *user) startShow() {
	u.t.Helper()
	u.open("/studio/" + demoShow)
	u.waitFor("the log-in prompt", `!document.querySelector("#gate").hidden`, 10*time.Second)
	u.do("open the log-in dialog", chromedp.Click(chromedp.ID("gate-login")), chromedp.WaitVisible(chromedp.ID("auth-email")))
	u.fillLogin(demo.HostEmail)
	u.waitFor("the studio", `!document.querySelector("#studio").hidden`, 10*time.Second)
	u.do("go live", chromedp.Click(chromedp.ID("go-live")))
	u.waitFor("the broadcast", `document.querySelector("#live-state").dataset.state === "live"`, 20*time.Second)
}

// TestPhonePlayer is the player as people use it on a phone: before the
// show its cover fills the screen; live, the video does, with the show's bar,
// the chat, rising reactions, the pinned product with its picture and the
// bag button over it; the bag sheet lists every product with its variants,
// stock per variant and prices, and buys the variant chosen. On a desktop
// the chat sits beside the video and the products below.
func TestPhonePlayer(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	offers := demo.Offers(time.Now())
	noir, ivoire := offers[0].ID.String(), offers[3].ID.String()

	// Before the show: the cover, the countdown, the show's bar.
	viewer := b.newUser(t, s, "viewer")
	viewer.open("/shows/" + demoShow)
	viewer.login(demo.ViewerEmail)
	viewer.asPhone()
	viewer.waitFor("the cover", `document.querySelector("#cover").complete && document.querySelector("#cover").naturalWidth > 0 && !document.querySelector("#cover").hidden`, 10*time.Second)
	viewer.waitFor("the brand in the bar", `document.querySelector("#brand-name").textContent === "Maison Lumière" && document.querySelector("#brand-avatar img")?.complete`, 10*time.Second)
	if src := eval[string](viewer, `document.querySelector("#cover").currentSrc`); !strings.Contains(src, "/media/") {
		t.Errorf("cover is %q, want an uploaded image", src)
	}
	viewer.waitFor("the host's picture", `document.querySelector("#host-avatar img")?.complete && document.querySelector("#host-avatar img").naturalWidth > 0`, 10*time.Second)
	if got := eval[string](viewer, `document.querySelector("#host-name").textContent`); got != "with Lina Host" {
		t.Errorf("host in the bar: %q", got)
	}
	if r := box(viewer, "#cover"); r.W != 390 || r.H != 844 {
		t.Errorf("the cover is %+v, want the whole 390×844 screen", r)
	}
	if r := box(viewer, "#top"); r.H != 0 {
		t.Errorf("the site's bar takes %+v over the show on a phone", r)
	}
	viewer.screenshots("player-phone-prelive")
	viewer.asPhone()

	// Live: the video fills the screen; everything else floats over it.
	host := goLive(t, b, s)
	viewer.waitFor("frames", `window.pavilionPlayer.framesDecoded().then((n) => n > 0)`, 25*time.Second)
	viewer.waitFor("the live badge", `!document.querySelector("#live-badge").hidden`, 10*time.Second)
	if r := box(viewer, "#video"); r.X != 0 || r.Y != 0 || r.W != 390 || r.H != 844 {
		t.Errorf("the video is %+v, want the whole 390×844 screen", r)
	}
	if fit := eval[string](viewer, `getComputedStyle(document.querySelector("#video")).objectFit`); fit != "cover" {
		t.Errorf("the video is drawn with object-fit %q, want cover", fit)
	}
	if !eval[bool](viewer, `document.querySelector("#cover").hidden`) {
		t.Error("the cover still shows over the playing video")
	}
	for _, sel := range []string{"#brand-name", "#viewers", "#live-badge", "#share", "#close", "#chat-text", "#bag-open", `[data-react="heart"]`} {
		r := box(viewer, sel)
		if r.W == 0 || r.X < 0 || r.Y < 0 || r.X+r.W > 390 || r.Y+r.H > 844 {
			t.Errorf("%s is at %+v, want it on the 390×844 screen", sel, r)
		}
	}
	if r := box(viewer, "#chat-text"); r.Y < 700 {
		t.Errorf("the chat input is at %+v, want it at the bottom", r)
	}

	// The host pins the bag: a card with its picture over the video.
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/pin", token(t, s, demo.HostEmail), map[string]any{"offer_id": noir}, nil); code != 200 {
		t.Fatalf("pin: HTTP %d", code)
	}
	viewer.waitFor("the pinned card", `!document.querySelector("#pinned").hidden && document.querySelector("#pinned-card img")?.complete`, 10*time.Second)
	if srcset := eval[string](viewer, `document.querySelector("#pinned-card img").srcset`); !strings.Contains(srcset, "/media/") || !strings.Contains(srcset, " 320w") {
		t.Errorf("pinned picture srcset %q", srcset)
	}
	if r := box(viewer, "#pinned .offer"); r.W == 0 || r.Y+r.H > box(viewer, "#chat-log").Y+box(viewer, "#chat-log").H || r.X > 20 {
		t.Errorf("the pinned card is at %+v, want it at the left above the input", r)
	}

	// Chat in the lower left, over the video.
	viewer.do("chat", chromedp.SendKeys(chromedp.ID("chat-text"), "Love the ivoire one"), chromedp.Click(chromedp.CSS("#chat-form button[type=submit]")))
	viewer.waitFor("the message", `[...document.querySelectorAll("#chat-log .chat-text")].some((e) => e.textContent === "Love the ivoire one")`, 10*time.Second)
	if r := box(viewer, "#chat-log li"); r.X > 20 || r.Y < 422 {
		t.Errorf("chat message at %+v, want the lower left", r)
	}

	// Reactions rise as hearts, unless the viewer asked for less motion.
	viewer.do("react", chromedp.Click(chromedp.CSS(`[data-react="heart"]`)))
	viewer.waitFor("a rising heart", `document.querySelector("#hearts .heart")`, 10*time.Second)
	viewer.screenshots("player-phone-live")
	viewer.asPhone()
	viewer.reduceMotion(true)
	viewer.waitFor("the hearts gone", `!document.querySelector("#hearts .heart")`, 10*time.Second)
	viewer.do("react again", chromedp.Click(chromedp.CSS(`[data-react="heart"]`)))
	viewer.waitFor("the count", `/❤️ [2-9]/.test(document.querySelector("#reaction-counts").textContent)`, 10*time.Second)
	if eval[bool](viewer, `!!document.querySelector("#hearts .heart")`) {
		t.Error("hearts rise with prefers-reduced-motion: reduce")
	}
	viewer.reduceMotion(false)

	// The bag: a sheet with every product, variants with their stock, prices.
	if r := box(viewer, "#rail"); r.Y < 844 && r.H > 0 {
		t.Errorf("the bag is on screen (%+v) before it is opened", r)
	}
	viewer.do("open the bag", chromedp.Click(chromedp.ID("bag-open")))
	viewer.waitFor("the bag sheet", `document.body.classList.contains("bag-open") && document.querySelector("#bag").getBoundingClientRect().top < 400`, 5*time.Second)
	viewer.do("let the sheet settle", chromedp.Sleep(500*time.Millisecond))
	if n := eval[int](viewer, `document.querySelectorAll("#rail .offer.product").length`); n != 3 {
		t.Errorf("the bag lists %d products, want 3 (bag, carré, sneaker)", n)
	}
	bag := `#rail [data-product]:has([data-variant="` + ivoire + `"])`
	if got := eval[string](viewer, `[...document.querySelectorAll('`+bag+` [data-variant]')].map((b) => b.textContent).join(" | ")`); got != "noir10 left | ivoire6 left" {
		t.Errorf("bag variants read %q", got)
	}
	if got := eval[string](viewer, `document.querySelector('`+bag+` .price').textContent`); !strings.Contains(got, "2,200.00") || !strings.Contains(got, "2,450.00") {
		t.Errorf("bag price %q, want the show price against the regular one", got)
	}
	firstImg := eval[string](viewer, `document.querySelector('`+bag+` img').currentSrc`)
	viewer.do("choose ivoire", chromedp.Click(chromedp.CSS(`[data-variant="`+ivoire+`"]`)))
	viewer.waitFor("the ivoire card", `document.querySelector('`+bag+`').dataset.offer === "`+ivoire+`" && document.querySelector('[data-variant="`+ivoire+`"]').getAttribute("aria-pressed") === "true"`, 5*time.Second)
	viewer.waitFor("the ivoire picture", `document.querySelector('`+bag+` img').complete && document.querySelector('`+bag+` img').currentSrc !== `+jsString(firstImg), 5*time.Second)
	viewer.screenshots("player-phone-bag")
	viewer.asPhone()
	viewer.do("open the bag again", chromedp.Click(chromedp.ID("bag-open")))
	viewer.waitFor("the bag sheet", `document.querySelector("#bag").getBoundingClientRect().top < 400`, 5*time.Second)
	viewer.do("let the sheet settle", chromedp.Sleep(500*time.Millisecond))
	if !eval[bool](viewer, `!!document.querySelector('[data-buy="`+ivoire+`"]')`) {
		t.Fatalf("no buy button for the ivoire bag: %s", eval[string](viewer, `document.querySelector('`+bag+`').outerHTML`))
	}
	viewer.do("buy the ivoire bag", chromedp.Click(chromedp.CSS(`[data-buy="`+ivoire+`"]`)))
	viewer.waitFor("the checkout sheet", `document.querySelector("#checkout").open && /ivoire/.test(document.querySelector("#co-item").textContent)`, 10*time.Second)
	if eval[bool](viewer, `document.body.classList.contains("bag-open")`) {
		t.Error("the bag stays open under the checkout")
	}
	viewer.do("release", chromedp.Click(chromedp.ID("co-release")))
	viewer.waitFor("the hold released", `!document.querySelector("#checkout").open && document.querySelector("#my-holds").hidden`, 10*time.Second)

	// Share: the Web Share API where there is one, else the link is copied or shown.
	_ = eval[bool](viewer, `(navigator.share = undefined, true)`)
	viewer.do("share", chromedp.Click(chromedp.ID("share")))
	viewer.waitFor("the link", `/Link copied|\/shows\/`+demoShow+`/.test(document.querySelector("#toast")?.textContent || "")`, 5*time.Second)

	// Desktop: video with the chat beside it and the products below.
	viewer.asDesktop()
	video, chat, rail := box(viewer, "#video-wrap"), box(viewer, ".chat"), box(viewer, "#rail")
	if chat.X < video.X+video.W || rail.Y < video.Y+video.H || rail.W == 0 {
		t.Errorf("desktop layout: video %+v, chat %+v, products %+v", video, chat, rail)
	}
	if r := box(viewer, "#bag-open"); r.W != 0 {
		t.Errorf("the bag button shows on a desktop: %+v", r)
	}
	viewer.checkA11y("player (phone build, desktop size)")
	_ = host
}
