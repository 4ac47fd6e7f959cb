package web_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWrittenTextRefused sends, for every field a person writes, a value
// holding a NUL, a right-to-left override and another refused character,
// and expects 400 invalid naming the field, with nothing changed.
func TestWrittenTextRefused(t *testing.T) {
	e := newEnv(t)
	admin, brandAdmin, viewer := bearer(e.creds.AdminToken), bearer(e.creds.BrandAdminToken), bearer(e.creds.ViewerToken)

	product := func(field string, v any) map[string]any {
		sku := map[string]any{"code": "TXT-1", "price_minor": 100, "currency": "EUR", "on_hand": 1, "attributes": map[string]string{"size": "M"}}
		p := map[string]any{"name": "Scarf", "description": "Silk.\nHand-rolled.", "images": []string{"https://img.example/s.jpg"}, "skus": []any{sku}}
		switch field {
		case "attribute value":
			sku["attributes"] = map[string]string{"size": v.(string)}
		case "attribute name":
			sku["attributes"] = map[string]string{v.(string): "M"}
		default:
			p[field] = v
		}
		return p
	}
	newShow := func(field string, v string) map[string]any {
		b := map[string]any{"brand_id": e.creds.BrandID, "title": "Evening", "description": "Line one\nline two",
			"starts_at": day(40), "ends_at": day(40).Add(time.Hour)}
		b[field] = v
		return b
	}
	// A fresh reservation for each order attempt: the orders are refused, so
	// one hold serves them all.
	r := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.creds.OfferIDs[2], "quantity": 1}, viewer)
	e.want(r, http.StatusCreated, "")
	resID := r.json(t)["reservation"].(map[string]any)["id"].(string)
	order := func(field, v string) map[string]any {
		s := maps.Clone(shipping)
		s[field] = v
		return map[string]any{"reservation_id": resID, "shipping": s, "payment_token": "tok_visa"}
	}

	type req struct {
		method, path string
		body         any
		auth         reqOpt
	}
	cases := []struct {
		field string // as named in the error message
		do    func(v string) req
		multi bool // newlines allowed
	}{
		{"display name", func(v string) req {
			return req{"POST", "/api/auth/signup", map[string]string{"email": "new@example.com", "password": "long enough", "display_name": v}, nil}
		}, false},
		{"email", func(v string) req {
			return req{"POST", "/api/auth/signup", map[string]string{"email": "ne" + v + "w@example.com", "password": "long enough"}, nil}
		}, false},
		{"token name", func(v string) req {
			return req{"POST", "/api/tokens", map[string]string{"name": v}, viewer}
		}, false},
		{"name", func(v string) req {
			return req{"POST", "/api/brands/" + e.creds.BrandID + "/products", product("name", v), brandAdmin}
		}, false},
		{"description", func(v string) req {
			return req{"POST", "/api/brands/" + e.creds.BrandID + "/products", product("description", v), brandAdmin}
		}, true},
		{"images", func(v string) req {
			return req{"POST", "/api/brands/" + e.creds.BrandID + "/products", product("images", []string{"/static/a" + v + ".jpg"}), brandAdmin}
		}, false},
		{"attributes", func(v string) req {
			return req{"POST", "/api/brands/" + e.creds.BrandID + "/products", product("attribute value", v), brandAdmin}
		}, false},
		{"attributes", func(v string) req {
			return req{"POST", "/api/brands/" + e.creds.BrandID + "/products", product("attribute name", "size"+v), brandAdmin}
		}, false},
		{"title", func(v string) req { return req{"POST", "/api/shows", newShow("title", "Eve"+v+"ning"), brandAdmin} }, false},
		{"description", func(v string) req { return req{"POST", "/api/shows", newShow("description", v), brandAdmin} }, true},
		{"title", func(v string) req {
			return req{"PATCH", "/api/shows/" + e.creds.ShowID, map[string]string{"title": "x" + v}, brandAdmin}
		}, false},
		{"name", func(v string) req {
			return req{"PATCH", "/api/brands/" + e.creds.BrandID, map[string]string{"name": "Maison" + v}, brandAdmin}
		}, false},
		{"story", func(v string) req {
			return req{"PATCH", "/api/brands/" + e.creds.BrandID, map[string]string{"story": v}, brandAdmin}
		}, true},
		{"flagship", func(v string) req {
			return req{"PATCH", "/api/brands/" + e.creds.BrandID, map[string]string{"flagship": "Rue" + v}, brandAdmin}
		}, false},
		{"logo_url", func(v string) req {
			return req{"PATCH", "/api/brands/" + e.creds.BrandID, map[string]string{"logo_url": "/static/logo" + v + ".png"}, brandAdmin}
		}, false},
		{"name", func(v string) req {
			return req{"POST", "/api/brands", map[string]string{"slug": "fresh", "name": "Fresh" + v}, admin}
		}, false},
	}
	for _, f := range []string{"name", "line1", "line2", "city", "region", "postal_code", "phone"} {
		cases = append(cases, struct {
			field string
			do    func(v string) req
			multi bool
		}{"shipping." + f, func(v string) req { return req{"POST", "/api/orders", order(f, "a"+v+"b"), viewer} }, false})
	}

	bad := map[string]string{"NUL": "a\x00b", "RLO": "a\u202eb", "isolate": "a\u2067b", "C1": "a\u0085b", "ESC": "a\x1b[2Jb", "ZWSP": "a\u200bb"}
	for _, c := range cases {
		values := maps.Clone(bad)
		if strings.HasPrefix(c.do("").path, "/api/auth/") {
			// Sign-up: stay under the log-in rate limit.
			values = map[string]string{"NUL": bad["NUL"], "RLO": bad["RLO"]}
		}
		if !c.multi {
			values["newline"] = "a\nb"
		}
		for _, name := range slices.Sorted(maps.Keys(values)) {
			rq := c.do(values[name])
			var opts []reqOpt
			if rq.auth != nil {
				opts = append(opts, rq.auth)
			}
			r := e.do(rq.method, rq.path, rq.body, opts...)
			if r.status != http.StatusBadRequest || r.errCode(t) != "invalid" || !strings.HasPrefix(message(t, r), c.field+" ") {
				t.Errorf("%s %s, %s with %s: %d %s", rq.method, rq.path, c.field, name, r.status, r.body)
			}
		}
	}

	// Nothing was written.
	if r := e.do("POST", "/api/auth/login", map[string]string{"email": "new@example.com", "password": "long enough"}); r.status != http.StatusUnauthorized {
		t.Errorf("a refused sign-up made an account: %d", r.status)
	}
	if n := len(e.do("GET", "/api/brands/"+e.creds.BrandID+"/products", nil).json(t)["products"].([]any)); n != 3 {
		t.Errorf("refused products were kept: %d products", n)
	}
	b := e.do("GET", "/api/brands/"+e.creds.BrandID, nil).json(t)["brand"].(map[string]any)
	if strings.ContainsAny(b["name"].(string)+b["story"].(string)+b["flagship"].(string), "\x00\u202e\u2067\u0085\x1b\u200b") {
		t.Errorf("brand changed: %v", b)
	}
	if orders := e.do("GET", "/api/orders", nil, viewer).json(t)["orders"].([]any); len(orders) != 0 {
		t.Errorf("refused orders were placed: %v", orders)
	}

	// Text people really write passes: other scripts, emoji with joiners,
	// direction marks, and newlines where a field has lines.
	ok := "Zoë 李 محمد\u200f 👩🏽‍💻"
	e.want(e.do("PATCH", "/api/brands/"+e.creds.BrandID, map[string]string{"name": ok, "story": "Paris.\n\tSince 1921."}, brandAdmin), http.StatusOK, "")
	e.want(e.do("POST", "/api/orders", order("name", ok), viewer), http.StatusCreated, "")
}

// TestNumberBounds: stock, prices, allocations and limits have sane upper
// bounds, and stock arithmetic that would overflow is refused with 400,
// never a 500.
func TestNumberBounds(t *testing.T) {
	e := newEnv(t)
	tk := bearer(e.creds.BrandAdminToken)
	path := "/api/brands/" + e.creds.BrandID + "/products"
	product := func(price, onHand any) map[string]any {
		return map[string]any{"name": "Belt", "skus": []map[string]any{{"code": "BELT-1", "price_minor": price, "currency": "EUR", "on_hand": onHand}}}
	}
	for _, tc := range []struct {
		name          string
		price, onHand any
	}{
		{"stock near 2^63", 100, int64(9223372036854775000)},
		{"stock over a billion", 100, 1_000_000_001},
		{"price over 10^12 minor units", int64(1_000_000_000_001), 1},
		{"price near 2^63", int64(9223372036854775807), 1},
	} {
		r := e.do("POST", path, product(tc.price, tc.onHand), tk)
		if r.status != http.StatusBadRequest || r.errCode(t) != "invalid" {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
	r := e.do("POST", path, product(1_000_000_000_000, 1_000_000_000), tk)
	e.want(r, http.StatusCreated, "")
	skuID := r.json(t)["product"].(map[string]any)["skus"].([]any)[0].(map[string]any)["id"].(string)
	for _, body := range []map[string]any{
		{"on_hand_delta": int64(9223372036854775000)},
		{"on_hand_delta": int64(-9223372036854775000)},
		{"on_hand_delta": 1}, // the stock is at the bound already
		{"on_hand": 1_000_000_001},
		{"price_minor": int64(1_000_000_000_001)},
	} {
		r := e.do("PATCH", "/api/skus/"+skuID, body, tk)
		if r.status != http.StatusBadRequest || r.errCode(t) != "invalid" {
			t.Errorf("PATCH %v: %d %s", body, r.status, r.body)
		}
	}
	if sku := e.do("PATCH", "/api/skus/"+skuID, map[string]any{"on_hand_delta": -1}, tk).json(t)["sku"].(map[string]any); sku["on_hand"] != 999_999_999.0 {
		t.Fatalf("refused changes changed the stock: %v", sku)
	}

	offers := "/api/shows/" + e.creds.ShowID + "/offers"
	for _, body := range []map[string]any{
		{"sku_id": skuID, "price_minor": int64(1_000_000_000_001), "allocated": 1},
		{"sku_id": skuID, "price_minor": 100, "allocated": 1_000_000_001},
		{"sku_id": skuID, "price_minor": 100, "allocated": int64(9223372036854775000)},
		{"sku_id": skuID, "price_minor": 100, "allocated": 1, "per_customer_limit": 1_000_000},
	} {
		r := e.do("POST", offers, body, tk)
		if r.status != http.StatusBadRequest || r.errCode(t) != "invalid" {
			t.Errorf("offer %v: %d %s", body, r.status, r.body)
		}
	}
	e.want(e.do("POST", offers, map[string]any{"sku_id": skuID, "price_minor": 1_000_000_000_000, "allocated": 999_999_999}, tk), http.StatusCreated, "")
	e.want(e.do("POST", "/api/reservations", map[string]any{"offer_id": e.bagOffer(), "quantity": 1 << 40}, bearer(e.creds.ViewerToken)), http.StatusBadRequest, "invalid")
}

// TestMethodNotAllowed: a known API path with another method answers 405
// with an Allow header and the JSON error shape; an unknown path stays 404.
func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	admin := bearer(e.creds.AdminToken)
	for _, tc := range []struct {
		method, path, allow string
	}{
		{"PUT", "/api/shows/" + e.creds.ShowID, "DELETE, GET, HEAD, PATCH"},
		{"DELETE", "/api/shows", "GET, HEAD, POST"},
		{"GET", "/api/auth/login", "POST"},
		{"POST", "/api/me", "GET, HEAD"},
		{"DELETE", "/api/brands/" + e.creds.BrandID + "/orders.csv", "GET, HEAD"},
		{"PATCH", "/api/reservations", "GET, HEAD, POST"},
		{"GET", "/api/skus/" + e.creds.OfferIDs[0], "PATCH"},
		{"POST", "/api/openapi.json", "GET, HEAD"},
	} {
		r := e.do(tc.method, tc.path, nil, admin)
		if r.status != http.StatusMethodNotAllowed || r.errCode(t) != "method_not_allowed" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
			continue
		}
		if got := r.header.Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
	}
	e.want(e.do("GET", "/api/nothing-here", nil), http.StatusNotFound, "not_found")
	e.want(e.do("PUT", "/api/nothing-here", nil), http.StatusNotFound, "not_found")
}

// TestExportsAreNotCached: the CSV exports, like every JSON answer, tell
// caches not to keep them (they hold customers' addresses).
func TestExportsAreNotCached(t *testing.T) {
	e := newEnv(t)
	e.withAnalytics()
	for _, path := range []string{
		"/api/shows/" + e.creds.ShowID + "/orders.csv",
		"/api/shows/" + e.creds.ShowID + "/stats.csv",
		"/api/brands/" + e.creds.BrandID + "/orders.csv",
	} {
		r := e.do("GET", path, nil, bearer(e.creds.BrandAdminToken))
		if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%s: %d %v", path, r.status, r.header)
		}
		if got := r.header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", path, got)
		}
	}
}
