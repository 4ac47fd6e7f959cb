package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// The data bank is for the brand's admins and platform admins; its CSV
// tables hold aggregates, with small groups masked as in the JSON.
func TestBrandInsightsHTTP(t *testing.T) {
	e := newEnv(t)
	path := "/api/brands/" + e.creds.BrandID + "/insights"
	e.want(e.do("GET", path, nil, bearer(e.creds.BrandAdminToken)), http.StatusNotImplemented, "not_implemented")
	rec := e.withAnalytics()
	e.shop.Intents = rec
	ctx := context.Background()
	show := uuid.MustParse(e.creds.ShowID)
	viewerID := mustUserID(t, e, demo.ViewerEmail)

	// One viewer watches, taps and buys; a tap on a closed offer is lost.
	rec.Join(show, "u:"+viewerID, time.Now())
	scarf := e.creds.OfferIDs[2]
	rec.CardTap(show, uuid.MustParse(scarf), "u:"+viewerID)
	viewer := bearer(e.creds.ViewerToken)
	r := e.do("POST", "/api/reservations", map[string]any{"offer_id": scarf, "quantity": 1}, viewer)
	e.want(r, 201, "")
	resID := r.json(t)["reservation"].(map[string]any)["id"].(string)
	ship := map[string]string{"name": "Vic", "line1": "1 Rue", "city": "Lyon", "country": "FR"}
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": resID, "shipping": ship, "payment_token": "tok_chargeDeclined"}, viewer), 402, "payment_failed")
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": resID, "shipping": ship, "payment_token": "tok_visa"}, viewer), 201, "")
	rec.Leave(show, "u:"+viewerID, time.Now())
	if err := rec.Flush(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}

	from, to := time.Now().AddDate(0, 0, -10).Format(time.DateOnly), time.Now().AddDate(0, 0, 40).Format(time.DateOnly)
	period := "?from=" + from + "&to=" + to
	for _, tc := range []struct {
		who    string
		opts   []reqOpt
		status int
		code   string
	}{
		{"anonymous", nil, 401, "unauthorized"},
		{"viewer", []reqOpt{viewer}, 403, "forbidden"},
		{"host", []reqOpt{bearer(e.creds.HostToken)}, 403, "forbidden"},
		{"other brand", []reqOpt{bearer(e.rivalTk)}, 403, "forbidden"},
		{"brand admin", []reqOpt{bearer(e.creds.BrandAdminToken)}, 200, ""},
		{"admin", []reqOpt{bearer(e.creds.AdminToken)}, 200, ""},
	} {
		t.Run(tc.who, func(t *testing.T) {
			e.want(e.do("GET", path+period, nil, tc.opts...), tc.status, tc.code)
			e.want(e.do("GET", path+".csv"+period+"&table=funnel", nil, tc.opts...), tc.status, tc.code)
		})
	}
	admin := bearer(e.creds.BrandAdminToken)
	e.want(e.do("GET", "/api/brands/"+uuid.NewString()+"/insights", nil, admin), 404, "not_found")
	e.want(e.do("GET", path+"?from=yesterday", nil, admin), 400, "invalid")
	e.want(e.do("GET", path+"?from=2030-06-02&to=2030-06-01", nil, admin), 400, "invalid")
	e.want(e.do("GET", path+"?from=2020-01-01&to=2030-01-01", nil, admin), 400, "invalid")
	e.want(e.do("GET", path+period+"&show="+uuid.NewString(), nil, admin), 404, "not_found")
	e.want(e.do("GET", path+".csv"+period+"&table=people", nil, admin), 400, "invalid")

	r = e.do("GET", path+period+"&show="+e.creds.ShowID, nil, admin)
	e.want(r, 200, "")
	in := r.json(t)["insights"].(map[string]any)
	funnel := in["funnel"].([]any)
	bought := funnel[4].(map[string]any)
	if bought["step"] != "bought" || bought["people"].(map[string]any)["count"] != nil || bought["people"].(map[string]any)["fewer_than_10"] != true {
		t.Fatalf("one buyer is shown: %v", bought)
	}
	if funnel[4].(map[string]any)["conversion"] != nil {
		t.Fatalf("a conversion from a masked step: %v", funnel[4])
	}
	totals := in["lost_totals"].(map[string]any)
	if totals["payment_declined"] != 1.0 || totals["sold_out"] != 0.0 {
		t.Fatalf("lost totals = %v", totals)
	}

	for table, head := range map[string]string{
		"funnel":    "step,people,conversion_from_previous",
		"shows":     "show_id,title,starts_at,reached",
		"lost":      "show_id,offer_id,offer,sold_out",
		"audiences": "bucket_start,followers,members,repeat_buyers,tapped_not_bought",
	} {
		r := e.do("GET", path+".csv"+period+"&table="+table, nil, admin)
		e.want(r, 200, "")
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("%s: Content-Type %q", table, ct)
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil || len(rows) < 2 || !strings.HasPrefix(strings.Join(rows[0], ","), head) {
			t.Fatalf("%s: %v\n%s", table, err, r.body)
		}
		if strings.Contains(string(r.body), viewerID) || strings.Contains(string(r.body), demo.ViewerEmail) {
			t.Fatalf("%s names a person:\n%s", table, r.body)
		}
		if table == "funnel" && rows[5][0] != "bought" || table == "funnel" && rows[5][1] != "fewer than 10" {
			t.Fatalf("funnel CSV: %v", rows)
		}
	}
}

// A brand tells its followers about an upcoming show once.
func TestTellFollowers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	viewerID := uuid.MustParse(mustUserID(t, e, demo.ViewerEmail))
	if err := e.db.Follow(ctx, uuid.MustParse(e.creds.BrandID), viewerID, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	path := "/api/shows/" + e.creds.ShowID + "/notify-followers"
	e.want(e.do("POST", path, nil), 401, "unauthorized")
	e.want(e.do("POST", path, nil, bearer(e.creds.ViewerToken)), 403, "forbidden")
	e.want(e.do("POST", path, nil, bearer(e.rivalTk)), 403, "forbidden")
	r := e.do("POST", path, nil, bearer(e.creds.BrandAdminToken))
	e.want(r, 200, "")
	if told := r.json(t)["told"]; told != 1.0 {
		t.Fatalf("told = %v", told)
	}
	e.want(e.do("POST", path, nil, bearer(e.creds.BrandAdminToken)), 409, "conflict")
	r = e.do("GET", "/api/me/notices", nil, bearer(e.creds.ViewerToken))
	e.want(r, 200, "")
	notices := r.json(t)["notices"].([]any)
	if len(notices) != 1 || !strings.HasPrefix(notices[0].(map[string]any)["text"].(string), "Coming up: ") {
		t.Fatalf("notices = %v", notices)
	}
	e.want(e.do("POST", "/api/shows/"+uuid.NewString()+"/notify-followers", nil, bearer(e.creds.BrandAdminToken)), 404, "not_found")
}
