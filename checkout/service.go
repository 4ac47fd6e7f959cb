package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/sync/singleflight"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/textcheck"
)

// Shows is what checkout needs to know about shows: whose they are, who may
// see them and whether they are still selling.
type Shows interface {
	ShowByID(ctx context.Context, id uuid.UUID) (*show.Show, error)
}

// Notifier hears about stock and order changes, for the live room. Calls
// must not block: they run on the buy path.
type Notifier interface {
	// StockChanged says the offer's available units moved.
	StockChanged(showID, offerID uuid.UUID)
	// OrderChanged says one of a customer's orders moved.
	OrderChanged(o *Order)
	// DropChanged says a flash drop opened or closed.
	DropChanged(o *Offer)
}

// Intents counts wishes to buy that did not become sales, by cause, for
// the brand's data bank (internal/analytics.Recorder implements it). Calls
// must only touch memory: they run on the buy path and in the sweeper.
type Intents interface {
	LostIntent(showID, offerID uuid.UUID, cause string)
}

// Lost-intent causes, as Intents hears them. Each is counted once where it
// is decided: a refused tap, a hold that ends unsold, a declined charge, a
// draw entry left without a hold.
const (
	LostSoldOut           = "sold_out"
	LostLimitReached      = "limit_reached"
	LostDropClosed        = "drop_closed" // the drop window is shut, or the show is over
	LostNotInDraw         = "not_in_draw"
	LostHoldExpired       = "hold_expired"       // expired before any payment was submitted for it
	LostReleased          = "released"           // let go by its buyer
	LostPaymentDeclined   = "payment_declined"   // each charge that did not go through
	LostCheckoutAbandoned = "checkout_abandoned" // expired after a payment was submitted for it
)

// Service is the buy path: the Go API behind the HTTP routes and the live
// room's buy button, with the same rules for both. Its exported fields are
// wired by cmd; zero tunables take defaults.
type Service struct {
	Catalog  Store
	Ledger   Ledger
	Gate     Gate
	Shows    Shows
	Payments Payments
	Notifier Notifier // optional
	// Replays says until when an ended show's offers stay on sale from its
	// replay (replay.Service); nil: sales end with the show.
	Replays ReplaySales
	Intents Intents  // optional: lost intents for the data bank
	Metrics *Metrics // optional
	// DrawStore, when set, keeps a first-come drop from opening on an
	// offer whose units a draw is selling.
	DrawStore DrawStore
	// ReplayHolds, when set, hears of holds won from a replay (replay sales).
	ReplayHolds ReplayHolds
	// Coupons, when set, lets orders use brand coupons (nil: a coupon code is refused).
	Coupons CouponStore
	Follows Follows // who follows a brand, for giveaways open to followers; optional
	Logger  *slog.Logger

	Now            func() time.Time
	HoldTTL        time.Duration // default hold when the show sets none: 10 minutes
	PaymentTimeout time.Duration // how long a charge may take before the order waits for reconciliation: 10 s
	// CacheTTL bounds how stale a cached offer or show may be on the buy path: 2 s.
	CacheTTL time.Duration
	// HoldLanes is how many batches of holds may be written to the ledger
	// at once (group commit; holds of one offer always share a lane): 1,
	// right for a ledger with one writer. A ledger that writes in parallel
	// (PostgreSQL) gains from a few when many offers sell at once.
	HoldLanes int

	holdsOnce    sync.Once
	releasesOnce sync.Once
	holds        *holdWriter
	releases     *releaseWriter

	cacheMu sync.Mutex
	offers  map[uuid.UUID]cachedOffer
	// flight makes a crowd arriving at a cold offer read it (and load the
	// gate) once, not once per tap.
	flight singleflight.Group

	// soldOut remembers offers the gate called sold out, and when the ledger
	// was first seen to disagree, so Sweep can free units the gate lost.
	driftMu sync.Mutex
	soldOut map[uuid.UUID]time.Time
}

type cachedOffer struct {
	offer   *Offer
	show    *show.Show
	fetched time.Time
}

// MaxQuantity bounds one reservation.
const MaxQuantity = 20

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Service) holdTTL(sh *show.Show) time.Duration {
	if sh.HoldSeconds > 0 {
		return time.Duration(sh.HoldSeconds) * time.Second
	}
	if s.HoldTTL > 0 {
		return s.HoldTTL
	}
	return 10 * time.Minute
}

// offer returns the offer and its show from a short-lived cache: a stampede
// taps one offer thousands of times a second, and its static fields (show,
// SKU, price, limit) do not change under it. Stock counts in the cached
// offer are never used for decisions.
func (s *Service) offer(ctx context.Context, id uuid.UUID) (*Offer, *show.Show, error) {
	ttl := s.CacheTTL
	if ttl == 0 {
		ttl = 2 * time.Second
	}
	now := time.Now()
	s.cacheMu.Lock()
	c, ok := s.offers[id]
	s.cacheMu.Unlock()
	if ok && now.Sub(c.fetched) < ttl {
		return c.offer, c.show, nil
	}
	v, err, _ := s.flight.Do("offer/"+id.String(), func() (any, error) {
		// Shared by every waiting tap: one caller leaving must not fail the rest.
		ctx := context.WithoutCancel(ctx)
		o, err := s.Catalog.OfferByID(ctx, id)
		if err != nil {
			return nil, err
		}
		sh, err := s.Shows.ShowByID(ctx, o.ShowID)
		if err != nil {
			return nil, err
		}
		c := cachedOffer{o, sh, now}
		s.cacheMu.Lock()
		if s.offers == nil || len(s.offers) > 10_000 {
			s.offers = map[uuid.UUID]cachedOffer{}
		}
		s.offers[id] = c
		s.cacheMu.Unlock()
		return c, nil
	})
	if err != nil {
		return nil, nil, err
	}
	c = v.(cachedOffer)
	return c.offer, c.show, nil
}

// ForgetShow drops cached offers of a show, after its state changed.
func (s *Service) ForgetShow(showID uuid.UUID) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	for id, c := range s.offers {
		if c.offer.ShowID == showID {
			delete(s.offers, id)
		}
	}
}

// ReplaySales is what checkout asks of the replays: until when an ended
// show's offers stay on sale ("shop the replay"); nil: they closed with it.
type ReplaySales interface {
	ReplaySalesUntil(ctx context.Context, showID uuid.UUID) (*time.Time, error)
}

// checkOnSale is the rule of when a show's offers may be bought: while it is
// scheduled or live, and after it ended until the replay sales end its
// brand set. The same stock, limits and holds apply either way.
func (s *Service) checkOnSale(ctx context.Context, sh *show.Show) error {
	if sh.State == show.Scheduled || sh.State == show.Live {
		return nil
	}
	if sh.State == show.Ended && s.Replays != nil {
		until, err := s.Replays.ReplaySalesUntil(ctx, sh.ID)
		if err != nil {
			return err
		}
		if until != nil && s.now().Before(*until) {
			return nil
		}
	}
	return apperr.Errorf(apperr.Conflict, "the show is %s: its offers are closed", sh.State)
}

// ReserveRequest is one press of a buy button.
type ReserveRequest struct {
	OfferID        uuid.UUID `json:"offer_id"`
	Quantity       int       `json:"quantity"`
	IdempotencyKey string    `json:"-"`
}

// Idempotency operations.
const (
	opReserve = "reserve"
	opOrder   = "order"
)

// Reserve holds units of an offer for u; replayed reports an answer repeated
// from an earlier request with the same idempotency key. The gate answers first, so losers
// never reach the ledger; winners are written to the ledger, which has the
// last word. With an idempotency key, a retry returns the first reservation;
// the same key with other parameters is Unprocessable. A refusal (sold out,
// over the limit) reserves nothing and is not recorded: a retry is decided afresh.
func (s *Service) Reserve(ctx context.Context, u *account.User, req ReserveRequest) (*Reservation, bool, error) {
	if u == nil {
		return nil, false, apperr.Errorf(apperr.Unauthorized, "sign in to buy")
	}
	if err := checkKey(req.IdempotencyKey); err != nil {
		return nil, false, err
	}
	if req.Quantity < 1 || req.Quantity > MaxQuantity {
		return nil, false, apperr.Errorf(apperr.Invalid, "quantity must be from 1 to %d", MaxQuantity)
	}
	o, sh, err := s.offer(ctx, req.OfferID)
	if err != nil { // first: apperr.E allocates, on every tap of a stampede
		if errors.Is(err, apperr.E(apperr.NotFound)) {
			return nil, false, apperr.Errorf(apperr.NotFound, "offer %s not found", req.OfferID)
		}
		return nil, false, err
	}
	if !account.CanSeeShow(u, sh.Visibility == show.Members, sh.BrandID, sh.HostIDs) {
		return nil, false, apperr.Errorf(apperr.NotFound, "offer %s not found", req.OfferID)
	}
	if err := s.checkOnSale(ctx, sh); err != nil {
		if apperr.CodeOf(err) == apperr.Conflict {
			s.lost(o.ShowID, o.ID, LostDropClosed)
		}
		return nil, false, err
	}
	if o.PriceMinor == 0 {
		return nil, false, ErrPrize
	}
	if !o.DropOpen(s.now()) {
		return s.refuse(ctx, o, u, req, ErrDropClosed)
	}

	verdict := LimitOver // more than anyone may have: no need to ask the gate
	if o.PerCustomerLimit == 0 || req.Quantity <= o.PerCustomerLimit {
		if verdict, err = s.take(ctx, o, Tap{OfferID: o.ID, UserID: u.ID, Quantity: req.Quantity, Limit: o.PerCustomerLimit}); err != nil {
			return nil, false, err
		}
	}
	if verdict != Taken {
		s.Metrics.tap(verdict.String())
		if verdict == SoldOut {
			s.noteSoldOut(o.ID)
		}
		if verdict == LimitOver {
			return s.refuse(ctx, o, u, req, ErrLimitReached)
		}
		return s.refuse(ctx, o, u, req, ErrSoldOut)
	}

	hash := reserveHash(req)
	now := s.now()
	r := &Reservation{ID: newHoldID(), OfferID: o.ID, ShowID: o.ShowID, SKUID: o.SKUID, UserID: u.ID,
		Quantity: req.Quantity, PriceMinor: o.PriceMinor, Currency: o.Currency, State: Held,
		CreatedAt: now, ExpiresAt: now.Add(s.holdTTL(sh)), UpdatedAt: now}
	var key *Idempotency
	if req.IdempotencyKey != "" {
		result, err := json.Marshal(outcome[Reservation]{Result: r})
		if err != nil {
			s.give(ctx, o, u.ID, req.Quantity)
			return nil, false, err
		}
		key = &Idempotency{UserID: u.ID, Key: req.IdempotencyKey, Op: opReserve, RequestHash: hash, Result: result, CreatedAt: now}
	}
	if err := s.holdWriter().write(ctx, Hold{Reservation: r, Limit: o.PerCustomerLimit, Key: key}); err != nil {
		s.give(ctx, o, u.ID, req.Quantity)
		switch {
		case errors.Is(err, ErrKeyTaken):
			// A retry of a tap that won (or is winning right now on another
			// request): answer with the stored reservation.
			rec, lerr := s.Ledger.LookupIdempotency(ctx, u.ID, opReserve, req.IdempotencyKey)
			if lerr != nil {
				return nil, false, lerr
			}
			return replay[Reservation](rec, hash)
		case errors.Is(err, ErrSoldOut) || errors.Is(err, ErrLimitReached):
			// The gate let through what the ledger refused: the ledger wins.
			s.Metrics.correction()
			if lerr := s.loadGate(ctx, o, true); lerr != nil {
				s.log().WarnContext(ctx, "correcting the stock gate", "offer", o.ID, "err", lerr)
			}
			s.Metrics.tap("ledger_refused")
			if errors.Is(err, ErrSoldOut) {
				s.lost(o.ShowID, o.ID, LostSoldOut)
			} else {
				s.lost(o.ShowID, o.ID, LostLimitReached)
			}
		}
		return nil, false, err
	}
	s.Metrics.tap("reserved")
	s.stockChanged(o)
	s.replayHold(sh, r)
	return r, false, nil
}

// holdWriter is the service's group commit of holds, made on first use.
func (s *Service) holdWriter() *holdWriter {
	s.holdsOnce.Do(func() { s.holds = newHoldWriter(s.Ledger, s.Metrics, s.HoldLanes) })
	return s.holds
}

// releaseWriter is the service's group commit of customers' releases, made
// on first use.
func (s *Service) releaseWriter() *releaseWriter {
	s.releasesOnce.Do(func() { s.releases = newReleaseWriter(s.Ledger, s.HoldLanes) })
	return s.releases
}

// mayHold reports whether the customer may hold units of the offer, so that
// a refused tap might be the retry of a winning one. When the gate cannot
// say, the answer is yes: a lookup too many costs time, one too few would
// answer a retried winner "sold out".
func (s *Service) mayHold(ctx context.Context, offerID, userID uuid.UUID) bool {
	n, known, err := s.Gate.Holds(ctx, offerID, userID)
	return err != nil || !known || n > 0
}

// take asks the gate, loading it from the ledger when it holds no state for
// the offer (first tap on this node or after Redis lost its memory).
func (s *Service) take(ctx context.Context, o *Offer, t Tap) (Verdict, error) {
	for range 3 {
		v, err := s.Gate.Take(ctx, t)
		if err != nil {
			return 0, apperr.Wrap(apperr.Unavailable, err, "the stock gate is unavailable; try again")
		}
		if v != Unknown {
			return v, nil
		}
		_, err, _ = s.flight.Do("gate/"+o.ID.String(), func() (any, error) {
			return nil, s.loadGate(context.WithoutCancel(ctx), o, false)
		})
		if err != nil {
			return 0, err
		}
	}
	return 0, apperr.Errorf(apperr.Unavailable, "the stock gate could not be loaded; try again")
}

// loadGate reads the offer's free units and customers from the ledger into
// the gate. Free units are bounded by the offer's allocation and by the SKU's
// stock, which other shows' offers may share.
func (s *Service) loadGate(ctx context.Context, o *Offer, overwrite bool) error {
	fresh, err := s.Catalog.OfferByID(ctx, o.ID)
	if err != nil {
		return err
	}
	sku, err := s.Catalog.SKUByID(ctx, o.SKUID)
	if err != nil {
		return err
	}
	customers, err := s.Ledger.OfferCustomers(ctx, o.ID)
	if err != nil {
		return err
	}
	avail := fresh.Free(sku)
	if err := s.Gate.Load(ctx, o.ID, avail, customers, overwrite); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "the stock gate is unavailable; try again")
	}
	return nil
}

// give returns units to the gate. A failure is logged, not returned: the
// units are safe in the ledger, and the gate is corrected on its next load.
func (s *Service) give(ctx context.Context, o *Offer, userID uuid.UUID, qty int) {
	if err := s.Gate.Give(context.WithoutCancel(ctx), o.ID, userID, qty); err != nil {
		s.log().WarnContext(ctx, "returning units to the stock gate", "offer", o.ID, "err", err)
	}
}

// lost counts a lost intent, when the data bank is wired.
func (s *Service) lost(showID, offerID uuid.UUID, cause string) {
	if s.Intents != nil {
		s.Intents.LostIntent(showID, offerID, cause)
	}
}

func (s *Service) stockChanged(o *Offer) {
	if s.Notifier != nil {
		s.Notifier.StockChanged(o.ShowID, o.ID)
	}
}

// Release lets go of the caller's own hold; the units return at once.
func (s *Service) Release(ctx context.Context, u *account.User, id uuid.UUID) (*Reservation, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	r, err := s.Ledger.ReservationByID(ctx, id)
	if err != nil || r.UserID != u.ID {
		// Someone else's reservation is as good as missing.
		if err == nil || errors.Is(err, apperr.E(apperr.NotFound)) {
			return nil, apperr.Errorf(apperr.NotFound, "reservation %s not found", id)
		}
		return nil, err
	}
	rel := &release{id: id, now: s.now()}
	if err := s.releaseWriter().write(ctx, rel); err != nil {
		return nil, err
	}
	r = rel.r
	s.lost(r.ShowID, r.OfferID, LostReleased)
	o := &Offer{ID: r.OfferID, ShowID: r.ShowID}
	s.give(ctx, o, r.UserID, r.Quantity)
	s.stockChanged(o)
	return r, nil
}

// ReleaseShow releases every reservation still held in a show that will not
// happen (it was cancelled): the units go back to stock and to the gate, and
// the live room hears that stock moved. It reports how many it released.
func (s *Service) ReleaseShow(ctx context.Context, showID uuid.UUID) (int, error) {
	s.ForgetShow(showID)
	released, err := s.Ledger.ReleaseShow(ctx, showID, s.now())
	if err != nil {
		return 0, err
	}
	for _, r := range released {
		o := &Offer{ID: r.OfferID, ShowID: r.ShowID}
		s.give(ctx, o, r.UserID, r.Quantity)
		s.stockChanged(o)
	}
	return len(released), nil
}

// Drop actions.
const (
	DropOpen  = "open"
	DropClose = "close"
)

// MaxDrop bounds a flash drop's window.
const MaxDrop = 24 * time.Hour

// SetDrop opens a flash drop on an offer for a number of seconds, or closes
// it now. Only the show's hosts and brand admins may, while the show is
// scheduled or live. Every node's cached copy of the offer is dropped (via
// the Notifier, which tells the live room), so the window holds everywhere.
func (s *Service) SetDrop(ctx context.Context, u *account.User, offerID uuid.UUID, action string, seconds int) (*Offer, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	o, err := s.Catalog.OfferByID(ctx, offerID)
	if err != nil {
		return nil, err
	}
	sh, err := s.Shows.ShowByID(ctx, o.ShowID)
	if err != nil {
		return nil, err
	}
	if err := show.CheckHost(u, sh); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return nil, apperr.Errorf(apperr.NotFound, "offer %s not found", offerID)
		}
		return nil, err
	}
	if sh.State != show.Scheduled && sh.State != show.Live {
		return nil, apperr.Errorf(apperr.Conflict, "the show is %s", sh.State)
	}
	now := s.now()
	var opens, closes time.Time
	switch action {
	case DropOpen:
		if seconds < 5 || time.Duration(seconds)*time.Second > MaxDrop {
			return nil, apperr.Errorf(apperr.Invalid, "a drop lasts from 5 seconds to 24 hours")
		}
		if s.DrawStore != nil {
			if _, err := s.DrawStore.ActiveDraw(ctx, offerID); err == nil {
				return nil, apperr.Errorf(apperr.Conflict, "a draw is selling this offer: it cannot open first-come until the draw is drawn")
			} else if !errors.Is(err, apperr.E(apperr.NotFound)) {
				return nil, err
			}
		}
		opens, closes = now, now.Add(time.Duration(seconds)*time.Second)
	case DropClose:
		// DropOpen is true for an offer that is not a drop at all (it always
		// sells), and such an offer has no window to close. Both refusals are
		// conflicts with the offer's state, not bad input: the same frame is
		// right once the drop is open.
		if !o.Drop || o.DropOpensAt == nil {
			return nil, apperr.Errorf(apperr.Conflict, "offer %s is not a flash drop: there is no drop to close", offerID)
		}
		if !o.DropOpen(now) {
			return nil, apperr.Errorf(apperr.Conflict, "the drop is not open")
		}
		opens, closes = *o.DropOpensAt, now
	default:
		return nil, apperr.Errorf(apperr.Invalid, "action must be open or close")
	}
	o, err = s.Catalog.SetDropWindow(ctx, offerID, opens, closes)
	if err != nil {
		return nil, err
	}
	s.ForgetShow(o.ShowID)
	if s.Notifier != nil {
		s.Notifier.DropChanged(o)
	}
	return o, nil
}

// Reservation returns one of the caller's own reservations.
func (s *Service) Reservation(ctx context.Context, u *account.User, id uuid.UUID) (*Reservation, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	r, err := s.Ledger.ReservationByID(ctx, id)
	if err == nil && r.UserID != u.ID {
		err = apperr.Errorf(apperr.NotFound, "reservation %s not found", id)
	}
	return r, err
}

// ActiveHolds lists the caller's reservations that still hold units (held,
// or being paid for), in the show or, with showID zero, in every show,
// soonest to expire first: a page reloaded mid-purchase finds its holds again.
func (s *Service) ActiveHolds(ctx context.Context, u *account.User, showID uuid.UUID) ([]Reservation, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	return s.Ledger.ActiveReservations(ctx, u.ID, showID)
}

// Sweep expires due holds and returns their units to the gate, then settles
// orders whose payment outcome was unknown. It is safe on several nodes at
// once; Run calls it every second.
func (s *Service) Sweep(ctx context.Context) error {
	const batch = 500
	for {
		expired, err := s.Ledger.ExpireDue(ctx, s.now(), batch)
		if err != nil {
			return err
		}
		for _, r := range expired {
			o := &Offer{ID: r.OfferID, ShowID: r.ShowID}
			s.give(ctx, o, r.UserID, r.Quantity)
			s.stockChanged(o)
			if r.Checkout {
				s.lost(r.ShowID, r.OfferID, LostCheckoutAbandoned)
			} else {
				s.lost(r.ShowID, r.OfferID, LostHoldExpired)
			}
		}
		s.Metrics.expired(len(expired))
		if len(expired) < batch {
			break
		}
	}
	if err := s.resyncGate(ctx); err != nil {
		return err
	}
	return s.reconcile(ctx)
}

func (s *Service) noteSoldOut(offerID uuid.UUID) {
	s.driftMu.Lock()
	defer s.driftMu.Unlock()
	if s.soldOut == nil {
		s.soldOut = map[uuid.UUID]time.Time{}
	}
	if _, ok := s.soldOut[offerID]; !ok && len(s.soldOut) < 10_000 {
		s.soldOut[offerID] = time.Time{}
	}
}

// driftGrace is how long the ledger must show free units that the gate
// calls sold out before the gate is reloaded. Shorter would race with taps
// that won at the gate and are still on their way to the ledger.
const driftGrace = 3 * time.Second

// resyncGate heals the one drift the gate cannot notice by itself: units it
// believes gone that the ledger holds free (a Give lost to a crash or a
// network failure, a Redis script retried by its client). Only offers this
// node saw sold out are watched, and only while units are still held (an
// expiry or a cancellation can free them), so a quiet node does no work.
func (s *Service) resyncGate(ctx context.Context) error {
	s.driftMu.Lock()
	ids := make([]uuid.UUID, 0, len(s.soldOut))
	for id := range s.soldOut {
		ids = append(ids, id)
	}
	s.driftMu.Unlock()
	for _, id := range ids {
		o, err := s.Catalog.OfferByID(ctx, id)
		if err != nil {
			return err
		}
		sku, err := s.Catalog.SKUByID(ctx, o.SKUID)
		if err != nil {
			return err
		}
		free := o.Free(sku)
		gate, known, err := s.Gate.Available(ctx, id)
		if err != nil {
			return err
		}
		heal := false
		s.driftMu.Lock()
		switch {
		case !known || gate > 0 || (free <= 0 && o.Held == 0):
			// The gate has units again, or forgot the offer (the next tap
			// reloads it), or everything is sold: stop watching.
			delete(s.soldOut, id)
		case free <= 0:
			s.soldOut[id] = time.Time{} // sold out in the ledger too, for now
		case s.soldOut[id].IsZero():
			s.soldOut[id] = s.now()
		case s.now().Sub(s.soldOut[id]) >= driftGrace:
			delete(s.soldOut, id)
			heal = true
		}
		s.driftMu.Unlock()
		if heal {
			s.Metrics.correction()
			s.log().InfoContext(ctx, "stock gate lost units; reloading it from the ledger", "offer", id, "free", free)
			if err := s.loadGate(ctx, o, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// Run sweeps every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log().WarnContext(ctx, "checkout sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func checkKey(key string) error {
	if key == "" {
		return nil
	}
	if utf8.RuneCountInString(key) > 255 {
		return apperr.Errorf(apperr.Invalid, "Idempotency-Key must be at most 255 characters")
	}
	// A live room's reserve frame carries its key in JSON, where a NUL can hide.
	return textcheck.Line("Idempotency-Key", key)
}

// reserveHash is the request hash stored with a reserve's idempotency key.
// Only a tap that may be written or replayed needs it: most taps of a
// stampede are refused without either.
func reserveHash(req ReserveRequest) string {
	return requestHash(req.OfferID.String(), strconv.Itoa(req.Quantity))
}

func requestHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// outcome is what an idempotency record stores: a result or an error.
type outcome[T any] struct {
	Result *T            `json:"result,omitempty"`
	Error  *apperr.Error `json:"error,omitempty"`
}

func (s *Service) finishKey(ctx context.Context, userID uuid.UUID, op, key string, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	return s.Ledger.FinishIdempotency(context.WithoutCancel(ctx), userID, op, key, b)
}

func (s *Service) dropKey(ctx context.Context, userID uuid.UUID, op, key string) {
	if key == "" {
		return
	}
	if err := s.Ledger.DropIdempotency(context.WithoutCancel(ctx), userID, op, key); err != nil {
		s.log().WarnContext(ctx, "dropping an idempotency key", "err", err)
	}
}

// replay answers a retried request from its stored record; replayed says the
// answer (a result or a stored refusal) repeats the first one.
func replay[T any](rec *Idempotency, hash string) (result *T, replayed bool, err error) {
	if rec.RequestHash != hash {
		return nil, false, apperr.Errorf(apperr.Unprocessable, "this Idempotency-Key was used with different parameters")
	}
	if len(rec.Result) == 0 {
		return nil, false, apperr.Errorf(apperr.Conflict, "a request with this Idempotency-Key is still in progress")
	}
	var out outcome[T]
	if err := json.Unmarshal(rec.Result, &out); err != nil {
		return nil, false, fmt.Errorf("stored idempotent result: %w", err)
	}
	if out.Error != nil {
		return nil, true, out.Error
	}
	if out.Result == nil {
		return nil, false, fmt.Errorf("stored idempotent result is empty")
	}
	return out.Result, true, nil
}

// refuse answers a tap that reserves nothing with refusal — unless its
// idempotency key already won (a retry after a lost answer, now sold out or
// past its drop) or was used with other parameters. Only a customer who may
// hold units on the offer can have such a key, so the others never reach
// the ledger.
func (s *Service) refuse(ctx context.Context, o *Offer, u *account.User, req ReserveRequest, refusal error) (*Reservation, bool, error) {
	if req.IdempotencyKey == "" || !s.mayHold(ctx, o.ID, u.ID) {
		s.lostTo(o, refusal)
		return nil, false, refusal
	}
	rec, err := s.Ledger.LookupIdempotency(ctx, u.ID, opReserve, req.IdempotencyKey)
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		s.lostTo(o, refusal)
		return nil, false, refusal
	}
	if err != nil {
		return nil, false, err
	}
	return replay[Reservation](rec, reserveHash(req))
}

// lostTo counts a tap refused with refusal (ErrSoldOut, ErrLimitReached or
// ErrDropClosed) as a lost intent. A retry answered from its key's first,
// winning answer is no loss and is not counted.
func (s *Service) lostTo(o *Offer, refusal error) {
	switch {
	case errors.Is(refusal, ErrSoldOut):
		s.lost(o.ShowID, o.ID, LostSoldOut)
	case errors.Is(refusal, ErrLimitReached):
		s.lost(o.ShowID, o.ID, LostLimitReached)
	case errors.Is(refusal, ErrDropClosed):
		s.lost(o.ShowID, o.ID, LostDropClosed)
	}
}

// NewOffer is what a brand admin asks for to feature a SKU in a show.
type NewOffer struct {
	ShowID, SKUID    uuid.UUID
	PriceMinor       int64
	Allocated        int
	PerCustomerLimit int
	// Drop makes it a flash drop: not for sale until the host opens it.
	Drop bool
}

// AddOffer features one of the show's brand's SKUs in the show, at a show
// price in the SKU's currency, for the show's brand admins, while the show
// has not ended or been cancelled (Catalog.CreateOffer). It tells the live
// room, so the new card reaches every viewer on every node at once, not only
// the ones who join after.
func (s *Service) AddOffer(ctx context.Context, u *account.User, req NewOffer) (*Offer, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	sh, err := s.Shows.ShowByID(ctx, req.ShowID)
	if err != nil {
		return nil, err
	}
	if err := show.CheckSee(u, sh); err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, sh.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this show's brand")
	}
	if sh.State == show.Ended || sh.State == show.Cancelled {
		return nil, apperr.Errorf(apperr.Conflict, "the show is %s: it takes no new offers", sh.State)
	}
	sku, err := s.Catalog.SKUByID(ctx, req.SKUID)
	if errors.Is(err, apperr.E(apperr.NotFound)) || (err == nil && sku.BrandID != sh.BrandID) {
		return nil, ErrOtherBrandSKU
	}
	if err != nil {
		return nil, err
	}
	o := &Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: sku.ID, PriceMinor: req.PriceMinor, Currency: sku.Currency,
		Allocated: req.Allocated, PerCustomerLimit: req.PerCustomerLimit, Drop: req.Drop, CreatedAt: s.now()}
	if err := ValidateOffer(o); err != nil {
		return nil, err
	}
	if o.Allocated > sku.OnHand {
		return nil, apperr.Errorf(apperr.Conflict, "%s (%d)", ErrOverAllocated.Message, sku.OnHand)
	}
	if err := s.Catalog.CreateOffer(ctx, o); err != nil {
		return nil, err
	}
	s.ForgetShow(o.ShowID)
	s.stockChanged(o)
	return o, nil
}

// UpdateSKU changes a SKU's price, stock or attributes for its brand's
// admins. Units left of every offer of the SKU in a scheduled or live show
// follow its stock: the gate is reloaded from the ledger (a restock would
// otherwise stay "sold out" at the gate) and the live rooms are told.
func (s *Service) UpdateSKU(ctx context.Context, u *account.User, id uuid.UUID, p SKUPatch) (*SKU, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	sku, err := s.Catalog.SKUByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, sku.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this SKU's brand")
	}
	if err := ValidatePatch(&p); err != nil {
		return nil, err
	}
	if sku, err = s.Catalog.UpdateSKU(ctx, id, p); err != nil {
		return nil, err
	}
	offers, err := s.Catalog.OffersOnSale(ctx, id)
	if err != nil {
		// The change is made; the gate corrects itself from the ledger on
		// its own (resyncGate) and rooms on the next stock event.
		s.log().WarnContext(ctx, "finding the offers of a changed SKU", "sku", id, "err", err)
		return sku, nil
	}
	for i := range offers {
		o := &offers[i]
		// Overwriting may race with taps on their way from the gate to the
		// ledger; the ledger refuses what it must, so this can cost a
		// winner its hold, never oversell.
		if err := s.loadGate(ctx, o, true); err != nil {
			s.log().WarnContext(ctx, "reloading the stock gate after a stock change", "offer", o.ID, "err", err)
		}
		s.ForgetShow(o.ShowID)
		s.stockChanged(o)
	}
	return sku, nil
}
