package web_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
)

var shipping = map[string]string{"name": "Mei Lin", "line1": "88 Century Ave", "city": "Shanghai", "postal_code": "200120", "country": "CN"}

// bagOffer is the demo's limited bag: 10 units, one per customer.
func (e *env) bagOffer() string { return e.creds.OfferIDs[0] }

func (e *env) offerCounts(offerID string) (held, sold float64) {
	e.t.Helper()
	r := e.do("GET", "/api/shows/"+e.creds.ShowID, nil)
	for _, o := range r.json(e.t)["show"].(map[string]any)["offers"].([]any) {
		o := o.(map[string]any)
		if o["id"] == offerID {
			return o["held"].(float64), o["sold"].(float64)
		}
	}
	e.t.Fatalf("offer %s not in the show", offerID)
	return 0, 0
}

func TestReserveAndOrderOverHTTP(t *testing.T) {
	e := newEnv(t)
	viewer := bearer(e.creds.ViewerToken)
	key := header("Idempotency-Key", "tap-1")

	r := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.bagOffer(), "quantity": 1}, viewer, key)
	e.want(r, http.StatusCreated, "")
	res := r.json(t)["reservation"].(map[string]any)
	resID := res["id"].(string)
	if res["state"] != "held" || res["price_minor"].(float64) != 220000 || res["currency"] != "EUR" {
		t.Fatalf("reservation = %v", res)
	}
	// The retry is replayed, and says so.
	r2 := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.bagOffer(), "quantity": 1}, viewer, key)
	e.want(r2, http.StatusCreated, "")
	if r2.header.Get("Idempotent-Replayed") != "true" || r2.json(t)["reservation"].(map[string]any)["id"] != resID {
		t.Fatalf("retry not replayed: %s %v", r2.body, r2.header)
	}
	e.want(e.do("POST", "/api/reservations", map[string]any{"offer_id": e.bagOffer(), "quantity": 2}, viewer, key), 422, "unprocessable")
	// One bag per customer.
	e.want(e.do("POST", "/api/reservations", map[string]any{"offer_id": e.bagOffer(), "quantity": 1}, viewer), 409, "limit_reached")
	if held, _ := e.offerCounts(e.bagOffer()); held != 1 {
		t.Fatalf("held = %v after refused taps", held)
	}

	// Bad requests change nothing.
	for _, tc := range []struct {
		body   any
		status int
		code   string
	}{
		{`{"offer_id": "`, 400, "invalid"},
		{map[string]any{"offer_id": e.bagOffer(), "quantity": 0}, 400, "invalid"},
		{map[string]any{"offer_id": e.bagOffer(), "quantity": -1}, 400, "invalid"},
		{map[string]any{"offer_id": e.bagOffer(), "quantity": "one"}, 400, "invalid"},
		{map[string]any{"offer_id": e.bagOffer(), "quantity": 1, "price_minor": 1}, 400, "invalid"},
		{map[string]any{"quantity": 1}, 400, "invalid"},
		{map[string]any{"offer_id": "not-a-uuid", "quantity": 1}, 400, "invalid"},
		{map[string]any{"offer_id": "0b0e4a8e-5a40-4a52-9a8e-7f7f0e0e0e0e", "quantity": 1}, 404, "not_found"},
	} {
		e.want(e.do("POST", "/api/reservations", tc.body, bearer(e.creds.MemberToken)), tc.status, tc.code)
	}
	e.want(e.do("POST", "/api/reservations", map[string]any{"offer_id": e.bagOffer(), "quantity": 1}), 401, "unauthorized")
	if held, _ := e.offerCounts(e.bagOffer()); held != 1 {
		t.Fatalf("held = %v after bad requests", held)
	}

	// Another customer cannot see, release or order this hold.
	member := bearer(e.creds.MemberToken)
	e.want(e.do("GET", "/api/reservations/"+resID, nil, member), 404, "not_found")
	e.want(e.do("DELETE", "/api/reservations/"+resID, nil, member), 404, "not_found")
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": resID, "shipping": shipping, "payment_token": "tok_visa"}, member), 404, "not_found")

	// A declined card: 402, the hold stays.
	order := map[string]any{"reservation_id": resID, "shipping": shipping, "payment_token": "4000 0000 0000 0002"}
	e.want(e.do("POST", "/api/orders", order, viewer), 402, "payment_failed")
	if held, sold := e.offerCounts(e.bagOffer()); held != 1 || sold != 0 {
		t.Fatalf("after a decline: held %v sold %v", held, sold)
	}
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": resID, "shipping": map[string]string{"name": "x"}, "payment_token": "tok_visa"}, viewer), 400, "invalid")

	order["payment_token"] = "tok_visa"
	r = e.do("POST", "/api/orders", order, viewer, header("Idempotency-Key", "pay-1"))
	e.want(r, http.StatusCreated, "")
	o := r.json(t)["order"].(map[string]any)
	if o["state"] != "paid" || o["total_minor"].(float64) != 220000 {
		t.Fatalf("order = %v", o)
	}
	orderID := o["id"].(string)
	if held, sold := e.offerCounts(e.bagOffer()); held != 0 || sold != 1 {
		t.Fatalf("after paying: held %v sold %v", held, sold)
	}
	r = e.do("POST", "/api/orders", order, viewer, header("Idempotency-Key", "pay-1"))
	e.want(r, http.StatusCreated, "")
	if r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatal("order retry not replayed")
	}
	if n, _, _ := e.pay.Totals(); n != 1 {
		t.Fatalf("%d charges", n)
	}

	// The buyer sees it; others do not; the brand does.
	r = e.do("GET", "/api/orders", nil, viewer)
	if list := r.json(t)["orders"].([]any); len(list) != 1 {
		t.Fatalf("my orders = %v", list)
	}
	e.want(e.do("GET", "/api/orders/"+orderID, nil, viewer), 200, "")
	e.want(e.do("GET", "/api/orders/"+orderID, nil, member), 404, "not_found")
	e.want(e.do("GET", "/api/orders/"+orderID, nil, bearer(e.rivalTk)), 404, "not_found")
	e.want(e.do("GET", "/api/orders/"+orderID, nil, bearer(e.creds.BrandAdminToken)), 200, "")
	e.want(e.do("GET", "/api/brands/"+e.creds.BrandID+"/orders", nil, bearer(e.creds.BrandAdminToken)), 200, "")
	e.want(e.do("GET", "/api/brands/"+e.creds.BrandID+"/orders", nil, bearer(e.rivalTk)), 403, "forbidden")
	e.want(e.do("GET", "/api/brands/"+e.creds.BrandID+"/orders", nil, viewer), 403, "forbidden")
	e.want(e.do("GET", "/api/brands/"+e.creds.BrandID+"/orders?state=lost", nil, bearer(e.creds.BrandAdminToken)), 400, "invalid")

	// Fulfil is the brand's; refund with restock returns the bag.
	e.want(e.do("POST", "/api/orders/"+orderID+"/fulfil", nil, viewer), 403, "forbidden")
	e.want(e.do("POST", "/api/orders/"+orderID+"/fulfil", nil, bearer(e.creds.BrandAdminToken)), 200, "")
	e.want(e.do("POST", "/api/orders/"+orderID+"/cancel", nil, viewer), 409, "conflict")
	e.want(e.do("POST", "/api/orders/"+orderID+"/refund", map[string]bool{"restock": true}, bearer(e.creds.BrandAdminToken)), 200, "")
	if held, sold := e.offerCounts(e.bagOffer()); held != 0 || sold != 0 {
		t.Fatalf("after refund with restock: held %v sold %v", held, sold)
	}
}

func TestPendingPaymentAnswers202(t *testing.T) {
	e := newEnv(t)
	viewer := bearer(e.creds.ViewerToken)
	r := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.creds.OfferIDs[1], "quantity": 2}, viewer)
	e.want(r, http.StatusCreated, "")
	resID := r.json(t)["reservation"].(map[string]any)["id"].(string)
	r = e.do("POST", "/api/orders", map[string]any{"reservation_id": resID, "shipping": shipping, "payment_token": "tok_timeout"}, viewer)
	e.want(r, http.StatusAccepted, "")
	if r.json(t)["order"].(map[string]any)["state"] != "pending" {
		t.Fatalf("timed-out payment: %s", r.body)
	}
}

func TestOrdersCSV(t *testing.T) {
	e := newEnv(t)
	viewer := bearer(e.creds.ViewerToken)
	r := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.creds.OfferIDs[2], "quantity": 1}, viewer)
	resID := r.json(t)["reservation"].(map[string]any)["id"].(string)
	evil := map[string]string{"name": "=HYPERLINK(\"http://evil.example\")", "line1": "+1 Rue", "city": "Lyon", "country": "FR"}
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": resID, "shipping": evil, "payment_token": "tok_visa"}, viewer), 201, "")

	for _, path := range []string{"/api/brands/" + e.creds.BrandID + "/orders.csv", "/api/shows/" + e.creds.ShowID + "/orders.csv"} {
		for _, tok := range []string{e.creds.BrandAdminToken, e.creds.HostToken} {
			r = e.do("GET", path, nil, bearer(tok))
			if strings.Contains(path, "/brands/") && tok == e.creds.HostToken {
				e.want(r, 403, "forbidden")
				continue
			}
			e.want(r, 200, "")
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
				t.Fatalf("%s headers: %v", path, r.header)
			}
			rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
			if err != nil || len(rows) != 2 {
				t.Fatalf("%s: %d rows, %v\n%s", path, len(rows), err, r.body)
			}
			row := strings.Join(rows[1], "|")
			if !strings.Contains(row, "'=HYPERLINK") || !strings.Contains(row, "'+1 Rue") || !strings.Contains(row, "590.00") {
				t.Fatalf("%s row not defused or not formatted: %s", path, row)
			}
		}
		e.want(e.do("GET", path, nil, viewer), 403, "forbidden")
	}
}

func TestCreateOffer(t *testing.T) {
	e := newEnv(t)
	admin := bearer(e.creds.BrandAdminToken)
	products := e.do("GET", "/api/brands/"+e.creds.BrandID+"/products", nil).json(t)["products"].([]any)
	sku := products[1].(map[string]any)["skus"].([]any)[1].(map[string]any) // CARRE-BLEU, 60 on hand
	skuID := sku["id"].(string)
	path := "/api/shows/" + e.creds.ShowID + "/offers"
	for _, tc := range []struct {
		body   map[string]any
		status int
	}{
		{map[string]any{"sku_id": skuID, "price_minor": -1, "allocated": 5}, 400},
		{map[string]any{"sku_id": skuID, "price_minor": 100, "allocated": 0}, 400},
		{map[string]any{"sku_id": skuID, "price_minor": 100, "allocated": 5, "per_customer_limit": -1}, 400},
		{map[string]any{"sku_id": skuID, "price_minor": 100, "allocated": 61}, 409},
		{map[string]any{"sku_id": "8d7b7a34-5a0f-4c8e-9a4e-0a9b0c0d0e0f", "price_minor": 100, "allocated": 5}, 400},
	} {
		r := e.do("POST", path, tc.body, admin)
		if r.status != tc.status {
			t.Fatalf("%v: %d %s", tc.body, r.status, r.body)
		}
	}
	e.want(e.do("POST", path, map[string]any{"sku_id": skuID, "price_minor": 100, "allocated": 5}, bearer(e.rivalTk)), 403, "forbidden")
	e.want(e.do("POST", path, map[string]any{"sku_id": skuID, "price_minor": 100, "allocated": 5}, bearer(e.creds.HostToken)), 403, "forbidden")
	r := e.do("POST", path, map[string]any{"sku_id": skuID, "price_minor": 39000, "allocated": 60, "per_customer_limit": 3}, admin)
	e.want(r, 201, "")
	if o := r.json(t)["offer"].(map[string]any); o["currency"] != "EUR" || o["allocated"].(float64) != 60 {
		t.Fatalf("offer = %v", o)
	}
	show := e.do("GET", "/api/shows/"+e.creds.ShowID, nil).json(t)["show"].(map[string]any)
	if n := len(show["offers"].([]any)); n != len(e.creds.OfferIDs)+1 {
		t.Fatalf("show has %d offers", n)
	}
}

func TestTokenOnlyAccounts(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/users", map[string]any{"email": "buyer-1@load.example", "token_only": true}, bearer(e.creds.AdminToken))
	e.want(r, 201, "")
	tok := r.json(t)["token"].(string)
	e.want(e.do("GET", "/api/me", nil, bearer(tok)), 200, "")
	// Such an account has no password to log in with.
	e.want(e.do("POST", "/api/auth/login", map[string]string{"email": "buyer-1@load.example", "password": ""}), 401, "unauthorized")
	e.want(e.do("POST", "/api/users", map[string]any{"email": "b2@load.example", "token_only": true, "password": "longenough"}, bearer(e.creds.AdminToken)), 400, "invalid")
	e.want(e.do("POST", "/api/users", map[string]any{"email": "b3@load.example", "token_only": true}, bearer(e.creds.BrandAdminToken)), 403, "forbidden")
}
