package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
)

// GET /api/shows/{id}/prize-coupons: whoever may run the show (its host,
// who does not administer the brand, too) lists the coupons a giveaway may
// give away there — not another show's, not withdrawn, not expired, not a
// winner's copy — and nobody else may.
func TestPrizeCouponsRoute(t *testing.T) {
	e := newEnv(t)
	brand := "/api/brands/" + e.creds.BrandID + "/coupons"
	path := "/api/shows/" + e.creds.ShowID + "/prize-coupons"
	admin, host := bearer(e.creds.BrandAdminToken), bearer(e.creds.HostToken)
	mk := func(body map[string]any) string {
		t.Helper()
		r := e.do("POST", brand, body, admin)
		e.want(r, http.StatusCreated, "")
		return r.json(t)["coupon"].(map[string]any)["id"].(string)
	}
	amount := func(code string) map[string]any {
		return map[string]any{"code": code, "kind": "amount", "amount_off_minor": 1000, "currency": "EUR"}
	}
	brandWide := mk(amount("BRAND10"))
	forShow := amount("SHOW10")
	forShow["show_id"] = e.creds.ShowID
	showOnly := mk(forShow)
	withdrawn := mk(amount("GONE10"))
	e.want(e.do("PATCH", "/api/coupons/"+withdrawn, map[string]any{"disabled": true}, admin), http.StatusOK, "")
	ending := amount("SOON10")
	ending["ends_at"] = time.Now().Add(time.Hour)
	soon := mk(ending)

	e.want(e.do("GET", path, nil), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", path, nil, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("GET", path, nil, bearer(e.rivalTk)), http.StatusForbidden, "forbidden")
	e.want(e.do("GET", "/api/shows/"+uuid.NewString()+"/prize-coupons", nil, host), http.StatusNotFound, "not_found")
	for _, who := range []reqOpt{host, admin} {
		r := e.do("GET", path, nil, who)
		e.want(r, http.StatusOK, "")
		got := map[string]bool{}
		for _, c := range r.json(t)["coupons"].([]any) {
			c := c.(map[string]any)
			got[c["id"].(string)] = true
			if c["spent_minor"] != nil || c["uses"] != nil {
				t.Fatalf("a prize coupon shows what it spent: %v", c)
			}
		}
		if len(got) != 3 || !got[brandWide] || !got[showOnly] || !got[soon] {
			t.Fatalf("prize coupons = %v, want the brand's, the show's and the one still valid", got)
		}
	}
}
