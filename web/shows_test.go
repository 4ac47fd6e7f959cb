package web_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/show"
)

// day returns noon UTC, n days from now, as the API's JSON time.
func day(n int) time.Time {
	d := time.Now().UTC().AddDate(0, 0, n)
	return time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.UTC)
}

func (e *env) createShow(tok string, body map[string]any) resp {
	e.t.Helper()
	return e.do("POST", "/api/shows", body, bearer(tok))
}

func showID(t *testing.T, r resp) string {
	t.Helper()
	return r.json(t)["show"].(map[string]any)["id"].(string)
}

func message(t *testing.T, r resp) string {
	t.Helper()
	return r.json(t)["error"].(map[string]any)["message"].(string)
}

func TestPavilionDayOverHTTP(t *testing.T) {
	e := newEnv(t)
	brandName := "" // the demo brand's
	if r := e.do("GET", "/api/brands/"+e.creds.BrandID, nil); r.status == http.StatusOK {
		brandName = r.json(t)["brand"].(map[string]any)["name"].(string)
	}
	held := e.createShow(e.creds.BrandAdminToken, map[string]any{
		"brand_id": e.creds.BrandID, "title": "Maison Day", "kind": "pavilion_day",
		"starts_at": day(10), "ends_at": day(10).Add(8 * time.Hour),
	})
	e.want(held, http.StatusCreated, "")
	if days := held.json(t)["show"].(map[string]any)["pavilion_days"].([]any); len(days) != 1 || days[0] != day(10).Format(time.DateOnly) {
		t.Fatalf("pavilion_days = %v", days)
	}
	rival := map[string]any{
		"brand_id": e.rival.ID, "title": "Rival Day", "kind": "pavilion_day",
		"starts_at": day(10).Add(-4 * time.Hour), "ends_at": day(10).Add(-2 * time.Hour),
	}
	r := e.createShow(e.rivalTk, rival)
	e.want(r, http.StatusConflict, "conflict")
	if msg := message(t, r); brandName == "" || !strings.Contains(msg, brandName) {
		t.Fatalf("conflict message %q does not name %q", msg, brandName)
	}
	// The rival's own listing holds nothing.
	if list := e.do("GET", "/api/shows?brand="+e.rival.ID.String(), nil, bearer(e.rivalTk)); strings.Contains(string(list.body), "Rival Day") {
		t.Fatal("a refused Pavilion Day was stored")
	}

	// Cancelling frees the day.
	e.want(e.do("DELETE", "/api/shows/"+showID(t, held), nil, bearer(e.creds.BrandAdminToken)), http.StatusOK, "")
	e.want(e.createShow(e.rivalTk, rival), http.StatusCreated, "")
}

func TestScheduleRulesOverHTTP(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hostID := mustUserID(t, e, e.creds.HostEmail)
	demoShow, err := e.db.ShowByID(ctx, uuid.MustParse(e.creds.ShowID))
	if err != nil {
		t.Fatal(err)
	}
	// The demo host is on the demo show: an overlapping booking names it.
	r := e.createShow(e.creds.BrandAdminToken, map[string]any{
		"brand_id": e.creds.BrandID, "title": "Double booking", "host_ids": []string{hostID},
		"starts_at": demoShow.StartsAt.Add(10 * time.Minute), "ends_at": demoShow.EndsAt.Add(time.Hour),
	})
	e.want(r, http.StatusConflict, "conflict")
	if msg := message(t, r); !strings.Contains(msg, demoShow.Title) {
		t.Fatalf("host clash message %q does not name %q", msg, demoShow.Title)
	}
	// Bad input: end before start, a host that is no account.
	e.want(e.createShow(e.creds.BrandAdminToken, map[string]any{
		"brand_id": e.creds.BrandID, "title": "Backwards", "starts_at": day(3), "ends_at": day(3).Add(-time.Hour),
	}), http.StatusBadRequest, "invalid")
	r = e.createShow(e.creds.BrandAdminToken, map[string]any{
		"brand_id": e.creds.BrandID, "title": "Ghost", "host_ids": []string{uuid.NewString()},
		"starts_at": day(3), "ends_at": day(3).Add(time.Hour),
	})
	e.want(r, http.StatusBadRequest, "invalid")
	if !strings.Contains(message(t, r), "not an account") {
		t.Fatalf("unknown host message: %s", r.body)
	}

	// Live: the schedule is frozen.
	svc := &show.Service{Store: e.db}
	if _, err := svc.GoLive(ctx, demoShow.ID); err != nil {
		t.Fatal(err)
	}
	e.want(e.do("PATCH", "/api/shows/"+e.creds.ShowID, map[string]any{"starts_at": demoShow.StartsAt.Add(time.Hour)},
		bearer(e.creds.BrandAdminToken)), http.StatusConflict, "conflict")
	e.want(e.do("PATCH", "/api/shows/"+e.creds.ShowID, map[string]any{"title": "Autumn Runway, live"},
		bearer(e.creds.BrandAdminToken)), http.StatusOK, "")
	e.want(e.do("DELETE", "/api/shows/"+e.creds.ShowID, nil, bearer(e.creds.BrandAdminToken)), http.StatusConflict, "conflict")
}

func TestCancelReleasesHolds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	offerID := uuid.MustParse(e.creds.OfferIDs[1])
	r := e.do("POST", "/api/reservations", map[string]any{"offer_id": offerID, "quantity": 2}, bearer(e.creds.ViewerToken))
	e.want(r, http.StatusCreated, "")
	resID := r.json(t)["reservation"].(map[string]any)["id"].(string)
	o, err := e.db.OfferByID(ctx, offerID)
	if err != nil || o.Held != 2 {
		t.Fatalf("offer before cancelling: %+v %v", o, err)
	}

	e.want(e.do("DELETE", "/api/shows/"+e.creds.ShowID, nil, bearer(e.creds.BrandAdminToken)), http.StatusOK, "")
	res, err := e.db.ReservationByID(ctx, uuid.MustParse(resID))
	if err != nil || res.State != checkout.Released {
		t.Fatalf("reservation after cancelling: %+v %v", res, err)
	}
	o, err = e.db.OfferByID(ctx, offerID)
	if err != nil || o.Held != 0 {
		t.Fatalf("offer after cancelling: %+v %v", o, err)
	}
	sku, err := e.db.SKUByID(ctx, o.SKUID)
	if err != nil || sku.Held != 0 {
		t.Fatalf("SKU after cancelling: %+v %v", sku, err)
	}
	// A cancelled show sells nothing, and is cancelled once.
	e.want(e.do("POST", "/api/reservations", map[string]any{"offer_id": offerID, "quantity": 1}, bearer(e.creds.MemberToken)),
		http.StatusConflict, "conflict")
	e.want(e.do("DELETE", "/api/shows/"+e.creds.ShowID, nil, bearer(e.creds.BrandAdminToken)), http.StatusConflict, "conflict")
}

func TestNotifyMe(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	path := "/api/shows/" + e.creds.ShowID + "/subscription"
	e.want(e.do("POST", path, nil), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", "/api/me/notices", nil), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", path, nil, bearer(e.creds.ViewerToken)), http.StatusOK, "")
	e.want(e.do("POST", path, nil, bearer(e.creds.MemberToken)), http.StatusOK, "")
	e.want(e.do("DELETE", path, nil, bearer(e.creds.MemberToken)), http.StatusOK, "")
	r := e.do("GET", path, nil, bearer(e.creds.ViewerToken))
	e.want(r, http.StatusOK, "")
	if !r.json(t)["subscription"].(map[string]any)["subscribed"].(bool) {
		t.Fatalf("subscription = %s", r.body)
	}

	// A members-only show cannot be followed by a non-member: it does not exist for them.
	members := e.createShow(e.creds.BrandAdminToken, map[string]any{
		"brand_id": e.creds.BrandID, "title": "Members' preview", "visibility": "members",
		"starts_at": day(5), "ends_at": day(5).Add(time.Hour),
	})
	e.want(members, http.StatusCreated, "")
	e.want(e.do("POST", "/api/shows/"+showID(t, members)+"/subscription", nil, bearer(e.creds.ViewerToken)), http.StatusNotFound, "not_found")

	if _, err := (&show.Service{Store: e.db}).GoLive(ctx, uuid.MustParse(e.creds.ShowID)); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/api/me/notices", nil, bearer(e.creds.ViewerToken))
	e.want(r, http.StatusOK, "")
	notices := r.json(t)["notices"].([]any)
	if len(notices) != 1 {
		t.Fatalf("viewer notices = %s", r.body)
	}
	n := notices[0].(map[string]any)
	if n["show_id"] != e.creds.ShowID || n["kind"] != show.NoticeLive || !strings.Contains(n["text"].(string), "Autumn Runway") {
		t.Fatalf("notice = %v", n)
	}
	r = e.do("GET", "/api/me/notices", nil, bearer(e.creds.MemberToken))
	if got := r.json(t)["notices"].([]any); len(got) != 0 {
		t.Fatalf("an unsubscribed member was told: %s", r.body)
	}
	// A live show is no longer "upcoming": following it now is refused.
	e.want(e.do("POST", path, nil, bearer(e.creds.MemberToken)), http.StatusConflict, "conflict")
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	tok := e.creds.BrandAdminToken
	e.want(e.createShow(tok, map[string]any{"brand_id": e.creds.BrandID, "title": "Later show", "starts_at": day(2), "ends_at": day(2).Add(time.Hour)}), http.StatusCreated, "")
	e.want(e.createShow(tok, map[string]any{"brand_id": e.creds.BrandID, "title": "The Day", "kind": "pavilion_day", "starts_at": day(20), "ends_at": day(20).Add(6 * time.Hour)}), http.StatusCreated, "")
	e.want(e.createShow(e.rivalTk, map[string]any{"brand_id": e.rival.ID, "title": "Rival show", "starts_at": day(1), "ends_at": day(1).Add(time.Hour)}), http.StatusCreated, "")

	titles := func(r resp) []string {
		t.Helper()
		e.want(r, http.StatusOK, "")
		var out []string
		for _, s := range r.json(t)["shows"].([]any) {
			out = append(out, s.(map[string]any)["title"].(string))
		}
		return out
	}
	q := "/api/shows?state=upcoming&brand=" + e.creds.BrandID
	if got := strings.Join(titles(e.do("GET", q, nil)), ","); got != "The Day,Autumn Runway Live,Later show" {
		t.Fatalf("upcoming = %s", got)
	}
	// A page at a time, following next_cursor.
	var all []string
	next := q + "&limit=2"
	for range 5 {
		r := e.do("GET", next, nil)
		all = append(all, titles(r)...)
		cursor, _ := r.json(t)["next_cursor"].(string)
		if cursor == "" {
			break
		}
		next = q + "&limit=2&cursor=" + cursor
	}
	if strings.Join(all, ",") != "The Day,Autumn Runway Live,Later show" {
		t.Fatalf("paged = %v", all)
	}
	e.want(e.do("GET", "/api/shows?cursor=nonsense", nil), http.StatusBadRequest, "invalid")
	e.want(e.do("GET", "/api/shows?state=soon", nil), http.StatusBadRequest, "invalid")

	if got := titles(e.do("GET", "/api/shows?state=live", nil)); len(got) != 0 {
		t.Fatalf("live before anything went live: %v", got)
	}
	if _, err := (&show.Service{Store: e.db}).GoLive(context.Background(), uuid.MustParse(e.creds.ShowID)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(titles(e.do("GET", "/api/shows?state=live", nil)), ","); got != "Autumn Runway Live" {
		t.Fatalf("live = %s", got)
	}
}

func TestCalendarFeeds(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("Défilé, soie; coton\\lin. ", 12) + "\nSecond line"
	r := e.createShow(e.creds.BrandAdminToken, map[string]any{
		"brand_id": e.creds.BrandID, "title": "Night, day; and \\ more", "description": long,
		"starts_at": day(4), "ends_at": day(4).Add(90 * time.Minute), "time_zone": "Asia/Shanghai",
	})
	e.want(r, http.StatusCreated, "")
	special := showID(t, r)
	members := showID(t, e.createShow(e.creds.BrandAdminToken, map[string]any{
		"brand_id": e.creds.BrandID, "title": "Members' preview", "visibility": "members",
		"starts_at": day(6), "ends_at": day(6).Add(time.Hour),
	}))

	parse := func(r resp) map[string]ical.Event {
		t.Helper()
		e.want(r, http.StatusOK, "")
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
			t.Fatalf("Content-Type = %q", ct)
		}
		for _, l := range strings.SplitAfter(string(r.body), "\r\n") {
			if len(strings.TrimSuffix(l, "\r\n")) > 75 {
				t.Fatalf("unfolded line of %d octets: %q", len(l), l)
			}
		}
		cal, err := ical.NewDecoder(bytes.NewReader(r.body)).Decode()
		if err != nil {
			t.Fatalf("feed does not parse: %v\n%s", err, r.body)
		}
		out := map[string]ical.Event{}
		for _, ev := range cal.Events() {
			uid, err := ev.Props.Text(ical.PropUID)
			if err != nil || uid == "" {
				t.Fatalf("event without UID: %v", err)
			}
			if ev.Props.Get(ical.PropDateTimeStamp) == nil {
				t.Fatalf("event %s without DTSTAMP", uid)
			}
			out[strings.SplitN(uid, "@", 2)[0]] = ev
		}
		return out
	}

	events := parse(e.do("GET", "/api/calendar.ics", nil))
	ev, ok := events[special]
	if !ok {
		t.Fatalf("show %s not in the public feed", special)
	}
	if got, _ := ev.Props.Text(ical.PropSummary); !strings.HasSuffix(got, "Night, day; and \\ more") {
		t.Fatalf("SUMMARY = %q", got)
	}
	if got, _ := ev.Props.Text(ical.PropDescription); got != long {
		t.Fatalf("DESCRIPTION = %q, want %q", got, long)
	}
	start, err := ev.DateTimeStart(nil)
	if err != nil || !start.Equal(day(4)) || !strings.HasSuffix(ev.Props.Get(ical.PropDateTimeStart).Value, "Z") {
		t.Fatalf("DTSTART = %v %v", start, err)
	}
	if _, ok := events[members]; ok {
		t.Fatal("a members-only show is in the anonymous feed")
	}
	if _, ok := parse(e.do("GET", "/api/calendar.ics", nil, bearer(e.creds.MemberToken)))[members]; !ok {
		t.Fatal("a member does not see the members-only show")
	}

	// The viewer's own feed: only what they follow.
	e.want(e.do("GET", "/api/me/calendar.ics", nil), http.StatusUnauthorized, "unauthorized")
	if got := parse(e.do("GET", "/api/me/calendar.ics", nil, bearer(e.creds.ViewerToken))); len(got) != 0 {
		t.Fatalf("empty subscriptions feed has %d events", len(got))
	}
	e.want(e.do("POST", "/api/shows/"+special+"/subscription", nil, bearer(e.creds.ViewerToken)), http.StatusOK, "")
	mine := parse(e.do("GET", "/api/me/calendar.ics", nil, bearer(e.creds.ViewerToken)))
	if _, ok := mine[special]; !ok || len(mine) != 1 {
		t.Fatalf("subscriptions feed = %v", mine)
	}
	// A cancelled show stays, marked cancelled, so calendars drop it.
	e.want(e.do("DELETE", "/api/shows/"+special, nil, bearer(e.creds.BrandAdminToken)), http.StatusOK, "")
	mine = parse(e.do("GET", "/api/me/calendar.ics", nil, bearer(e.creds.ViewerToken)))
	if st, _ := mine[special].Props.Text(ical.PropStatus); st != "CANCELLED" {
		t.Fatalf("STATUS of a cancelled show = %q", st)
	}

	// Following the brand brings every show of it the viewer may see, each once.
	e.want(e.do("PUT", "/api/brands/"+e.creds.BrandID+"/follow", nil, bearer(e.creds.ViewerToken)), http.StatusOK, "")
	mine = parse(e.do("GET", "/api/me/calendar.ics", nil, bearer(e.creds.ViewerToken)))
	public := parse(e.do("GET", "/api/calendar.ics", nil))
	if len(mine) != len(public) {
		t.Fatalf("followed brand's feed has %d shows, the public feed %d", len(mine), len(public))
	}
	for id := range public {
		if _, ok := mine[id]; !ok {
			t.Fatalf("followed brand's show %s missing from the viewer's feed", id)
		}
	}
	if _, ok := mine[members]; ok {
		t.Fatal("a members-only show is in a non-member's followed feed")
	}
}

func TestBrandHub(t *testing.T) {
	e := newEnv(t)
	e.want(e.createShow(e.creds.BrandAdminToken, map[string]any{
		"brand_id": e.creds.BrandID, "title": "Members' preview", "visibility": "members",
		"starts_at": day(6), "ends_at": day(6).Add(time.Hour),
	}), http.StatusCreated, "")
	hub := func(opts ...reqOpt) map[string]any {
		t.Helper()
		r := e.do("GET", "/api/brands/"+e.creds.BrandID+"/hub", nil, opts...)
		e.want(r, http.StatusOK, "")
		return r.json(t)["hub"].(map[string]any)
	}
	h := hub()
	if h["brand"].(map[string]any)["id"] != e.creds.BrandID || len(h["new_products"].([]any)) == 0 {
		t.Fatalf("hub = %v", h)
	}
	if up := h["upcoming"].([]any); len(up) != 1 || up[0].(map[string]any)["id"] != e.creds.ShowID {
		t.Fatalf("public upcoming = %v", up)
	}
	if len(h["live"].([]any)) != 0 || len(h["past"].([]any)) != 0 {
		t.Fatalf("live/past = %v %v", h["live"], h["past"])
	}
	if up := hub(bearer(e.creds.MemberToken))["upcoming"].([]any); len(up) != 2 {
		t.Fatalf("member upcoming = %v", up)
	}
	e.want(e.do("GET", "/api/brands/"+uuid.NewString()+"/hub", nil), http.StatusNotFound, "not_found")

	// Its admins edit the profile; others may not; bad input changes nothing.
	patch := map[string]any{"story": "Since 1921, in Lyon.", "logo_url": "https://cdn.example.com/logo.png", "flagship": "1 Place Bellecour, Lyon"}
	e.want(e.do("PATCH", "/api/brands/"+e.creds.BrandID, patch, bearer(e.rivalTk)), http.StatusForbidden, "forbidden")
	e.want(e.do("PATCH", "/api/brands/"+e.creds.BrandID, patch, bearer(e.creds.BrandAdminToken)), http.StatusOK, "")
	e.want(e.do("PATCH", "/api/brands/"+e.creds.BrandID, map[string]any{"logo_url": "javascript:alert(1)"}, bearer(e.creds.BrandAdminToken)),
		http.StatusBadRequest, "invalid")
	b := hub()["brand"].(map[string]any)
	if b["story"] != patch["story"] || b["logo_url"] != patch["logo_url"] || b["flagship"] != patch["flagship"] {
		t.Fatalf("brand after edits = %v", b)
	}
}

// TestShowRealTimes: the show's JSON says when it really went live and
// ended (went_live_at, ended_at), null until then, beside the times it was
// scheduled for, in the show and in listings.
func TestShowRealTimes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := uuid.MustParse(e.creds.ShowID)
	times := func(r resp) (live, ended any, starts string) {
		t.Helper()
		e.want(r, http.StatusOK, "")
		sh := r.json(t)["show"].(map[string]any)
		for _, k := range []string{"went_live_at", "ended_at"} {
			if _, ok := sh[k]; !ok {
				t.Fatalf("the show has no %s: %s", k, r.body)
			}
		}
		return sh["went_live_at"], sh["ended_at"], sh["starts_at"].(string)
	}
	path := "/api/shows/" + e.creds.ShowID
	live, ended, scheduled := times(e.do("GET", path, nil))
	if live != nil || ended != nil {
		t.Fatalf("a scheduled show went live at %v and ended at %v", live, ended)
	}
	wentLive, err := e.shows.GoLive(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	live, ended, starts := times(e.do("GET", path, nil))
	if got, _ := time.Parse(time.RFC3339Nano, live.(string)); !got.Equal(*wentLive.WentLiveAt) || ended != nil || starts != scheduled {
		t.Fatalf("live: went_live_at %v (want %v), ended_at %v, starts_at %s (scheduled %s)", live, wentLive.WentLiveAt, ended, starts, scheduled)
	}
	// The publisher reconnects: the show is live already and keeps its start.
	if _, err := e.shows.GoLive(ctx, id); err == nil {
		t.Fatal("a live show went live again")
	}
	over, err := e.shows.End(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r := e.do("GET", "/api/shows?state=past", nil)
	e.want(r, http.StatusOK, "")
	var listed map[string]any
	for _, s := range r.json(t)["shows"].([]any) {
		if s.(map[string]any)["id"] == e.creds.ShowID {
			listed = s.(map[string]any)
		}
	}
	// The calendar has the show as it took place.
	cal := e.do("GET", "/api/calendar.ics", nil)
	e.want(cal, http.StatusOK, "")
	for _, line := range []string{"DTSTART:" + wentLive.WentLiveAt.UTC().Format("20060102T150405Z"), "DTEND:" + over.EndedAt.UTC().Format("20060102T150405Z")} {
		if !strings.Contains(string(cal.body), line) {
			t.Fatalf("the calendar has no %s:\n%s", line, cal.body)
		}
	}
	for what, sh := range map[string]map[string]any{"the show": showJSON(t, e.do("GET", path, nil)), "the past shows": listed} {
		if sh == nil {
			t.Fatalf("%s: not listed: %s", what, r.body)
		}
		l, _ := time.Parse(time.RFC3339Nano, sh["went_live_at"].(string))
		en, _ := time.Parse(time.RFC3339Nano, sh["ended_at"].(string))
		if !l.Equal(*wentLive.WentLiveAt) || !en.Equal(*over.EndedAt) || en.Before(l) {
			t.Fatalf("%s: went live %v, ended %v; want %v and %v", what, sh["went_live_at"], sh["ended_at"], wentLive.WentLiveAt, over.EndedAt)
		}
	}
}

// showJSON is the show of GET /api/shows/{id}.
func showJSON(t *testing.T, r resp) map[string]any {
	t.Helper()
	return r.json(t)["show"].(map[string]any)
}
