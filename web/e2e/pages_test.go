package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestHome: the schedule, the language switch (remembered), signing up and
// out, and members-only shows listed only for members.
func TestHome(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)

	// A members-only show, scheduled by the brand admin over the API.
	brandTok := token(t, s, demo.BrandAdminEmail)
	var brands struct {
		Brands []struct {
			ID string `json:"id"`
		} `json:"brands"`
	}
	apiCall(t, s, "GET", "/api/brands", "", nil, &brands)
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	if code := apiCall(t, s, "POST", "/api/shows", brandTok, map[string]any{
		"brand_id": brands.Brands[0].ID, "title": "Members' private preview", "kind": "show", "visibility": "members",
		"starts_at": start, "ends_at": start.Add(time.Hour), "time_zone": "Europe/Paris",
	}, nil); code != http.StatusCreated {
		t.Fatalf("create members-only show: %d", code)
	}
	listed := `[...document.querySelectorAll("#upcoming h3")].some((e) => e.textContent === "Members' private preview")`

	// Today's Pavilion Day, unless today is about to end (then it would be tomorrow's).
	pdStart := time.Now().Add(time.Minute).Truncate(time.Minute)
	pdToday := pdStart.Day() == time.Now().Day()
	if code := apiCall(t, s, "POST", "/api/shows", brandTok, map[string]any{
		"brand_id": brands.Brands[0].ID, "title": "Maison Lumière Day", "kind": "pavilion_day", "visibility": "public",
		"starts_at": pdStart.UTC(), "ends_at": pdStart.Add(2 * time.Hour).UTC(), "time_zone": "UTC",
	}, nil); code != http.StatusCreated {
		t.Fatalf("create today's Pavilion Day: %d", code)
	}

	anon := b.newUser(t, s, "visitor")
	anon.open("/")
	anon.waitFor("the schedule", `document.querySelector("#upcoming li")`, 10*time.Second)
	anon.waitFor("the demo show", `[...document.querySelectorAll("#upcoming h3")].some((e) => e.textContent === "Autumn Runway Live")`, 5*time.Second)
	if eval[bool](anon, listed) {
		t.Error("visitor: a members-only show is listed for an anonymous visitor")
	}
	if pdToday {
		anon.waitFor("today's Pavilion Day on top", `!document.querySelector("#pday").hidden && document.querySelector("#pday-h").textContent === "Maison Lumière Day"`, 5*time.Second)
	}
	anon.screenshots("home")
	anon.checkA11y("home")
	anon.checkTabOrder("home", `document.querySelector("#upcoming li")`)

	// The language switch: Simplified Chinese, remembered across a reload.
	anon.do("switch to Chinese", chromedp.SetValue(chromedp.ID("lang"), "zh-CN"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#lang").dispatchEvent(new Event("change"))`))
	anon.waitFor("Chinese headings", `document.documentElement.lang === "zh-CN" && document.querySelector("#live-h").textContent === "正在直播"`, 5*time.Second)
	anon.open("/")
	anon.waitFor("Chinese after a reload", `document.documentElement.lang === "zh-CN" && document.querySelector("#up-h").textContent === "即将开播"`, 5*time.Second)
	anon.screenshots("home-zh-CN")
	anon.open("/shows/" + demoShow)
	anon.waitFor("the player in Chinese", `document.querySelector("#rail .buy") && document.querySelector("#rail .buy").textContent === "立即购买"`, 10*time.Second)
	if p := eval[string](anon, `document.querySelector("#rail .price .now").textContent`); !strings.Contains(p, "€") {
		t.Errorf("visitor: price %q is not formatted in euros", p)
	}
	anon.screenshots("player-zh-CN")
	anon.do("back to English", chromedp.SetValue(chromedp.ID("lang"), "en"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#lang").dispatchEvent(new Event("change"))`))
	anon.waitFor("English", `document.documentElement.lang === "en" && document.querySelector("#rail .buy").textContent === "Buy now"`, 5*time.Second)

	// Sign up from the home page, then log out.
	anon.open("/")
	anon.do("open sign-up", chromedp.Click(chromedp.ID("cta-signup")), chromedp.WaitVisible(chromedp.ID("auth-name")))
	anon.screenshots("signup")
	anon.checkA11y("sign-up dialog")
	anon.do("sign up",
		chromedp.SendKeys(chromedp.ID("auth-name"), "Nora New"),
		chromedp.SendKeys(chromedp.ID("auth-email"), "nora@example.com"),
		chromedp.SendKeys(chromedp.ID("auth-password"), "a long enough password"),
		chromedp.Click(chromedp.ID("auth-submit")))
	anon.waitFor("signed in as Nora", `document.querySelector("#account .who") && document.querySelector("#account .who").textContent === "Nora New"`, 10*time.Second)
	anon.do("log out", chromedp.Click(chromedp.ID("logout")))
	anon.waitFor("signed out", `document.querySelector("#login-open")`, 5*time.Second)
	if code := apiCall(t, s, "POST", "/api/auth/login", "", map[string]string{"email": "nora@example.com", "password": "a long enough password"}, nil); code != http.StatusOK {
		t.Errorf("the new account cannot log in: %d", code)
	}

	// A member sees the members-only show, tagged.
	member := b.newUser(t, s, "member")
	member.open("/")
	member.login(demo.MemberEmail)
	member.waitFor("the members-only show", listed, 10*time.Second)
	member.waitFor("its tag", `document.querySelector("#upcoming .tag.members")`, 5*time.Second)
	member.screenshots("home-member")

	// Before the show: notify me, and the calendar file.
	member.open("/shows/" + demoShow)
	member.waitFor("the pre-show panel", `!document.querySelector("#prelive").hidden && /\d:\d\d/.test(document.querySelector("#countdown").textContent)`, 15*time.Second)
	member.do("notify me", chromedp.Click(chromedp.ID("notify")))
	member.waitFor("the reminder set", `document.querySelector("#notify").getAttribute("aria-pressed") === "true" && document.querySelector("#notify-status").textContent !== ""`, 5*time.Second)
	memberTok := token(t, s, demo.MemberEmail)
	var sub struct {
		Subscription struct {
			Subscribed bool `json:"subscribed"`
		} `json:"subscription"`
	}
	if code := apiCall(t, s, "GET", "/api/shows/"+demoShow+"/subscription", memberTok, nil, &sub); code != http.StatusOK || !sub.Subscription.Subscribed {
		t.Errorf("member: after notify me, subscription = %d %+v", code, sub)
	}
	member.screenshots("player-prelive")
	member.checkA11y("player before the show")
}
