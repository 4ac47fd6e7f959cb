package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// reserveOne holds one unit of the demo offer i for the caller.
func (e *env) reserveOne(i int, opts ...reqOpt) string {
	e.t.Helper()
	r := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.creds.OfferIDs[i], "quantity": 1}, opts...)
	e.want(r, http.StatusCreated, "")
	return r.json(e.t)["reservation"].(map[string]any)["id"].(string)
}

func (e *env) userID(opts ...reqOpt) uuid.UUID {
	e.t.Helper()
	r := e.do("GET", "/api/me", nil, opts...)
	e.want(r, http.StatusOK, "")
	return uuid.MustParse(r.json(e.t)["user"].(map[string]any)["id"].(string))
}

// TestSavedAddressAndPayment: the first order keeps its address and its
// card's reference (never the number); the next order ships and pays with
// them by id, in one tap; mixing saved and given details, or another
// account's address, is refused and changes nothing.
func TestSavedAddressAndPayment(t *testing.T) {
	e := newEnv(t)
	viewer := bearer(e.creds.ViewerToken)
	member := bearer(e.creds.MemberToken)

	r := e.do("GET", "/api/me/addresses", nil, viewer)
	e.want(r, http.StatusOK, "")
	if list := r.json(t)["addresses"].([]any); len(list) != 0 {
		t.Fatalf("a new account's book = %v", list)
	}
	r = e.do("GET", "/api/me/payment-method", nil, viewer)
	if r.json(t)["payment_method"] != nil {
		t.Fatalf("a new account's payment method = %s", r.body)
	}
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": e.reserveOne(4, viewer), "use_saved_payment": true,
		"shipping": shipping}, viewer), 400, "invalid")

	// First purchase: a card number, kept as its token and label.
	res := e.reserveOne(1, viewer)
	r = e.do("POST", "/api/orders", map[string]any{"reservation_id": res, "shipping": shipping, "payment_token": "4242 4242 4242 4242",
		"save_address": true, "remember_payment": true}, viewer)
	e.want(r, http.StatusCreated, "")
	r = e.do("GET", "/api/me/addresses", nil, viewer)
	list := r.json(t)["addresses"].([]any)
	if len(list) != 1 {
		t.Fatalf("book after the first order = %s", r.body)
	}
	addr := list[0].(map[string]any)
	if addr["name"] != "Mei Lin" || addr["country"] != "CN" || addr["default"] != true {
		t.Fatalf("saved address = %v", addr)
	}
	r = e.do("GET", "/api/me/payment-method", nil, viewer)
	if pm := r.json(t)["payment_method"].(map[string]any); pm["label"] != "Visa •••• 4242" {
		t.Fatalf("payment method = %s", r.body)
	}
	if strings.Contains(string(r.body), "tok_") || strings.Contains(string(r.body), "4242424242424242") {
		t.Fatalf("the payment method's reference left the server: %s", r.body)
	}
	m, err := e.db.PaymentMethod(context.Background(), e.userID(viewer))
	if err != nil || m.Ref != "tok_visa" {
		t.Fatalf("stored method = %+v, %v; want the token, never the card number", m, err)
	}

	// A declined card is not remembered over the good one.
	res = e.reserveOne(2, viewer)
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": res, "shipping": shipping, "payment_token": "tok_chargeDeclined",
		"remember_payment": true}, viewer), 402, "payment_failed")
	if m, _ := e.db.PaymentMethod(context.Background(), e.userID(viewer)); m.Ref != "tok_visa" {
		t.Fatalf("after a decline the remembered method is %q", m.Ref)
	}

	// Mixed or foreign details are refused; the hold stays held.
	id := addr["id"].(string)
	for _, tc := range []struct {
		body   map[string]any
		opt    reqOpt
		status int
		code   string
	}{
		{map[string]any{"address_id": id, "shipping": shipping, "use_saved_payment": true}, viewer, 400, "invalid"},
		{map[string]any{"address_id": id, "payment_token": "tok_visa", "use_saved_payment": true}, viewer, 400, "invalid"},
		{map[string]any{"address_id": id, "save_address": true, "use_saved_payment": true}, viewer, 400, "invalid"},
		{map[string]any{"address_id": "not-an-id", "use_saved_payment": true}, viewer, 400, "invalid"},
		{map[string]any{"address_id": uuid.NewString(), "use_saved_payment": true}, viewer, 404, "not_found"},
	} {
		tc.body["reservation_id"] = res
		e.want(e.do("POST", "/api/orders", tc.body, tc.opt), tc.status, tc.code)
	}
	// Another account can neither ship to this address nor pay with this card.
	mres := e.reserveOne(5, member)
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": mres, "address_id": id, "payment_token": "tok_visa"}, member), 404, "not_found")
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": mres, "shipping": shipping, "use_saved_payment": true}, member), 400, "invalid")
	e.want(e.do("DELETE", "/api/me/addresses/"+id, nil, member), 404, "not_found")

	// One tap: the saved address and card.
	r = e.do("POST", "/api/orders", map[string]any{"reservation_id": res, "address_id": id, "use_saved_payment": true}, viewer,
		header("Idempotency-Key", "again-1"))
	e.want(r, http.StatusCreated, "")
	o := r.json(t)["order"].(map[string]any)
	if sh := o["shipping"].(map[string]any); o["state"] != "paid" || sh["line1"] != "88 Century Ave" || sh["postal_code"] != "200120" {
		t.Fatalf("one-tap order = %v", o)
	}
	r = e.do("POST", "/api/orders", map[string]any{"reservation_id": res, "address_id": id, "use_saved_payment": true}, viewer,
		header("Idempotency-Key", "again-1"))
	if r.status != http.StatusCreated || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("one-tap retry: %d %v", r.status, r.header)
	}

	// A second address becomes the default; addresses are checked like an order's.
	e.want(e.do("POST", "/api/me/addresses", map[string]any{"name": "x"}, viewer), 400, "invalid")
	r = e.do("POST", "/api/me/addresses", map[string]string{"name": "Mei Lin", "line1": "1 Bund", "city": "Shanghai", "postal_code": "200002", "country": "cn"}, viewer)
	e.want(r, http.StatusCreated, "")
	second := r.json(t)["address"].(map[string]any)
	r = e.do("GET", "/api/me/addresses", nil, viewer)
	list = r.json(t)["addresses"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["id"] != second["id"] || list[0].(map[string]any)["country"] != "CN" || list[1].(map[string]any)["default"] != false {
		t.Fatalf("book = %s", r.body)
	}
	e.want(e.do("DELETE", "/api/me/addresses/"+second["id"].(string), nil, viewer), 204, "")
	e.want(e.do("DELETE", "/api/me/payment-method", nil, viewer), 204, "")
	if r := e.do("GET", "/api/me/payment-method", nil, viewer); r.json(t)["payment_method"] != nil {
		t.Fatalf("forgotten method still there: %s", r.body)
	}
	e.want(e.do("GET", "/api/me/addresses", nil), 401, "unauthorized")
}

func TestPrivacyChoice(t *testing.T) {
	e := newEnv(t)
	viewer := bearer(e.creds.ViewerToken)
	r := e.do("GET", "/api/me/privacy", nil, viewer)
	if r.json(t)["privacy"].(map[string]any)["hide_purchases"] != false {
		t.Fatalf("default privacy = %s", r.body)
	}
	e.want(e.do("PUT", "/api/me/privacy", map[string]any{}, viewer), 400, "invalid")
	e.want(e.do("PUT", "/api/me/privacy", map[string]any{"hide_purchases": "yes"}, viewer), 400, "invalid")
	e.want(e.do("PUT", "/api/me/privacy", map[string]any{"hide_purchases": true}, viewer), 200, "")
	if r := e.do("GET", "/api/me/privacy", nil, viewer); r.json(t)["privacy"].(map[string]any)["hide_purchases"] != true {
		t.Fatalf("privacy = %s", r.body)
	}
	e.want(e.do("PUT", "/api/me/privacy", map[string]any{"hide_purchases": true}), 401, "unauthorized")
}

func TestFollowBrand(t *testing.T) {
	e := newEnv(t)
	viewer, member := bearer(e.creds.ViewerToken), bearer(e.creds.MemberToken)
	state := func(r resp) map[string]any {
		t.Helper()
		e.want(r, http.StatusOK, "")
		return r.json(t)["follow"].(map[string]any)
	}
	if st := state(e.do("GET", "/api/brands/"+e.creds.BrandID+"/follow", nil)); st["following"] != false || st["followers"] != 0.0 {
		t.Fatalf("anonymous = %v", st)
	}
	e.want(e.do("PUT", "/api/brands/"+e.creds.BrandID+"/follow", nil), 401, "unauthorized")
	e.want(e.do("PUT", "/api/brands/no-such-brand/follow", nil, viewer), 404, "not_found")
	if st := state(e.do("PUT", "/api/brands/"+e.creds.BrandID+"/follow", nil, viewer)); st["following"] != true || st["followers"] != 1.0 {
		t.Fatalf("after following = %v", st)
	}
	state(e.do("PUT", "/api/brands/"+e.creds.BrandID+"/follow", nil, viewer)) // a repeat counts once
	if st := state(e.do("PUT", "/api/brands/rival/follow", nil, viewer)); st["followers"] != 1.0 {
		t.Fatalf("by slug = %v", st)
	}
	if st := state(e.do("GET", "/api/brands/"+e.creds.BrandID+"/follow", nil, member)); st["following"] != false || st["followers"] != 1.0 {
		t.Fatalf("as another viewer = %v", st)
	}
	r := e.do("GET", "/api/me/follows", nil, viewer)
	e.want(r, http.StatusOK, "")
	brands := r.json(t)["brands"].([]any)
	if len(brands) != 2 || brands[0].(map[string]any)["id"] != e.creds.BrandID || brands[1].(map[string]any)["slug"] != "rival" {
		t.Fatalf("follows = %s", r.body)
	}
	if st := state(e.do("DELETE", "/api/brands/"+e.creds.BrandID+"/follow", nil, viewer)); st["following"] != false || st["followers"] != 0.0 {
		t.Fatalf("after unfollowing = %v", st)
	}
}
