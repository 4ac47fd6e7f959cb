package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestAccessTokens: a signed-in viewer sees their tokens, creates one
// (shown once), revokes it; and when their session ends elsewhere, the
// live room's socket closes (4001) and the page says they are signed out.
func TestAccessTokens(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	viewer := b.newUser(t, s, "viewer")
	viewer.open("/shows/" + demoShow)
	viewer.login(demo.ViewerEmail)

	viewer.do("open the access tokens", chromedp.Click(chromedp.ID("tokens-open")), chromedp.WaitVisible(chromedp.ID("token-name")))
	viewer.waitFor("the empty list", `!document.querySelector("#tokens-empty").hidden`, 10*time.Second)
	viewer.do("create a token",
		chromedp.SendKeys(chromedp.ID("token-name"), "obs laptop"),
		chromedp.Click(chromedp.ID("token-create")))
	viewer.waitFor("the token listed", `[...document.querySelectorAll("#tokens-list td")].some((e) => e.textContent === "obs laptop")`, 10*time.Second)
	secret := eval[string](viewer, `document.querySelector("#token-secret").value`)
	if code := apiCall(t, s, "GET", "/api/me", secret, nil, nil); code != http.StatusOK {
		t.Fatalf("the token shown once does not work: %d", code)
	}
	viewer.screenshots("access-tokens")
	viewer.checkA11y("access tokens")

	viewer.do("revoke it", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(`#tokens-list button`))
	viewer.waitFor("the list empty again", `!document.querySelector("#tokens-list tr") && !document.querySelector("#tokens-empty").hidden`, 10*time.Second)
	if code := apiCall(t, s, "GET", "/api/me", secret, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("a revoked token still works: %d", code)
	}
	viewer.do("close the panel", chromedp.Evaluate[chromedp.Void](`document.querySelector("#tokens").close()`))

	// The session ends without the page's log-out button (as from another
	// tab): the room's socket closes with 4001 and the page catches up.
	viewer.waitFor("chat open to the signed-in viewer", `document.querySelector("#room-status").textContent === ""`, 10*time.Second)
	_ = eval[bool](viewer, `fetch("/api/auth/logout", {method: "POST"}).then((r) => r.ok)`)
	viewer.waitFor("signed out by the live room", `document.querySelector("#login-open") && document.querySelector("#toast").textContent.startsWith("You were signed out")`, 15*time.Second)
}
