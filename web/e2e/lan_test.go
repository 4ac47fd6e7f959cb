package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestPlainHTTPOnTheNetwork: a phone on the same network opens the pages at
// this machine's address over plain HTTP (what `make run` prints for it),
// which unlike localhost is no secure context: browsers then hide
// crypto.randomUUID, which the player makes chat ids and idempotency keys
// with. Chat and buying must work there all the same. Chromium resolves
// pavilion.test to loopback here, so the origin is an insecure one without
// needing a network.
func TestPlainHTTPOnTheNetwork(t *testing.T) {
	b := startBrowser(t, chromedp.Flag("host-resolver-rules", "MAP pavilion.test 127.0.0.1"))
	s := startServer(t)
	viewer := b.newUser(t, s, "viewer")
	viewer.base = strings.Replace(s.base, "127.0.0.1", "pavilion.test", 1)
	viewer.open("/shows/" + demoShow)
	if eval[bool](viewer, `isSecureContext`) {
		t.Fatal("the page at pavilion.test is a secure context: the test would prove nothing")
	}
	viewer.login(demo.ViewerEmail)

	msg := "seen from the sofa"
	viewer.waitFor("the chat input", `document.querySelector("#chat-text") && !document.querySelector("#chat-text").disabled`, 10*time.Second)
	viewer.do("chat", chromedp.SendKeys(chromedp.ID("chat-text"), msg), chromedp.Click(chromedp.CSS("#chat-form button[type=submit]")))
	viewer.waitFor("the message", `[...document.querySelectorAll("#chat-log .chat-text")].some((e) => e.textContent === `+jsString(msg)+`)`, 10*time.Second)

	sneaker := demo.Offers(time.Now())[2].ID.String()
	buy := `#rail [data-buy="` + sneaker + `"]`
	viewer.waitFor("the buy button", `document.querySelector('`+buy+`') && !document.querySelector('`+buy+`').disabled`, 10*time.Second)
	viewer.do("buy", chromedp.Click(chromedp.CSS(buy)))
	viewer.waitFor("the checkout sheet", `document.querySelector("#checkout").open`, 10*time.Second)
	var out struct {
		Reservations []struct {
			OfferID string `json:"offer_id"`
		} `json:"reservations"`
	}
	if code := apiCall(t, s, "GET", "/api/reservations?show="+demoShow, token(t, s, demo.ViewerEmail), nil, &out); code != 200 || len(out.Reservations) != 1 || out.Reservations[0].OfferID != sneaker {
		t.Fatalf("GET /api/reservations: %d %+v", code, out)
	}
	if errs := viewer.consoleErrors(); errs != "" {
		t.Fatalf("the page failed:%s", errs)
	}
}
