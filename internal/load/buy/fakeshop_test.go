package buy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
)

// fakeShop is a small stand-in for the Pavilion API: just the routes
// pavload uses, with a gate that keeps the same rules (stock, per-customer
// limit). oversell makes it sell one unit too many, for the checks to catch.
type fakeShop struct {
	adminToken, brandToken, brandID, showID string
	oversell                                bool
	// Faults of the reserve route: every failEvery-th answer is a JSON 503,
	// every plainEvery-th a 502 that is not JSON; broken answers every tap
	// with bytes that are not HTTP and closes; silent never answers.
	failEvery, plainEvery int
	broken, silent        bool

	mu      sync.Mutex
	users   map[string]string // token → user ID
	skus    map[string]int    // SKU ID → on hand
	offers  map[string]*fakeOffer
	resv    map[string]fakeReservation
	orders  []orderJSON
	keys    map[string]bool // idempotency keys seen
	nextID  int
	reserve int // POST /api/reservations answered
	me      int // GET /api/me answered
}

type fakeOffer struct {
	apiclient.Offer
	perUser map[string]int
}

type fakeReservation struct {
	userID, offerID string
	ordered         bool
}

func newFakeShop() *fakeShop {
	return &fakeShop{
		adminToken: "pvt_admin", brandToken: "pvt_brand", brandID: "brand-1", showID: "show-1",
		users: map[string]string{}, skus: map[string]int{}, offers: map[string]*fakeOffer{},
		resv: map[string]fakeReservation{}, keys: map[string]bool{},
	}
}

// counts reads what the shop holds: accounts, orders, reserve calls answered.
func (f *fakeShop) counts() (users, orders, reserves int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.users), len(f.orders), f.reserve
}

func (f *fakeShop) meCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.me
}

func (f *fakeShop) id(kind string) string {
	f.nextID++
	return fmt.Sprintf("%s-%d", kind, f.nextID)
}

func (f *fakeShop) fail(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":"%s"}}`, code, code)
}

func (f *fakeShop) ok(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeShop) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/reservations" && (f.broken || f.silent) {
		f.misbehave(w, r)
		return
	}
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	path := r.URL.Path
	switch {
	case r.Method == "GET" && path == "/healthz":
		f.ok(w, 200, map[string]string{"status": "ok"})

	case r.Method == "GET" && path == "/api/me":
		uid, ok := f.users[token]
		if !ok {
			f.fail(w, 401, "unauthorized")
			return
		}
		f.me++
		f.ok(w, 200, map[string]any{"user": map[string]string{"id": uid}})

	case r.Method == "POST" && path == "/api/users":
		if token != f.adminToken {
			f.fail(w, 403, "forbidden")
			return
		}
		uid := f.id("user")
		t := "pvt_" + uid
		f.users[t] = uid
		f.ok(w, 201, map[string]any{"user": map[string]string{"id": uid}, "token": t})

	case r.Method == "POST" && path == "/api/brands/"+f.brandID+"/products":
		var in struct {
			SKUs []struct {
				OnHand int `json:"on_hand"`
			} `json:"skus"`
		}
		if token != f.brandToken || json.NewDecoder(r.Body).Decode(&in) != nil || len(in.SKUs) != 1 {
			f.fail(w, 400, "invalid")
			return
		}
		sku := f.id("sku")
		f.skus[sku] = in.SKUs[0].OnHand
		f.ok(w, 201, map[string]any{"product": map[string]any{"id": f.id("product"), "skus": []map[string]string{{"id": sku}}}})

	case r.Method == "POST" && path == "/api/shows/"+f.showID+"/offers":
		var in struct {
			SKUID     string `json:"sku_id"`
			Allocated int    `json:"allocated"`
			Limit     int    `json:"per_customer_limit"`
		}
		if token != f.brandToken || json.NewDecoder(r.Body).Decode(&in) != nil || in.Allocated > f.skus[in.SKUID] {
			f.fail(w, 400, "invalid")
			return
		}
		o := &fakeOffer{Offer: apiclient.Offer{ID: f.id("offer"), ShowID: f.showID, SKUID: in.SKUID, Allocated: in.Allocated, PerCustomerLimit: in.Limit},
			perUser: map[string]int{}}
		f.offers[o.ID] = o
		f.ok(w, 201, map[string]any{"offer": o.Offer})

	case r.Method == "GET" && path == "/api/shows/"+f.showID:
		list := []apiclient.Offer{}
		for _, o := range f.offers {
			list = append(list, o.Offer)
		}
		f.ok(w, 200, map[string]any{"show": map[string]any{"id": f.showID, "state": "scheduled", "offers": list}})

	case r.Method == "POST" && path == "/api/reservations":
		f.reserve++
		switch {
		case f.failEvery > 0 && f.reserve%f.failEvery == 0:
			f.fail(w, 503, "unavailable")
			return
		case f.plainEvery > 0 && f.reserve%f.plainEvery == 0:
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		uid, ok := f.users[token]
		if !ok {
			f.fail(w, 401, "unauthorized")
			return
		}
		var in struct {
			OfferID  string `json:"offer_id"`
			Quantity int    `json:"quantity"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		o := f.offers[in.OfferID]
		if o == nil {
			f.fail(w, 404, "not_found")
			return
		}
		if key := r.Header.Get("Idempotency-Key"); key != "" {
			if f.keys[uid+key] {
				f.fail(w, 422, "unprocessable")
				return
			}
			f.keys[uid+key] = true
		}
		stock := o.Allocated
		if f.oversell {
			stock++
		}
		switch {
		case o.Sold+o.Held+in.Quantity > stock:
			f.fail(w, 409, "sold_out")
		case o.PerCustomerLimit > 0 && o.perUser[uid]+in.Quantity > o.PerCustomerLimit:
			f.fail(w, 409, "limit_reached")
		default:
			o.Held += in.Quantity
			o.perUser[uid] += in.Quantity
			rid := f.id("reservation")
			f.resv[rid] = fakeReservation{userID: uid, offerID: o.ID}
			f.ok(w, 201, map[string]any{"reservation": map[string]any{"id": rid, "quantity": in.Quantity}})
		}

	case r.Method == "POST" && path == "/api/orders":
		uid := f.users[token]
		var in struct {
			ReservationID string `json:"reservation_id"`
			PaymentToken  string `json:"payment_token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		res, ok := f.resv[in.ReservationID]
		if !ok || res.userID != uid || res.ordered || in.PaymentToken != "tok_visa" {
			f.fail(w, 404, "not_found")
			return
		}
		res.ordered = true
		f.resv[in.ReservationID] = res
		o := f.offers[res.offerID]
		o.Held--
		o.Sold++
		ord := orderJSON{ID: f.id("order"), UserID: uid, OfferID: o.ID, Quantity: 1, State: "paid"}
		f.orders = append(f.orders, ord)
		f.ok(w, 201, map[string]any{"order": ord})

	case r.Method == "GET" && path == "/api/brands/"+f.brandID+"/orders":
		if token != f.brandToken || r.URL.Query().Get("show") != f.showID {
			f.fail(w, 403, "forbidden")
			return
		}
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		end := min(offset+limit, len(f.orders))
		page := []orderJSON{}
		if offset < end {
			page = f.orders[offset:end]
		}
		f.ok(w, 200, map[string]any{"orders": page})

	default:
		f.fail(w, 404, "not_found")
	}
}

// misbehave answers a tap the way a broken or a hung server would.
func (f *fakeShop) misbehave(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reserve++
	f.mu.Unlock()
	if f.silent {
		// Go's server notices the client's close only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done(): // the client gave up and closed
		case <-time.After(10 * time.Second):
		}
		return
	}
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer nc.Close()
	_, _ = nc.Write([]byte("HTTP/1.1 twohundred OK\r\n\r\n"))
}
