package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
	"github.com/pavilion-live/pavilion/internal/images"
	"github.com/pavilion-live/pavilion/internal/record"
	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/wallet"
	"github.com/pavilion-live/pavilion/stream"
	"github.com/pavilion-live/pavilion/web"
)

// env is a running API on a fresh SQLite file, seeded with the demo data and a
// second brand ("rival") with its own admin.
type env struct {
	t       testing.TB
	srv     *httptest.Server
	db      *sqlite.DB
	svc     *account.Service
	creds   *demo.Credentials
	rival   *brand.Brand
	rivalTk string
	clock   *time.Time
	ready   *error
	shop    *checkout.Service
	shows   *show.Service
	pay     *testpay.Provider
	// recorder holds the recordings directory the replays are served from.
	recorder *record.Recorder
	// replays counts replay plays and holds won from replays (flush it to read them).
	replays *analytics.Recorder
	// media is the WHIP/WHEP server; cohosts its guests (cohost_test.go).
	media   *stream.Server
	cohosts *cohost.Service
}

// cheap keeps tests fast; the real parameters are exercised in account's tests.
var cheap = account.Hasher{Time: 1, Memory: 64, Threads: 1}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "pavilion.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	e := &env{t: t, db: db, clock: &now, ready: new(error)}
	e.svc = &account.Service{Store: db, Hasher: cheap, Now: func() time.Time { return *e.clock }}
	e.pay = &testpay.Provider{Hang: 2 * time.Second}
	e.shop = &checkout.Service{Catalog: db, Ledger: db, Gate: memory.NewGate(), Shows: db, Payments: e.pay,
		PaymentTimeout: 300 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Coupons: db, Follows: db}
	live := &chat.Hub{Bus: memory.NewBus(), Shows: db, Catalog: db, Checkout: e.shop, Store: db, Users: db, Privacy: db, Logger: slog.New(slog.DiscardHandler),
		Caller: func(r *http.Request) *account.Principal { return web.PrincipalFrom(r.Context()) }, Credentials: e.svc}
	e.svc.Notifier = live
	e.shop.Notifier = live
	e.shows = &show.Service{Store: db, Users: db, Brands: db, Holds: e.shop, Notifier: live, Logger: slog.New(slog.DiscardHandler)}
	live.Lifecycle = e.shows
	media := &stream.Server{UDPAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler), Keys: e.shows.PublishWithKey}
	t.Cleanup(func() { media.Close() })
	srv := &web.Server{
		Accounts: e.svc, Brands: db, Shows: db, Schedule: e.shows, Catalog: db, Checkout: e.shop, Live: live, Media: media,
		Draws:    &checkout.Draws{Checkout: e.shop, Store: db},
		Images:   &images.Service{Store: db, Limits: images.Limits{MaxBytes: 256 << 10}},
		Wallet:   &wallet.Service{Store: db, Methods: e.pay, Provider: "test"},
		Follows:  db,
		Chat:     &chat.History{Archive: db, Shows: db},
		Checks:   []web.Check{{Name: "store", Ping: db.Ping}, {Name: "fake", Ping: func(context.Context) error { return *e.ready }}},
		Registry: prometheus.NewRegistry(),
		Logger:   slog.New(slog.DiscardHandler),
	}
	e.recorder = &record.Recorder{Dir: t.TempDir()}
	srv.Replays = &replay.Service{Store: db, Shows: db, Files: e.recorder, Logger: slog.New(slog.DiscardHandler)}
	e.shop.Replays = srv.Replays
	e.replays = &analytics.Recorder{Store: db, Node: "env"}
	srv.ReplayViews, e.shop.ReplayHolds = e.replays, e.replays
	live.Timeline = db
	media.Host = srv.PublishAsHost
	e.media = media
	e.cohosts = &cohost.Service{Store: db.Cohosts(), Shows: db, Notifier: live, Media: media, Logger: slog.New(slog.DiscardHandler)}
	srv.Cohosts = e.cohosts
	media.Guests = e.cohosts.PublishAsGuest
	e.srv = httptest.NewServer(srv.Handler())
	t.Cleanup(e.srv.Close)

	deps := demo.Deps{Accounts: e.svc, Brands: db, Shows: db, Catalog: db}
	if e.creds, err = demo.Issue(ctx, deps, e.srv.URL); err != nil {
		t.Fatal(err)
	}
	e.rival = &brand.Brand{ID: uuid.New(), Slug: "rival", Name: "Rival", CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
	if err := db.CreateBrand(ctx, e.rival); err != nil {
		t.Fatal(err)
	}
	ru, err := e.svc.Create(ctx, account.NewUser{Email: "rival@example.com", Password: "rival-password", Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{e.rival.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if e.rivalTk, _, err = e.svc.IssueToken(ctx, ru.ID, "test", 0); err != nil {
		t.Fatal(err)
	}
	return e
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.status, err, r.body)
	}
	return v
}

// errCode returns the code of the one error shape, failing if the body is not it.
func (r resp) errCode(t testing.TB) string {
	t.Helper()
	var v struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(r.body, &v); err != nil || v.Error.Code == "" || v.Error.Message == "" {
		t.Fatalf("status %d: body is not the error shape: %s", r.status, r.body)
	}
	return v.Error.Code
}

type reqOpt func(*http.Request)

func bearer(tok string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func cookie(c *http.Cookie) reqOpt { return func(r *http.Request) { r.AddCookie(c) } }

func (e *env) do(method, path string, body any, opts ...reqOpt) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func (e *env) want(r resp, status int, code string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	if code != "" {
		if got := r.errCode(e.t); got != code {
			e.t.Fatalf("error code = %q, want %q: %s", got, code, r.body)
		}
	}
}

func sessionCookie(t *testing.T, r resp) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == web.SessionCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Fatalf("session cookie attributes: %+v", c)
			}
			return c
		}
	}
	t.Fatalf("no session cookie in %v", r.header)
	return nil
}

func TestSignupLoginLogout(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/auth/signup", map[string]string{"email": "New@Example.com", "password": "correct horse", "display_name": "Newcomer"})
	e.want(r, http.StatusCreated, "")
	c := sessionCookie(t, r)
	user := r.json(t)["user"].(map[string]any)
	if user["email"] != "new@example.com" || user["display_name"] != "Newcomer" {
		t.Fatalf("signup user = %v", user)
	}
	if roles := user["roles"].([]any); len(roles) != 1 || roles[0] != "viewer" {
		t.Fatalf("a sign-up gets only the viewer role, got %v", roles)
	}

	r = e.do("GET", "/api/me", nil, cookie(c))
	e.want(r, http.StatusOK, "")

	// The same email again, in any case, is a conflict and creates nothing.
	e.want(e.do("POST", "/api/auth/signup", map[string]string{"email": "NEW@example.com", "password": "another pass"}), http.StatusConflict, "conflict")

	e.want(e.do("POST", "/api/auth/login", map[string]string{"email": "new@example.com", "password": "wrong password"}), http.StatusUnauthorized, "unauthorized")
	unknown := e.do("POST", "/api/auth/login", map[string]string{"email": "ghost@example.com", "password": "wrong password"})
	e.want(unknown, http.StatusUnauthorized, "unauthorized")
	wrong := e.do("POST", "/api/auth/login", map[string]string{"email": "new@example.com", "password": "wrong password"})
	if wrong.errCode(t) != unknown.errCode(t) || string(wrong.body) != string(unknown.body) {
		t.Fatalf("unknown email and wrong password must answer alike: %s vs %s", wrong.body, unknown.body)
	}

	r = e.do("POST", "/api/auth/login", map[string]string{"email": "new@example.com", "password": "correct horse"})
	e.want(r, http.StatusOK, "")
	c2 := sessionCookie(t, r)

	// Logout ends that session only, and clears the cookie.
	r = e.do("POST", "/api/auth/logout", nil, cookie(c2))
	e.want(r, http.StatusNoContent, "")
	if !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout did not clear the cookie: %v", r.header)
	}
	e.want(e.do("GET", "/api/me", nil, cookie(c2)), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", "/api/me", nil, cookie(c)), http.StatusOK, "")
	// Logging out twice is fine.
	e.want(e.do("POST", "/api/auth/logout", nil, cookie(c2)), http.StatusNoContent, "")
}

func TestSignupBadInput(t *testing.T) {
	e := newEnv(t)
	count := func() int {
		list, err := e.db.ListUsers(context.Background(), 0, 200)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	before := count()
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"malformed JSON", `{"email": "a@example.com",`, 400, "invalid"},
		{"not an object", `["a"]`, 400, "invalid"},
		{"empty body", ``, 400, "invalid"},
		{"trailing data", `{"email":"a@example.com","password":"longenough"} {}`, 400, "invalid"},
		{"unknown field", `{"email":"a@example.com","password":"longenough","roles":["admin"]}`, 400, "invalid"},
		{"wrong type", `{"email":"a@example.com","password":12345678}`, 400, "invalid"},
		{"bad email", map[string]string{"email": "not-an-email", "password": "longenough"}, 400, "invalid"},
		{"short password", map[string]string{"email": "a@example.com", "password": "short"}, 400, "invalid"},
		{"oversize body", `{"email":"a@example.com","password":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.want(e.do("POST", "/api/auth/signup", tc.body), tc.status, tc.code)
		})
	}
	if after := count(); after != before {
		t.Fatalf("bad sign-ups created %d accounts", after-before)
	}
	// A body that is not JSON by its content type is refused too.
	e.want(e.do("POST", "/api/auth/login", "email=a", header("Content-Type", "application/x-www-form-urlencoded")), 400, "invalid")
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/auth/login", map[string]string{"email": demo.ViewerEmail, "password": demo.Password})
	e.want(r, http.StatusOK, "")
	c := sessionCookie(t, r)
	if c.MaxAge <= 0 {
		t.Fatalf("session cookie has no lifetime: %+v", c)
	}
	e.want(e.do("GET", "/api/me", nil, cookie(c)), http.StatusOK, "")
	*e.clock = e.clock.Add(31 * 24 * time.Hour)
	e.want(e.do("GET", "/api/me", nil, cookie(c)), http.StatusUnauthorized, "unauthorized")
	// Garbage and unknown credentials are refused the same way.
	e.want(e.do("GET", "/api/me", nil, bearer("pvt_nonsense-nonsense")), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", "/api/me", nil, bearer("x")), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", "/api/me", nil), http.StatusUnauthorized, "unauthorized")
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/tokens", map[string]any{"name": "load tool", "ttl_seconds": 3600}, bearer(e.creds.ViewerToken))
	e.want(r, http.StatusCreated, "")
	tok := r.json(t)["token"].(string)
	if !strings.HasPrefix(tok, account.TokenPrefix) {
		t.Fatalf("token %q lacks its prefix", tok)
	}
	r = e.do("GET", "/api/me", nil, bearer(tok))
	e.want(r, http.StatusOK, "")
	if r.json(t)["user"].(map[string]any)["email"] != demo.ViewerEmail {
		t.Fatalf("token resolves to %s", r.body)
	}
	e.want(e.do("POST", "/api/tokens", map[string]any{"ttl_seconds": -5}, bearer(e.creds.ViewerToken)), 400, "invalid")
	e.want(e.do("POST", "/api/tokens", map[string]any{"name": "x"}), 401, "unauthorized")
	*e.clock = e.clock.Add(2 * time.Hour)
	e.want(e.do("GET", "/api/me", nil, bearer(tok)), http.StatusUnauthorized, "unauthorized")
}

func TestPasswordResetRevokesCredentials(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("GET", "/api/me", nil, bearer(e.creds.ViewerToken)), http.StatusOK, "")
	if err := e.svc.ResetPassword(context.Background(), demo.ViewerEmail, "a brand new password"); err != nil {
		t.Fatal(err)
	}
	e.want(e.do("GET", "/api/me", nil, bearer(e.creds.ViewerToken)), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", "/api/auth/login", map[string]string{"email": demo.ViewerEmail, "password": demo.Password}), 401, "unauthorized")
	e.want(e.do("POST", "/api/auth/login", map[string]string{"email": demo.ViewerEmail, "password": "a brand new password"}), 200, "")
}

func TestLoginRateLimit(t *testing.T) {
	e := newEnv(t)
	limited := 0
	for range 15 {
		r := e.do("POST", "/api/auth/login", map[string]string{"email": demo.ViewerEmail, "password": "guess guess"})
		if r.status == http.StatusTooManyRequests {
			if r.errCode(t) != "rate_limited" {
				t.Fatalf("429 with code %s", r.errCode(t))
			}
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("15 quick failed log-ins from one address were never rate limited")
	}
}

func TestCrossOriginWritesRefused(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/auth/login", map[string]string{"email": demo.AdminEmail, "password": demo.Password})
	c := sessionCookie(t, r)
	body := map[string]string{"slug": "evil", "name": "Evil"}
	// A browser on another site submitting with the admin's cookie.
	r = e.do("POST", "/api/brands", body, cookie(c), header("Sec-Fetch-Site", "cross-site"), header("Origin", "https://evil.example"))
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-site write answered %d: %s", r.status, r.body)
	}
	r = e.do("POST", "/api/brands", body, cookie(c), header("Origin", "https://evil.example"))
	if r.status != http.StatusForbidden {
		t.Fatalf("cross-origin write (Origin only) answered %d: %s", r.status, r.body)
	}
	if _, err := e.db.BrandBySlug(context.Background(), "evil"); err == nil {
		t.Fatal("a cross-origin request created a brand")
	}
	// Same-origin and header-less (script) requests pass.
	e.want(e.do("POST", "/api/brands", body, cookie(c), header("Sec-Fetch-Site", "same-origin")), http.StatusCreated, "")
	e.want(e.do("GET", "/api/brands", nil, header("Sec-Fetch-Site", "cross-site")), http.StatusOK, "")
}

func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	show := "/api/shows/" + e.creds.ShowID
	ownBrand := "/api/brands/" + e.creds.BrandID
	var skuID string
	{
		r := e.do("GET", ownBrand+"/products", nil)
		e.want(r, http.StatusOK, "")
		products := r.json(t)["products"].([]any)
		skuID = products[0].(map[string]any)["skus"].([]any)[0].(map[string]any)["id"].(string)
	}
	newShow := map[string]any{"brand_id": e.creds.BrandID, "title": "Winter", "starts_at": time.Now().Add(48 * time.Hour), "ends_at": time.Now().Add(49 * time.Hour)}
	product := map[string]any{"name": "Gloves", "skus": []map[string]any{{"code": "GL-1", "price_minor": 9900, "currency": "EUR", "on_hand": 5}}}

	type call struct {
		method, path string
		body         any
	}
	brandWrites := []call{
		{"PATCH", ownBrand, map[string]string{"story": "hijacked"}},
		{"POST", ownBrand + "/products", product},
		{"PATCH", "/api/skus/" + skuID, map[string]int{"on_hand": 0}},
		{"POST", "/api/shows", newShow},
		{"PATCH", show, map[string]string{"title": "hijacked"}},
		{"DELETE", show, nil},
	}
	hostCalls := []call{{"POST", show + "/stream-key", nil}}
	adminCalls := []call{{"POST", "/api/brands", map[string]string{"slug": "x", "name": "X"}}, {"GET", "/api/users", nil}}

	for _, who := range []struct {
		name  string
		token string
		calls []call
	}{
		{"viewer", e.creds.ViewerToken, append(append(brandWrites, hostCalls...), adminCalls...)},
		{"member", e.creds.MemberToken, append(append(brandWrites, hostCalls...), adminCalls...)},
		{"host", e.creds.HostToken, append(brandWrites, adminCalls...)},
		{"other brand's admin", e.rivalTk, append(append(brandWrites, hostCalls...), adminCalls...)},
		{"brand admin", e.creds.BrandAdminToken, adminCalls},
	} {
		for _, c := range who.calls {
			t.Run(who.name+" "+c.method+" "+c.path, func(t *testing.T) {
				e.want(e.do(c.method, c.path, c.body, bearer(who.token)), http.StatusForbidden, "forbidden")
			})
		}
	}
	// Anonymous callers are asked to sign in.
	for _, c := range append(append(brandWrites, hostCalls...), adminCalls...) {
		e.want(e.do(c.method, c.path, c.body), http.StatusUnauthorized, "unauthorized")
	}

	// Nothing changed.
	r := e.do("GET", show, nil)
	e.want(r, http.StatusOK, "")
	if got := r.json(t)["show"].(map[string]any); got["title"] != "Autumn Runway Live" || got["state"] != "scheduled" {
		t.Fatalf("show changed by refused calls: %v", got)
	}
	r = e.do("GET", ownBrand, nil)
	if strings.Contains(string(r.body), "hijacked") {
		t.Fatal("brand changed by refused calls")
	}

	// The rightful callers succeed.
	e.want(e.do("POST", show+"/stream-key", nil, bearer(e.creds.HostToken)), http.StatusCreated, "")
	e.want(e.do("PATCH", ownBrand, map[string]string{"story": "Our story."}, bearer(e.creds.BrandAdminToken)), http.StatusOK, "")
	e.want(e.do("POST", ownBrand+"/products", product, bearer(e.creds.BrandAdminToken)), http.StatusCreated, "")
	e.want(e.do("POST", "/api/shows", newShow, bearer(e.creds.BrandAdminToken)), http.StatusCreated, "")
	e.want(e.do("PATCH", "/api/brands/rival", map[string]string{"story": "Ours."}, bearer(e.rivalTk)), http.StatusOK, "")
	e.want(e.do("GET", "/api/users", nil, bearer(e.creds.AdminToken)), http.StatusOK, "")
	// Platform admins may act for any brand.
	e.want(e.do("PATCH", ownBrand, map[string]string{"story": "Edited by the platform."}, bearer(e.creds.AdminToken)), http.StatusOK, "")
}

func TestMembersOnlyShowsAreInvisible(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/shows", map[string]any{
		"brand_id": e.creds.BrandID, "title": "Members' preview", "visibility": "members",
		"starts_at": time.Now().Add(72 * time.Hour), "ends_at": time.Now().Add(73 * time.Hour),
	}, bearer(e.creds.BrandAdminToken))
	e.want(r, http.StatusCreated, "")
	id := r.json(t)["show"].(map[string]any)["id"].(string)

	for _, tc := range []struct {
		who     string
		opts    []reqOpt
		visible bool
	}{
		{"anonymous", nil, false},
		{"viewer", []reqOpt{bearer(e.creds.ViewerToken)}, false},
		{"other brand", []reqOpt{bearer(e.rivalTk)}, false},
		{"member", []reqOpt{bearer(e.creds.MemberToken)}, true},
		{"brand admin", []reqOpt{bearer(e.creds.BrandAdminToken)}, true},
		{"admin", []reqOpt{bearer(e.creds.AdminToken)}, true},
	} {
		t.Run(tc.who, func(t *testing.T) {
			r := e.do("GET", "/api/shows/"+id, nil, tc.opts...)
			if tc.visible {
				e.want(r, http.StatusOK, "")
			} else {
				e.want(r, http.StatusNotFound, "not_found")
			}
			list := e.do("GET", "/api/shows?limit=200", nil, tc.opts...)
			listed := strings.Contains(string(list.body), id)
			if tc.who == "brand admin" {
				list = e.do("GET", "/api/shows?brand="+e.creds.BrandID, nil, tc.opts...)
				listed = strings.Contains(string(list.body), id)
			}
			if listed != tc.visible {
				t.Fatalf("listed = %v, want %v", listed, tc.visible)
			}
		})
	}
}

func TestShowInput(t *testing.T) {
	e := newEnv(t)
	tk := bearer(e.creds.BrandAdminToken)
	start := time.Now().Add(24 * time.Hour)
	base := func() map[string]any {
		return map[string]any{"brand_id": e.creds.BrandID, "title": "A show", "starts_at": start, "ends_at": start.Add(time.Hour)}
	}
	with := func(k string, v any) map[string]any { m := base(); m[k] = v; return m }
	for _, tc := range []struct {
		name string
		body any
		code int
	}{
		{"end before start", with("ends_at", start.Add(-time.Hour)), 400},
		{"missing brand", map[string]any{"title": "x", "starts_at": start, "ends_at": start.Add(time.Hour)}, 400},
		{"unknown kind", with("kind", "concert"), 400},
		{"unknown visibility", with("visibility", "secret"), 400},
		{"bad time zone", with("time_zone", "Mars/Olympus"), 400},
		{"unknown host", with("host_ids", []string{uuid.NewString()}), 400},
		{"host without host role", with("host_ids", []string{mustUserID(t, e, demo.ViewerEmail)}), 400},
		{"bad time", with("starts_at", "tomorrow"), 400},
		{"too long", with("ends_at", start.Add(30*time.Hour)), 400},
		{"empty title", with("title", "  "), 400},
		{"other brand", with("brand_id", e.rival.ID), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/shows", tc.body, tk)
			if r.status != tc.code {
				t.Fatalf("status %d, want %d: %s", r.status, tc.code, r.body)
			}
			r.errCode(t)
		})
	}
	list := e.do("GET", "/api/shows?brand="+e.creds.BrandID, nil, tk)
	if n := len(list.json(t)["shows"].([]any)); n != 1 {
		t.Fatalf("refused creations left %d shows, want only the demo one", n)
	}

	// A valid show with a host; then cancel it; a cancelled show is frozen.
	r := e.do("POST", "/api/shows", with("host_ids", []string{mustUserID(t, e, demo.HostEmail)}), tk)
	e.want(r, http.StatusCreated, "")
	id := r.json(t)["show"].(map[string]any)["id"].(string)
	e.want(e.do("DELETE", "/api/shows/"+id, nil, tk), http.StatusOK, "")
	e.want(e.do("DELETE", "/api/shows/"+id, nil, tk), http.StatusConflict, "conflict")
	e.want(e.do("PATCH", "/api/shows/"+id, map[string]string{"title": "again"}, tk), http.StatusConflict, "conflict")
	e.want(e.do("GET", "/api/shows/not-a-uuid", nil), http.StatusNotFound, "not_found")
	e.want(e.do("GET", "/api/shows?state=bogus", nil), http.StatusBadRequest, "invalid")
	e.want(e.do("GET", "/api/shows?limit=1000", nil), http.StatusBadRequest, "invalid")
}

func mustUserID(t *testing.T, e *env, email string) string {
	t.Helper()
	u, _, err := e.db.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID.String()
}

func TestCatalogInput(t *testing.T) {
	e := newEnv(t)
	tk := bearer(e.creds.BrandAdminToken)
	path := "/api/brands/" + e.creds.BrandID + "/products"
	good := func() map[string]any {
		return map[string]any{"name": "Belt", "images": []string{"https://img.example/belt.jpg"},
			"skus": []map[string]any{{"code": "BELT-90", "price_minor": 35000, "currency": "EUR", "on_hand": 4, "attributes": map[string]string{"size": "90"}}}}
	}
	sku := func(k string, v any) map[string]any {
		m := good()
		m["skus"].([]map[string]any)[0][k] = v
		return m
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
	}{
		{"no skus", map[string]any{"name": "Belt", "skus": []any{}}, 400},
		{"negative price", sku("price_minor", -1), 400},
		{"float price", sku("price_minor", 10.5), 400},
		{"bad currency", sku("currency", "euro"), 400},
		{"negative stock", sku("on_hand", -3), 400},
		{"javascript image", map[string]any{"name": "Belt", "images": []string{"javascript:alert(1)"}, "skus": good()["skus"]}, 400},
		{"duplicate code", sku("code", "QLB-NOIR"), 409},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", path, tc.body, tk)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			r.errCode(t)
		})
	}
	r := e.do("GET", path, nil)
	if n := len(r.json(t)["products"].([]any)); n != 3 {
		t.Fatalf("refused products were kept: %d products", n)
	}

	r = e.do("POST", path, good(), tk)
	e.want(r, http.StatusCreated, "")
	skuID := r.json(t)["product"].(map[string]any)["skus"].([]any)[0].(map[string]any)["id"].(string)
	r = e.do("PATCH", "/api/skus/"+skuID, map[string]int{"on_hand_delta": 6}, tk)
	e.want(r, http.StatusOK, "")
	if got := r.json(t)["sku"].(map[string]any)["on_hand"]; got != 10.0 {
		t.Fatalf("on_hand after +6 = %v", got)
	}
	e.want(e.do("PATCH", "/api/skus/"+skuID, map[string]int{"on_hand_delta": -11}, tk), http.StatusConflict, "conflict")
	e.want(e.do("PATCH", "/api/skus/"+skuID, map[string]any{}, tk), http.StatusBadRequest, "invalid")
	e.want(e.do("PATCH", "/api/skus/"+skuID, map[string]int{"on_hand": 1, "on_hand_delta": 1}, tk), http.StatusBadRequest, "invalid")
	e.want(e.do("PATCH", "/api/skus/"+uuid.NewString(), map[string]int{"on_hand": 1}, tk), http.StatusNotFound, "not_found")
}

func TestOperatorEndpoints(t *testing.T) {
	e := newEnv(t)
	e.want(e.do("GET", "/healthz", nil), http.StatusOK, "")
	r := e.do("GET", "/readyz", nil)
	e.want(r, http.StatusOK, "")
	*e.ready = errors.New("down")
	r = e.do("GET", "/readyz", nil)
	e.want(r, http.StatusServiceUnavailable, "")
	if checks := r.json(t)["checks"].(map[string]any); checks["fake"] != "failing" || checks["store"] != "ok" {
		t.Fatalf("readyz checks = %v", checks)
	}
	// Metrics are served on a listener of their own (TestMetricsOnTheirOwnListener).
	e.want(e.do("GET", "/metrics", nil), http.StatusNotFound, "")
	r = e.do("GET", "/api/openapi.json", nil)
	e.want(r, http.StatusOK, "")
	e.want(e.do("GET", "/api/nothing-here", nil), http.StatusNotFound, "not_found")
	if r := e.do("GET", "/", nil); r.status != 200 || r.header.Get("Content-Security-Policy") == "" {
		t.Fatalf("home page: %d, CSP %q", r.status, r.header.Get("Content-Security-Policy"))
	}
}
