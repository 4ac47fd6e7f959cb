// Package web is Pavilion's HTTP face: the JSON API, the operator endpoints
// and the pages, embedded in the binary. Handlers decode and check input, ask
// account for who is calling and what they may do, and call the domain
// stores and services; they hold no business rules of their own beyond input
// shape.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/images"
	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/wallet"
	"github.com/pavilion-live/pavilion/stream"
)

// Check is a dependency /readyz asks about.
type Check struct {
	Name string
	Ping func(context.Context) error
}

// Schema is the database schema as /readyz reports it.
type Schema struct {
	Version  int64    `json:"version"`  // the newest migration applied
	Expected int64    `json:"expected"` // the newest this binary carries
	Pending  []string `json:"pending"`  // this binary's migrations not applied, oldest first
}

// Server holds what the handlers need. Fields are plain; zero values of the
// tunables get defaults.
type Server struct {
	Accounts *account.Service
	Brands   brand.Store
	Shows    show.Store
	Catalog  checkout.Store
	Checkout *checkout.Service
	// Draws runs fair draws; nil answers 501 on their routes.
	Draws *checkout.Draws
	// Schedule is the show domain service (scheduling, cancelling, who may
	// publish); the show routes need it. Wire it with its Holds (Checkout)
	// and Notifier (the live room), so edits and cancellations reach them.
	Schedule *show.Service
	// Live is the live room (chat.Hub): it serves GET /ws/shows/{id} and pins.
	Live LiveRoom
	// Media is the WHIP/WHEP server (stream.Server); nil answers 501.
	Media Media
	// Analytics reads a show's figures (analytics.Recorder); nil answers 501.
	Analytics ShowStats
	// Chat serves shows' archived chat (chat.History); nil answers 501.
	Chat ChatHistory
	// Images takes uploads and serves /media/; nil answers 501. Its
	// Limits.MaxBytes bounds an upload's body instead of MaxBodyBytes.
	Images *images.Service
	// Wallet keeps address books and remembered payment methods; nil
	// answers 501 and orders use only what they carry.
	Wallet *wallet.Service
	// Follows keeps who follows which brand; nil answers 501.
	Follows brand.Follows
	// Replays serves recorded shows and their settings; nil answers 501.
	Replays *replay.Service
	// Cohosts runs a show's guests and stage; nil answers 501.
	Cohosts *cohost.Service
	// ReplayViews counts replay plays for the show's analytics (the
	// analytics.Recorder); nil counts none.
	ReplayViews ReplayViews

	Checks []Check
	// Schema reports the database schema for /readyz: a schema behind the
	// binary makes the node not ready. nil: not reported.
	Schema func(context.Context) (Schema, error)
	// Registry is where HTTP metrics are registered; nil: none. The metrics
	// are served by MetricsHandler on a listener of their own, never here.
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// TrustedProxies are the reverse proxies whose forwarding headers name
	// the client; none: the peer is the client (see internal/clientip).
	TrustedProxies []netip.Prefix

	// PublicURL is how clients reach this server (for the URLs it hands out),
	// e.g. https://live.example.com. Empty: derived from each request.
	PublicURL string
	// SecureCookies marks session cookies Secure (set it behind HTTPS).
	SecureCookies bool
	// MaxBodyBytes bounds every request body; zero: 1 MiB.
	MaxBodyBytes int64
	// LoginRate bounds log-in and sign-up attempts per client address per minute; zero: 10.
	LoginRate int

	limiter  *limiter
	metrics  *httpMetrics
	inflight inflight
}

// AbandonInFlight answers 503 to every request still running that has not
// begun its answer, and returns how many: the shutdown calls it when
// --shutdown-timeout runs out, so those clients get an answer they can
// retry instead of a cut connection.
func (s *Server) AbandonInFlight() int { return s.inflight.abandon() }

// LiveRoom is what the API needs of the live-room gateway.
type LiveRoom interface {
	http.Handler
	Pin(ctx context.Context, u *account.User, showID, offerID uuid.UUID) error
	// Sanctions lists a show's bans and standing mutes for its moderators.
	Sanctions(ctx context.Context, u *account.User, showID uuid.UUID) ([]chat.Sanction, error)
	// Lift lifts a user's ban and mute in a show and tells its room on every node.
	Lift(ctx context.Context, u *account.User, showID, userID uuid.UUID) error
}

// ChatHistory is what the API needs of the chat archive.
type ChatHistory interface {
	Page(ctx context.Context, u *account.User, showID uuid.UUID, before *chat.Cursor, limit int) ([]chat.Line, *chat.Cursor, error)
}

// Media is what the API needs of the media server: WHIP ingest, WHEP
// playback, and at a session's Location: DELETE to end it, PATCH for
// trickle ICE, OPTIONS for CORS, and a viewer's simulcast layer choice.
type Media interface {
	WHIP(http.ResponseWriter, *http.Request)
	WHEP(http.ResponseWriter, *http.Request)
	Delete(http.ResponseWriter, *http.Request)
	Patch(http.ResponseWriter, *http.Request)
	Options(http.ResponseWriter, *http.Request)
	Layer(http.ResponseWriter, *http.Request)
	// Publisher and TakeOver serve the studio's take-over (api_stream.go).
	Publisher(ctx context.Context, showID uuid.UUID) (stream.PublisherState, error)
	TakeOver(ctx context.Context, showID uuid.UUID) (string, error)
}

// Handler builds the routed, wrapped handler. Call it once.
func (s *Server) Handler() http.Handler {
	if s.MaxBodyBytes == 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.LoginRate == 0 {
		s.LoginRate = 10
	}
	s.limiter = newLimiter(s.LoginRate, time.Minute)
	s.metrics = newHTTPMetrics(s.Registry)

	mux := http.NewServeMux()
	s.routes(mux)
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		// The mux records the matched pattern on the request it was given,
		// which may be a copy (a handler's r.WithContext): observe reads it
		// from the request's state.
		if st, ok := r.Context().Value(stateKey).(*requestState); ok {
			st.route = r.Pattern
		}
	})

	// Cookie-authenticated writes from another site are refused by Go's
	// Fetch-metadata check; scripts with bearer tokens send no such headers
	// and pass.
	cop := http.NewCrossOriginProtection()
	// WHIP/WHEP are meant to be called from other origins (web encoders,
	// embedded players, RFC 9725 §4.1) and authenticate by stream key; the
	// session cookie is SameSite=Lax, so a cross-site request never carries it.
	for _, p := range []string{"/whip/", "/whep/"} {
		cop.AddInsecureBypassPattern(p)
	}
	cop.SetDenyHandler(s.crossOriginDenied(cop))
	var h http.Handler = routed
	h = s.authenticate(h)
	h = cop.Handler(h)
	h = s.limitBody(h)
	h = securityHeaders(h)
	h = s.recoverPanics(h)
	h = s.inflight.track(h)
	h = s.observe(h)
	h = s.findClient(h)
	return h
}

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /api/openapi.json", serveOpenAPI)

	mux.HandleFunc("POST /api/auth/signup", s.api(s.signup))
	mux.HandleFunc("POST /api/auth/login", s.api(s.login))
	mux.HandleFunc("POST /api/auth/logout", s.api(s.logout))
	mux.HandleFunc("GET /api/me", s.api(s.me))
	mux.HandleFunc("POST /api/me/avatar", s.api(s.uploadAvatar))
	mux.HandleFunc("POST /api/tokens", s.api(s.createToken))
	mux.HandleFunc("GET /api/tokens", s.api(s.listTokens))
	mux.HandleFunc("DELETE /api/tokens/{id}", s.api(s.revokeToken))
	mux.HandleFunc("GET /api/users", s.api(s.listUsers))
	mux.HandleFunc("POST /api/users", s.api(s.createUser))

	mux.HandleFunc("GET /api/brands", s.api(s.listBrands))
	mux.HandleFunc("POST /api/brands", s.api(s.createBrand))
	mux.HandleFunc("GET /api/brands/{id}", s.api(s.getBrand))
	mux.HandleFunc("PATCH /api/brands/{id}", s.api(s.patchBrand))
	mux.HandleFunc("GET /api/brands/{id}/products", s.api(s.listProducts))
	mux.HandleFunc("POST /api/brands/{id}/products", s.api(s.createProduct))
	mux.HandleFunc("PATCH /api/skus/{id}", s.api(s.patchSKU))
	mux.HandleFunc("POST /api/brands/{id}/images", s.api(s.uploadImage))
	mux.HandleFunc("PATCH /api/products/{id}", s.api(s.patchProduct))
	mux.HandleFunc("GET /media/{id}", s.api(s.serveImage))
	mux.HandleFunc("GET /media/{id}/{width}", s.api(s.serveImage))

	mux.HandleFunc("GET /api/shows", s.api(s.listShows))
	mux.HandleFunc("POST /api/shows", s.api(s.createShow))
	mux.HandleFunc("GET /api/shows/{id}", s.api(s.getShow))
	mux.HandleFunc("PATCH /api/shows/{id}", s.api(s.patchShow))
	mux.HandleFunc("DELETE /api/shows/{id}", s.api(s.cancelShow))
	mux.HandleFunc("POST /api/shows/{id}/stream-key", s.api(s.rotateStreamKey))
	mux.HandleFunc("GET /api/shows/{id}/stream", s.api(s.streamState))
	mux.HandleFunc("POST /api/shows/{id}/takeover", s.api(s.takeOver))
	mux.HandleFunc("POST /api/shows/{id}/offers", s.api(s.createOffer))
	mux.HandleFunc("GET /api/shows/{id}/orders.csv", s.api(s.showOrdersCSV))
	mux.HandleFunc("GET /api/shows/{id}/stats", s.api(s.showStats))
	mux.HandleFunc("GET /api/shows/{id}/stats.csv", s.api(s.showStatsCSV))
	mux.HandleFunc("GET /api/shows/{id}/chat", s.api(s.chatHistory))
	mux.HandleFunc("GET /api/shows/{id}/replay", s.api(s.replayOf))
	mux.HandleFunc("DELETE /api/shows/{id}/replay", s.api(s.deleteReplay))
	mux.HandleFunc("GET /api/shows/{id}/replay/media", s.api(s.replayMedia))
	mux.HandleFunc("GET /api/shows/{id}/replay/guest/media", s.api(s.replayGuestMedia))
	mux.HandleFunc("GET /api/shows/{id}/replay/settings", s.api(s.replaySettings))
	mux.HandleFunc("PUT /api/shows/{id}/replay/settings", s.api(s.replaySettings))
	mux.HandleFunc("GET /api/shows/{id}/guests", s.api(s.listGuests))
	mux.HandleFunc("POST /api/shows/{id}/guests", s.api(s.inviteGuest))
	mux.HandleFunc("POST /api/shows/{id}/guests/redeem", s.api(s.redeemInvite))
	mux.HandleFunc("DELETE /api/shows/{id}/guests/{guest}", s.api(s.removeGuest))
	mux.HandleFunc("GET /api/shows/{id}/stage", s.api(s.stage))
	mux.HandleFunc("PUT /api/shows/{id}/stage", s.api(s.stage))
	mux.HandleFunc("GET /api/shows/{id}/subscription", s.api(s.subscription))
	mux.HandleFunc("POST /api/shows/{id}/subscription", s.api(s.subscribe))
	mux.HandleFunc("DELETE /api/shows/{id}/subscription", s.api(s.unsubscribe))
	mux.HandleFunc("GET /api/me/notices", s.api(s.myNotices))
	mux.HandleFunc("GET /api/calendar.ics", s.api(s.calendar))
	mux.HandleFunc("GET /api/me/calendar.ics", s.api(s.myCalendar))
	mux.HandleFunc("GET /api/brands/{id}/hub", s.api(s.brandHub))

	mux.HandleFunc("POST /api/reservations", s.api(s.reserve))
	mux.HandleFunc("GET /api/reservations", s.api(s.listMyReservations))
	mux.HandleFunc("GET /api/reservations/{id}", s.api(s.getReservation))
	mux.HandleFunc("DELETE /api/reservations/{id}", s.api(s.releaseReservation))
	mux.HandleFunc("POST /api/orders", s.api(s.placeOrder))
	mux.HandleFunc("GET /api/orders", s.api(s.listMyOrders))
	mux.HandleFunc("GET /api/orders/{id}", s.api(s.getOrder))
	mux.HandleFunc("POST /api/orders/{id}/cancel", s.api(s.orderAction("cancel")))
	mux.HandleFunc("POST /api/orders/{id}/fulfil", s.api(s.orderAction("fulfil")))
	mux.HandleFunc("POST /api/orders/{id}/refund", s.api(s.orderAction("refund")))
	mux.HandleFunc("GET /api/brands/{id}/orders", s.api(s.listBrandOrders))
	mux.HandleFunc("GET /api/brands/{id}/orders.csv", s.api(s.brandOrdersCSV))
	mux.HandleFunc("GET /api/brands/{id}/insights", s.api(s.brandInsights))
	mux.HandleFunc("GET /api/brands/{id}/insights.csv", s.api(s.brandInsightsCSV))
	mux.HandleFunc("POST /api/shows/{id}/notify-followers", s.api(s.tellFollowers))
	mux.HandleFunc("GET /api/brands/{id}/coupons", s.api(s.listCoupons))
	mux.HandleFunc("POST /api/brands/{id}/coupons", s.api(s.createCoupon))
	mux.HandleFunc("PATCH /api/coupons/{id}", s.api(s.patchCoupon))
	mux.HandleFunc("POST /api/coupons/quote", s.api(s.quoteCoupon))
	mux.HandleFunc("GET /api/shows/{id}/coupons", s.api(s.showCoupons))
	mux.HandleFunc("GET /api/shows/{id}/prize-coupons", s.api(s.prizeCoupons))
	s.walletRoutes(mux)

	if s.Live != nil {
		mux.Handle("GET /ws/shows/{id}", s.Live)
		mux.HandleFunc("POST /api/shows/{id}/pin", s.api(s.pin))
		mux.HandleFunc("GET /api/shows/{id}/moderation", s.api(s.listModeration))
		mux.HandleFunc("DELETE /api/shows/{id}/moderation/{user_id}", s.api(s.liftModeration))
	}
	mux.HandleFunc("POST /api/shows/{id}/drops", s.api(s.setDrop))
	mux.HandleFunc("GET /api/shows/{id}/draws", s.api(s.listDraws))
	mux.HandleFunc("POST /api/shows/{id}/draws", s.api(s.openDraw))
	mux.HandleFunc("GET /api/shows/{id}/draws/{draw}", s.api(s.getDraw))
	mux.HandleFunc("POST /api/shows/{id}/draws/{draw}/close", s.api(s.closeDraw))
	mux.HandleFunc("GET /api/shows/{id}/draws/{draw}/entry", s.api(s.myEntry))
	mux.HandleFunc("POST /api/shows/{id}/draws/{draw}/entry", s.api(s.enterDraw))
	if s.Media != nil {
		mux.HandleFunc("POST /whip/{show}", s.Media.WHIP)
		mux.HandleFunc("POST /whep/{show}", s.Media.WHEP)
		for _, kind := range []string{"whip", "whep"} {
			mux.HandleFunc("DELETE /"+kind+"/{show}/{session}", s.Media.Delete)
			mux.HandleFunc("PATCH /"+kind+"/{show}/{session}", s.Media.Patch)
			mux.HandleFunc("OPTIONS /"+kind+"/{show}", s.Media.Options)
			mux.HandleFunc("OPTIONS /"+kind+"/{show}/{session}", s.Media.Options)
		}
		mux.HandleFunc("POST /whep/{show}/{session}/layer", s.Media.Layer)
	} else {
		media := func(w http.ResponseWriter, r *http.Request) {
			s.writeError(w, r, notImplemented("media (no media server configured)"))
		}
		mux.HandleFunc("POST /whip/{show}", media)
		mux.HandleFunc("POST /whep/{show}", media)
	}
	// Unknown API paths, and known ones asked with another method, answer in
	// the JSON error shape, like everything under /api.
	mux.HandleFunc("/api/", s.noAPIRoute(mux))
	s.pages(mux)
}
