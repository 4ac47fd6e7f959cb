package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// TestLateJoinerSeesLiveStock: a viewer who opens the player after a pin
// and a sale sees the stock of now on the pinned card, not the copy taken
// when the offer was pinned (issue 12 §2).
func TestLateJoinerSeesLiveStock(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	carre := demo.Offers(time.Now())[1].ID.String()

	// Someone is watching, so the room is open; the host pins over HTTP.
	early := b.newUser(t, s, "early")
	early.open("/shows/" + demoShow)
	// The welcome, not an empty status line (empty too before the socket
	// opens): a pin made before the room opens on this node is not kept.
	early.waitFor("the room's welcome", `document.querySelector("#viewers").textContent !== ""`, 10*time.Second)
	if code := apiCall(t, s, "POST", "/api/shows/"+demoShow+"/pin", token(t, s, demo.HostEmail), map[string]any{"offer_id": carre}, nil); code != 200 {
		t.Fatalf("pin: HTTP %d", code)
	}
	early.waitFor("the pinned card", `!document.querySelector("#pinned").hidden`, 10*time.Second)
	pinned := eval[string](early, `document.querySelector("#pinned-card [data-stock]").dataset.stock`)
	before, _ := strconv.Atoi(pinned)

	// A sale after the pin.
	var res struct {
		Reservation struct{ Quantity int } `json:"reservation"`
	}
	if code := apiCall(t, s, "POST", "/api/reservations", token(t, s, demo.MemberEmail), map[string]any{"offer_id": carre, "quantity": 2}, &res); code != 201 || res.Reservation.Quantity != 2 {
		t.Fatalf("reserve: HTTP %d %+v", code, res)
	}
	want := strconv.Itoa(before - 2)
	early.waitFor("the early viewer's stock", `document.querySelector("#pinned-card [data-stock]").dataset.stock === "`+want+`"`, 10*time.Second)

	// A late joiner sees the same.
	late := b.newUser(t, s, "late")
	late.open("/shows/" + demoShow)
	late.waitFor("the pinned card", `!document.querySelector("#pinned").hidden`, 10*time.Second)
	// The viewer count comes with the room's welcome, after the page's own REST read.
	late.waitFor("the room's welcome", `document.querySelector("#viewers").textContent !== ""`, 10*time.Second)
	for _, where := range []string{"#pinned-card", "#rail"} {
		got := eval[string](late, `document.querySelector("`+where+` [data-offer='`+carre+`'] [data-stock]")?.dataset.stock ?? ""`)
		if got != want {
			t.Fatalf("late joiner's %s shows %s units; want %s (before the sale: %d)", where, got, want, before)
		}
	}
}
