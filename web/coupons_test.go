package web_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// TestCouponRoutes: the coupon routes over HTTP: who may make, list and
// withdraw them, what viewers see, a quote and an order with a code, and
// every refusal answered with its status and changing nothing.
func TestCouponRoutes(t *testing.T) {
	e := newEnv(t)
	brand := "/api/brands/" + e.creds.BrandID + "/coupons"
	admin, viewer, rival := bearer(e.creds.BrandAdminToken), bearer(e.creds.ViewerToken), bearer(e.rivalTk)
	coupon := map[string]any{"code": "lumiere50", "show_id": e.creds.ShowID, "kind": "amount", "amount_off_minor": 5000,
		"currency": "EUR", "max_uses": 1}

	e.want(e.do("POST", brand, coupon), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", brand, coupon, viewer), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", brand, coupon, rival), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", brand, map[string]any{"code": "X", "kind": "amount", "amount_off_minor": 5000, "currency": "EUR"}, admin), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", brand, map[string]any{"code": "HALF", "kind": "percent", "percent_off": 150, "currency": "EUR"}, admin), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", brand, map[string]any{"code": "HALF", "kind": "percent", "percent_off": 50, "currency": "EUR", "show_id": uuid.NewString()}, admin), http.StatusBadRequest, "invalid")
	e.want(e.do("GET", brand, nil, viewer), http.StatusForbidden, "forbidden")
	if r := e.do("GET", brand, nil, admin); r.status != http.StatusOK || len(r.json(t)["coupons"].([]any)) != 0 {
		t.Fatalf("coupons after refusals: %d %s", r.status, r.body)
	}
	made := e.do("POST", brand, coupon, admin)
	e.want(made, http.StatusCreated, "")
	c := made.json(t)["coupon"].(map[string]any)
	if c["code"] != "LUMIERE50" || c["uses"].(float64) != 0 {
		t.Fatalf("made %s", made.body)
	}
	e.want(e.do("POST", brand, coupon, admin), http.StatusConflict, "conflict")

	seen := e.do("GET", "/api/shows/"+e.creds.ShowID+"/coupons", nil)
	e.want(seen, http.StatusOK, "")
	if list := seen.json(t)["coupons"].([]any); len(list) != 1 || list[0].(map[string]any)["code"] != "LUMIERE50" || list[0].(map[string]any)["uses"] != nil {
		t.Fatalf("viewers see %s", seen.body)
	}

	hold := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.creds.OfferIDs[0], "quantity": 1}, viewer)
	e.want(hold, http.StatusCreated, "")
	resID := hold.json(t)["reservation"].(map[string]any)["id"].(string)
	e.want(e.do("POST", "/api/coupons/quote", map[string]any{"reservation_id": resID, "code": "LUMIERE50"}), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", "/api/coupons/quote", map[string]any{"reservation_id": resID, "code": "NOPE1"}, viewer), http.StatusUnprocessableEntity, "unprocessable")
	e.want(e.do("POST", "/api/coupons/quote", map[string]any{"reservation_id": resID, "code": "LUMIERE50"}, bearer(e.creds.MemberToken)), http.StatusNotFound, "not_found")
	q := e.do("POST", "/api/coupons/quote", map[string]any{"reservation_id": resID, "code": "lumiere50"}, viewer)
	e.want(q, http.StatusOK, "")
	quote := q.json(t)["quote"].(map[string]any)
	if quote["discount_minor"].(float64) != 5000 || quote["total_minor"].(float64) != quote["subtotal_minor"].(float64)-5000 {
		t.Fatalf("quote %s", q.body)
	}

	order := map[string]any{"reservation_id": resID, "payment_token": "tok_visa", "coupon_code": "LUMIERE50",
		"shipping": map[string]any{"name": "Mei Lin", "line1": "88 Century Ave", "city": "Shanghai", "country": "CN"}}
	placed := e.do("POST", "/api/orders", order, viewer)
	e.want(placed, http.StatusCreated, "")
	o := placed.json(t)["order"].(map[string]any)
	if o["discount_minor"].(float64) != 5000 || o["coupon_code"] != "LUMIERE50" {
		t.Fatalf("order %s", placed.body)
	}
	// Used up: another hold is refused 410 and stays held.
	hold2 := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.creds.OfferIDs[0], "quantity": 1}, bearer(e.creds.MemberToken))
	e.want(hold2, http.StatusCreated, "")
	order["reservation_id"] = hold2.json(t)["reservation"].(map[string]any)["id"]
	e.want(e.do("POST", "/api/orders", order, bearer(e.creds.MemberToken)), http.StatusGone, "gone")

	id := c["id"].(string)
	e.want(e.do("PATCH", "/api/coupons/"+id, map[string]any{"disabled": true}, viewer), http.StatusNotFound, "not_found")
	e.want(e.do("PATCH", "/api/coupons/"+id, map[string]any{}, admin), http.StatusBadRequest, "invalid")
	e.want(e.do("PATCH", "/api/coupons/nope", map[string]any{"disabled": true}, admin), http.StatusNotFound, "not_found")
	off := e.do("PATCH", "/api/coupons/"+id, map[string]any{"disabled": true}, admin)
	e.want(off, http.StatusOK, "")
	if off.json(t)["coupon"].(map[string]any)["disabled"] != true {
		t.Fatalf("disabled: %s", off.body)
	}
	if list := e.do("GET", "/api/shows/"+e.creds.ShowID+"/coupons", nil).json(t)["coupons"].([]any); len(list) != 0 {
		t.Fatalf("a withdrawn coupon is still shown: %v", list)
	}
	// Cancelling the order gives the use back (to a disabled coupon: still refused).
	e.want(e.do("POST", "/api/orders/"+o["id"].(string)+"/cancel", nil, viewer), http.StatusOK, "")
	e.want(e.do("POST", "/api/orders", order, bearer(e.creds.MemberToken)), http.StatusGone, "gone")
	if c := e.do("GET", brand, nil, admin).json(t)["coupons"].([]any)[0].(map[string]any); c["uses"].(float64) != 0 || c["spent_minor"].(float64) != 0 {
		t.Fatalf("after cancel: %v", c)
	}
}

// TestGiveawayRoutes: a giveaway over HTTP, from the prize offer to the
// winner's claim: a prize cannot be bought, a followers' giveaway refuses
// others with 403, the winner claims with an address and no card.
func TestGiveawayRoutes(t *testing.T) {
	e := newEnv(t)
	admin, host, viewer := bearer(e.creds.BrandAdminToken), bearer(e.creds.HostToken), bearer(e.creds.ViewerToken)
	show := "/api/shows/" + e.creds.ShowID
	products := e.do("GET", "/api/brands/"+e.creds.BrandID+"/products", nil).json(t)["products"].([]any)
	skuID := products[1].(map[string]any)["skus"].([]any)[1].(map[string]any)["id"].(string)
	made := e.do("POST", show+"/offers", map[string]any{"sku_id": skuID, "price_minor": 0, "allocated": 2, "per_customer_limit": 1}, admin)
	e.want(made, http.StatusCreated, "")
	prize := made.json(t)["offer"].(map[string]any)["id"].(string)
	e.want(e.do("POST", "/api/reservations", map[string]any{"offer_id": prize, "quantity": 1}, viewer), http.StatusConflict, "conflict")
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": e.creds.OfferIDs[3], "seconds": 60, "giveaway": true}, host), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": prize, "seconds": 60, "giveaway": true, "eligibility": "vips"}, host), http.StatusBadRequest, "invalid")

	opened := e.do("POST", show+"/draws", map[string]any{"offer_id": prize, "seconds": 60, "units": 1, "giveaway": true, "eligibility": "followers"}, host)
	e.want(opened, http.StatusCreated, "")
	rec := opened.json(t)["draw"].(map[string]any)
	if rec["giveaway"] != true || rec["eligibility"] != "followers" {
		t.Fatalf("opened %s", opened.body)
	}
	draw := show + "/draws/" + rec["id"].(string)
	e.want(e.do("POST", draw+"/entry", nil, viewer), http.StatusForbidden, "forbidden")
	e.want(e.do("PUT", "/api/brands/"+e.creds.BrandID+"/follow", nil, viewer), http.StatusOK, "")
	e.want(e.do("POST", draw+"/entry", nil, viewer), http.StatusOK, "")
	closed := e.do("POST", draw+"/close", nil, host)
	e.want(closed, http.StatusOK, "")
	mine := e.do("GET", draw+"/entry", nil, viewer).json(t)["entry"].(map[string]any)
	if mine["rank"].(float64) != 1 || mine["reservation_id"] == nil {
		t.Fatalf("the winner's entry: %v", mine)
	}
	claim := map[string]any{"reservation_id": mine["reservation_id"],
		"shipping": map[string]any{"name": "Mei Lin", "line1": "88 Century Ave", "city": "Shanghai", "country": "CN"}}
	e.want(e.do("POST", "/api/orders", claim, bearer(e.creds.MemberToken)), http.StatusNotFound, "not_found")
	placed := e.do("POST", "/api/orders", claim, viewer)
	e.want(placed, http.StatusCreated, "")
	if o := placed.json(t)["order"].(map[string]any); o["state"] != "paid" || o["total_minor"].(float64) != 0 || o["payment_ref"] != "" {
		t.Fatalf("claimed %s", placed.body)
	}
	e.want(e.do("POST", "/api/orders", claim, viewer), http.StatusGone, "gone")

	// A coupon as the prize: a copy for the winner only.
	c := e.do("POST", "/api/brands/"+e.creds.BrandID+"/coupons", map[string]any{"code": "WIN100", "kind": "amount", "amount_off_minor": 10000, "currency": "EUR"}, admin)
	e.want(c, http.StatusCreated, "")
	couponID := c.json(t)["coupon"].(map[string]any)["id"]
	offer := e.creds.OfferIDs[2]
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 60, "units": 1, "giveaway": true, "coupon_id": uuid.NewString()}, host), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 60, "units": 1, "coupon_id": couponID}, host), http.StatusBadRequest, "invalid")
	cg := e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 60, "units": 1, "giveaway": true, "coupon_id": couponID}, host)
	e.want(cg, http.StatusCreated, "")
	cdraw := show + "/draws/" + cg.json(t)["draw"].(map[string]any)["id"].(string)
	e.want(e.do("POST", cdraw+"/entry", nil, viewer), http.StatusOK, "")
	e.want(e.do("POST", cdraw+"/close", nil, host), http.StatusOK, "")
	mineList := e.do("GET", show+"/coupons", nil, viewer).json(t)["coupons"].([]any)
	personal := 0
	for _, p := range mineList {
		if p.(map[string]any)["personal"] == true {
			personal++
		}
	}
	if personal != 1 {
		t.Fatalf("the winner sees %d personal coupons: %v", personal, mineList)
	}
	for _, p := range e.do("GET", show+"/coupons", nil, bearer(e.creds.MemberToken)).json(t)["coupons"].([]any) {
		if p.(map[string]any)["personal"] == true {
			t.Fatalf("another account sees the winner's copy: %v", p)
		}
	}
}
