package web_test

import (
	"context"
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/web"
)

// withAnalytics serves e's API again, now with a recorder over e's store.
func (e *env) withAnalytics() *analytics.Recorder {
	e.t.Helper()
	rec := &analytics.Recorder{Store: e.db, Node: "test"}
	srv := &web.Server{Accounts: e.svc, Brands: e.db, Shows: e.db, Schedule: e.shows, Catalog: e.db, Checkout: e.shop, Analytics: rec,
		Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}
	e.srv = httptest.NewServer(srv.Handler())
	e.t.Cleanup(e.srv.Close)
	return rec
}

func TestShowStatsAccess(t *testing.T) {
	e := newEnv(t)
	path := "/api/shows/" + e.creds.ShowID + "/stats"
	// Without analytics the route says so.
	e.want(e.do("GET", path, nil, bearer(e.creds.HostToken)), http.StatusNotImplemented, "not_implemented")
	e.withAnalytics()

	for _, tc := range []struct {
		who    string
		opts   []reqOpt
		status int
		code   string
	}{
		{"anonymous", nil, 401, "unauthorized"},
		{"viewer", []reqOpt{bearer(e.creds.ViewerToken)}, 403, "forbidden"},
		{"member", []reqOpt{bearer(e.creds.MemberToken)}, 403, "forbidden"},
		{"other brand", []reqOpt{bearer(e.rivalTk)}, 403, "forbidden"},
		{"host", []reqOpt{bearer(e.creds.HostToken)}, 200, ""},
		{"brand admin", []reqOpt{bearer(e.creds.BrandAdminToken)}, 200, ""},
		{"admin", []reqOpt{bearer(e.creds.AdminToken)}, 200, ""},
	} {
		t.Run(tc.who, func(t *testing.T) {
			for _, p := range []string{path, path + ".csv"} {
				e.want(e.do("GET", p, nil, tc.opts...), tc.status, tc.code)
			}
		})
	}
	e.want(e.do("GET", "/api/shows/nope/stats", nil, bearer(e.creds.AdminToken)), 404, "not_found")
	e.want(e.do("GET", "/api/shows/"+uuid.NewString()+"/stats.csv", nil, bearer(e.creds.AdminToken)), 404, "not_found")

	// A members-only show stays invisible: 404, not 403, to those who may not see it.
	r := e.do("POST", "/api/shows", map[string]any{
		"brand_id": e.creds.BrandID, "title": "Members' preview", "visibility": "members",
		"starts_at": time.Now().Add(72 * time.Hour), "ends_at": time.Now().Add(73 * time.Hour),
	}, bearer(e.creds.BrandAdminToken))
	e.want(r, http.StatusCreated, "")
	members := "/api/shows/" + r.json(t)["show"].(map[string]any)["id"].(string) + "/stats"
	e.want(e.do("GET", members, nil, bearer(e.creds.ViewerToken)), 404, "not_found")
	e.want(e.do("GET", members, nil, bearer(e.rivalTk)), 404, "not_found")
	e.want(e.do("GET", members, nil, bearer(e.creds.MemberToken)), 403, "forbidden")
	e.want(e.do("GET", members, nil, bearer(e.creds.BrandAdminToken)), 200, "")
}

func TestShowStatsFigures(t *testing.T) {
	e := newEnv(t)
	rec := e.withAnalytics()
	ctx := context.Background()
	show := uuid.MustParse(e.creds.ShowID)
	scarf := e.creds.OfferIDs[2]
	viewerID := mustUserID(t, e, demo.ViewerEmail)

	rec.Join(show, "u:"+viewerID, time.Now())
	rec.Join(show, "a:someone-anonymous-1", time.Now())
	rec.Chat(show, "u:"+viewerID)
	rec.CardTap(show, uuid.MustParse(scarf), "u:"+viewerID)
	viewer := bearer(e.creds.ViewerToken)
	r := e.do("POST", "/api/reservations", map[string]any{"offer_id": scarf, "quantity": 1}, viewer)
	resID := r.json(t)["reservation"].(map[string]any)["id"].(string)
	ship := map[string]string{"name": "Vic", "line1": "1 Rue", "city": "Lyon", "country": "FR"}
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": resID, "shipping": ship, "payment_token": "tok_visa"}, viewer), 201, "")
	rec.Leave(show, "u:"+viewerID, time.Now())
	if err := rec.Flush(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}

	r = e.do("GET", "/api/shows/"+e.creds.ShowID+"/stats", nil, bearer(e.creds.HostToken))
	e.want(r, 200, "")
	st := r.json(t)["stats"].(map[string]any)
	for k, want := range map[string]float64{"unique_viewers": 2, "joins": 2, "chat_messages": 1, "card_taps": 1,
		"reservations": 1, "orders": 1, "units": 1, "buyers": 1, "viewer_buyers": 1, "conversion": 0.5} {
		if st[k] != want {
			t.Errorf("%s = %v, want %v", k, st[k], want)
		}
	}
	gmv := st["gmv"].([]any)
	if len(gmv) != 1 || gmv[0].(map[string]any)["currency"] != "EUR" || gmv[0].(map[string]any)["minor"] != 59000.0 {
		t.Errorf("gmv = %v", gmv)
	}

	r = e.do("GET", "/api/shows/"+e.creds.ShowID+"/stats.csv", nil, bearer(e.creds.BrandAdminToken))
	e.want(r, 200, "")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("headers: %v", r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%d rows, %v\n%s", len(rows), err, r.body)
	}
	if got := strings.Join(rows[0], ","); got != "minute,viewers,reservations,orders,units,gmv_EUR" {
		t.Fatalf("header = %s", got)
	}
	var orders int
	var sold []string
	for _, row := range rows[1:] {
		if _, err := time.Parse(time.RFC3339, row[0]); err != nil {
			t.Fatalf("minute %q: %v", row[0], err)
		}
		n, _ := strconv.Atoi(row[3])
		orders += n
		if n > 0 {
			sold = append(sold, row[5])
		}
	}
	if orders != 1 || len(sold) != 1 || sold[0] != "590.00" {
		t.Fatalf("orders %d, gmv %v in\n%s", orders, sold, r.body)
	}
}
