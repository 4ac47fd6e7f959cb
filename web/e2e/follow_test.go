package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestFollowEndedScreenBrandPageAccount: a viewer follows the brand from the
// player's top bar; when the host ends the show the ended screen says what
// sold, names the brand's next show and keeps the follow button; the
// brand's page counts followers and unfollows; /account lists follows and
// keeps the "just bought" opt-out; a host sets their picture there.
func TestFollowEndedScreenBrandPageAccount(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	brandTok, viewerTk := token(t, s, demo.BrandAdminEmail), token(t, s, demo.ViewerEmail)
	var show struct {
		Show struct {
			BrandID string `json:"brand_id"`
		} `json:"show"`
	}
	apiCall(t, s, "GET", "/api/shows/"+demoShow, "", nil, &show)
	brandID := show.Show.BrandID
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	if code := apiCall(t, s, "POST", "/api/shows", brandTok, map[string]any{"brand_id": brandID, "title": "Winter Preview", "kind": "show",
		"visibility": "public", "starts_at": start, "ends_at": start.Add(time.Hour), "time_zone": "UTC"}, nil); code != http.StatusCreated {
		t.Fatalf("create the next show: HTTP %d", code)
	}
	// Something sold in the show: the carré in bleu.
	var res struct {
		Reservation struct{ ID string } `json:"reservation"`
	}
	apiCall(t, s, "POST", "/api/reservations", viewerTk, map[string]any{"offer_id": demo.Offers(time.Now())[4].ID.String(), "quantity": 1}, &res)
	if code := apiCall(t, s, "POST", "/api/orders", viewerTk, map[string]any{"reservation_id": res.Reservation.ID, "payment_token": "tok_visa",
		"shipping": map[string]string{"name": "Vic Viewer", "line1": "1 Rue de la Paix", "city": "Paris", "postal_code": "75002", "country": "FR"}}, nil); code != 201 {
		t.Fatalf("order: HTTP %d", code)
	}
	followed := func() (bool, int) {
		var st struct {
			Follow struct {
				Following bool
				Followers int
			} `json:"follow"`
		}
		apiCall(t, s, "GET", "/api/brands/"+brandID+"/follow", viewerTk, nil, &st)
		return st.Follow.Following, st.Follow.Followers
	}

	// 1. Follow from the player's top bar.
	viewer := b.newUser(t, s, "viewer")
	viewer.open("/")
	viewer.login(demo.ViewerEmail)
	viewer.open("/shows/" + demoShow)
	viewer.waitFor("the follow button", `document.querySelector("#follow")?.textContent === "Follow"`, 10*time.Second)
	viewer.do("follow", chromedp.Click(chromedp.ID("follow")))
	viewer.waitFor("following", `document.querySelector("#follow").getAttribute("aria-pressed") === "true" && document.querySelector("#follow").textContent === "Following"`, 10*time.Second)
	if on, n := followed(); !on || n != 1 {
		t.Fatalf("after following in the player: following %v, %d followers", on, n)
	}

	// 2. The host ends the show: the ended screen.
	host := b.newUser(t, s, "host")
	host.open("/")
	host.login(demo.HostEmail)
	host.open("/studio/" + demoShow)
	host.waitFor("the studio", `document.querySelector("#end-show") && !document.querySelector("#end-show").disabled`, 15*time.Second)
	_ = eval[bool](host, `(window.confirm = () => true, true)`)
	host.do("end the show", chromedp.Click(chromedp.ID("end-show")))
	viewer.waitFor("the ended screen", `!document.querySelector("#ended").hidden && !document.querySelector("#ended-next").hidden && !document.querySelector("#ended-sold-box").hidden`, 15*time.Second)
	sold := eval[string](viewer, `document.querySelector("#ended-sold").textContent`)
	if !strings.Contains(sold, "Silk carré 90") || !strings.Contains(sold, "1 sold") {
		t.Errorf("the ended screen's sales read %q", sold)
	}
	if got := eval[string](viewer, `document.querySelector("#ended-next-link").textContent`); got != "Winter Preview" {
		t.Errorf("the ended screen's next show is %q", got)
	}
	if got := eval[string](viewer, `document.querySelector("#ended-follow").textContent`); !strings.Contains(got, "Following") || !strings.Contains(got, "Followers: 1") {
		t.Errorf("the ended screen's follow button reads %q", got)
	}
	if !eval[bool](viewer, `document.querySelector("#ended-replay").hidden`) {
		t.Error("a replay place is shown for a show without a recording")
	}
	viewer.screenshots("player-ended-follow")
	viewer.checkA11y("ended screen")

	// 3. The brand's page: followers, unfollow, follow again.
	if href := eval[string](viewer, `document.querySelector("#ended-brand").getAttribute("href")`); href != "/brands/maison-lumiere" {
		t.Errorf("the ended screen's brand link goes to %q", href)
	}
	viewer.open("/brands/maison-lumiere")
	viewer.waitFor("the brand page", `document.querySelector("#bp-name")?.textContent === "Maison Lumière" && document.querySelector("#bp-followers").textContent === "Followers: 1"`, 10*time.Second)
	if !eval[bool](viewer, `[...document.querySelectorAll("#bp-upcoming h3")].some((e) => e.textContent === "Winter Preview")`) {
		t.Error("the brand page does not list the upcoming show")
	}
	viewer.screenshots("brand-page")
	viewer.checkA11y("brand page")
	viewer.do("unfollow", chromedp.Click(chromedp.ID("bp-follow")))
	viewer.waitFor("unfollowed", `document.querySelector("#bp-followers").textContent === "Followers: 0" && document.querySelector("#bp-follow").getAttribute("aria-pressed") === "false"`, 10*time.Second)
	if on, n := followed(); on || n != 0 {
		t.Fatalf("after unfollowing: following %v, %d followers", on, n)
	}
	viewer.do("follow again", chromedp.Click(chromedp.ID("bp-follow")))
	viewer.waitFor("followed again", `document.querySelector("#bp-followers").textContent === "Followers: 1"`, 10*time.Second)

	// 4. /account: the follow list and the "just bought" opt-out.
	viewer.open("/account")
	viewer.waitFor("the follow list", `document.querySelector('#acct-follows [data-brand="`+brandID+`"] a')?.textContent === "Maison Lumière"`, 10*time.Second)
	if !eval[bool](viewer, `document.querySelector("#acct-picture").hidden`) {
		t.Error("a viewer is offered a picture upload (only hosts and brand admins have one)")
	}
	viewer.do("opt out of just-bought notices", chromedp.Click(chromedp.ID("acct-hide")))
	viewer.waitFor("the choice saved", `document.querySelector("#acct-privacy-status").textContent !== ""`, 10*time.Second)
	var priv struct {
		Privacy struct {
			HidePurchases bool `json:"hide_purchases"`
		} `json:"privacy"`
	}
	apiCall(t, s, "GET", "/api/me/privacy", viewerTk, nil, &priv)
	if !priv.Privacy.HidePurchases {
		t.Error("the opt-out was not saved")
	}
	viewer.screenshots("account")
	viewer.checkA11y("account")

	// 5. A host sets their picture.
	host.open("/account")
	host.waitFor("the picture section", `!document.querySelector("#acct-picture").hidden`, 10*time.Second)
	host.do("choose a picture", chromedp.SetUploadFiles(chromedp.ID("acct-avatar-file"), []string{writePNG(t, "host.png", 400, 400)}))
	host.waitFor("the picture shown", `document.querySelector("#acct-avatar img")?.complete && document.querySelector("#acct-avatar img").naturalWidth > 0`, 15*time.Second)
	var me struct {
		User struct {
			AvatarURL string `json:"avatar_url"`
		} `json:"user"`
	}
	apiCall(t, s, "GET", "/api/me", token(t, s, demo.HostEmail), nil, &me)
	if !strings.HasPrefix(me.User.AvatarURL, "/media/") {
		t.Errorf("the host's avatar is %q after the upload", me.User.AvatarURL)
	}
	host.screenshots("account-host")
}
