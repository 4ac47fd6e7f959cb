package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// chatCounts is how many times each of the texts is in the page's chat log.
func chatCounts(u *user, texts []string) []int {
	u.t.Helper()
	list := make([]string, len(texts))
	for i, s := range texts {
		list[i] = jsString(s)
	}
	return eval[[]int](u, `(() => { const got = [...document.querySelectorAll("#chat-log .chat-text")].map((e) => e.textContent);
		return [`+strings.Join(list, ",")+`].map((w) => got.filter((x) => x === w).length); })()`)
}

// eachOnce waits until every text is in u's chat log, then fails the test
// unless each is there exactly once.
func eachOnce(u *user, what string, texts []string) {
	u.t.Helper()
	list := make([]string, len(texts))
	for i, s := range texts {
		list[i] = jsString(s)
	}
	u.waitFor(what+": every message", `(() => { const got = [...document.querySelectorAll("#chat-log .chat-text")].map((e) => e.textContent);
		return [`+strings.Join(list, ",")+`].every((w) => got.includes(w)); })()`, 15*time.Second)
	time.Sleep(300 * time.Millisecond) // a double would follow its first within a tick
	for i, n := range chatCounts(u, texts) {
		if n != 1 {
			u.t.Errorf("%s: %s: %q is in the chat %d times, want once", u.name, what, texts[i], n)
		}
	}
}

// sendChat sends a chat line from the page's chat form (the player's or
// the studio's), in one step in the page.
func sendChat(u *user, text string) {
	u.t.Helper()
	_ = eval[bool](u, `(document.querySelector("#chat-text").value = `+jsString(text)+`, document.querySelector("#chat-form").requestSubmit(), true)`)
	u.waitFor("the chat line sent", `document.querySelector("#chat-text").value === ""`, 5*time.Second)
}

// TestAfterTheEnd: a host pins a product and people chat, then the show
// ends. Every viewer's page then shows no featured card, every chat line
// exactly once and when the show really went live and ended (not the
// schedule): a viewer who watched the end, a viewer whose connection was
// lost before the end and came back after it (resuming across it), and a
// viewer who reloads the page after the end.
func TestAfterTheEnd(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	offer := demo.Offers(time.Now())[1].ID.String() // the carré

	host := b.newUser(t, s, "host")
	host.startShow()

	watcher := b.newUser(t, s, "viewer who watches the end")
	watcher.open("/shows/" + demoShow)
	watcher.login(demo.ViewerEmail)
	watcher.waitFor("the room's welcome", `document.querySelector("#viewers").textContent !== ""`, 10*time.Second)
	watcher.waitFor("when it went live", `/^Went live \d/.test(document.querySelector("#went-live").textContent)`, 10*time.Second)
	lost := b.newUser(t, s, "viewer whose connection drops")
	lost.open("/shows/" + demoShow)
	lost.waitFor("the room's welcome", `document.querySelector("#viewers").textContent !== ""`, 10*time.Second)

	_ = eval[bool](host, `(document.querySelector('[data-pin="`+offer+`"]').click(), true)`)
	for _, v := range []*user{watcher, lost} {
		v.waitFor("the featured card", `!document.querySelector("#pinned").hidden && document.querySelector('#pinned [data-offer="`+offer+`"]')`, 10*time.Second)
	}
	lines := []string{"First! Is the carré silk twill?", "How big is it?", "Ordering the noir one"}
	for _, l := range lines {
		sendChat(watcher, l)
	}
	hostLine := "Yes, 90 by 90 cm, hand-rolled edges"
	sendChat(host, hostLine)
	all := append(lines, hostLine)
	eachOnce(watcher, "live", all)
	eachOnce(lost, "live", all)

	// The second viewer's network goes; the host ends the show meanwhile.
	_ = eval[bool](lost, `(window.pavilionPlayer.pauseRoom(), true)`)
	_ = eval[bool](host, `(window.confirm = () => true, document.querySelector("#end-show").click(), true)`)
	ended := `!document.querySelector("#ended").hidden && document.querySelector("#overlay-text").textContent === "This show has ended."`

	var api struct {
		Show struct {
			StartsAt   string  `json:"starts_at"`
			WentLiveAt *string `json:"went_live_at"`
			EndedAt    *string `json:"ended_at"`
		} `json:"show"`
	}
	check := func(v *user, what string) {
		t.Helper()
		v.waitFor(what+": the ended screen", ended, 15*time.Second)
		if !eval[bool](v, `document.querySelector("#pinned").hidden && !document.querySelector("#pinned-card [data-offer]")`) {
			t.Errorf("%s: %s: the featured card is still shown after the end", v.name, what)
		}
		eachOnce(v, what, all)
		if api.Show.WentLiveAt == nil || api.Show.EndedAt == nil {
			apiCall(t, s, "GET", "/api/shows/"+demoShow, "", nil, &api)
			if api.Show.WentLiveAt == nil || api.Show.EndedAt == nil {
				t.Fatalf("the ended show has no real times: %+v", api.Show)
			}
		}
		// The real times as the page writes them, in its language and zone.
		want := eval[[]string](v, `(() => { const f = new Intl.DateTimeFormat(document.documentElement.lang, { dateStyle: "medium", timeStyle: "short" });
			const live = new Date(`+jsString(*api.Show.WentLiveAt)+`), end = new Date(`+jsString(*api.Show.EndedAt)+`);
			return ["Went live " + new Intl.DateTimeFormat(document.documentElement.lang, { timeStyle: "short" }).format(live), "Live " + f.formatRange(live, end)]; })()`)
		got := eval[[]string](v, `[document.querySelector("#went-live").textContent, document.querySelector("#ended-when").textContent, document.querySelector("#show-when").textContent]`)
		if got[0] != want[0] || got[1] != want[1] || got[2] != want[1] {
			t.Errorf("%s: %s: the page says %q, %q and %q; want %q and %q", v.name, what, got[0], got[1], got[2], want[0], want[1])
		}
	}
	check(watcher, "after the end")
	watcher.screenshots("player-ended-real-times")
	watcher.checkA11y("player (ended)")

	_ = eval[bool](lost, `(window.pavilionPlayer.resumeRoom(), true)`)
	check(lost, "back after the end")

	watcher.open("/shows/" + demoShow)
	check(watcher, "reloaded after the end")
	for _, v := range []*user{watcher, lost} {
		if errs := v.consoleErrors(); errs != "" {
			t.Errorf("%s: console errors:%s", v.name, errs)
		}
	}
}
