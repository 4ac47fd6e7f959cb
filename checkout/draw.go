package checkout

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/draw"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Fair draws: beside first-come drops, a host can sell an offer's units by
// draw. Viewers enter during a window (one entry per account); when it
// closes, one node claims the draw in the ledger, draws min(units, entries)
// winners by the verifiable procedure of internal/draw, and gives each a
// hold of one unit as a tap gets one, through the gate and the ledger's
// group commit (so stock, limits and the gate stay exact). While a draw
// runs its offer is a closed drop: nobody can buy it first-come.
//
// A giveaway is a draw whose offer is priced 0: the host gives N units away
// (N winners) to the viewers who may enter (Eligibility: everyone signed
// in, the brand's followers, or members). The winners' holds are claimed
// through checkout like any other (a shipping address, no charge), so the
// prize's stock is taken exactly once, by the ledger.

// Eligibility says who may enter a draw.
type Eligibility string

const (
	// EveryoneSignedIn: any account that may see the show.
	EveryoneSignedIn Eligibility = "everyone"
	// Followers: accounts that follow the show's brand.
	Followers Eligibility = "followers"
	// MembersOnly: accounts with Pavilion membership (and the show's staff).
	MembersOnly Eligibility = "members"
)

// OrDefault is e, or EveryoneSignedIn when e is empty.
func (e Eligibility) OrDefault() Eligibility {
	if e == "" {
		return EveryoneSignedIn
	}
	return e
}

// DrawState is where a draw is in its life: open → closing → drawn.
type DrawState string

const (
	// DrawOpen: taking entries until ClosesAt.
	DrawOpen DrawState = "open"
	// DrawClosing: a node claimed it and is drawing the winners; a claim
	// older than the lease is taken over by another node.
	DrawClosing DrawState = "closing"
	// DrawDrawn: the winners are drawn and held, the seed revealed.
	DrawDrawn DrawState = "drawn"
)

// Draw is one draw on an offer, as the ledger keeps it.
type Draw struct {
	ID         uuid.UUID
	ShowID     uuid.UUID
	OfferID    uuid.UUID
	Units      int // at open: the units offered; once drawn: the units drawn (no more than were free at close)
	State      DrawState
	Seed       []byte // secret until drawn
	Commitment string // hex SHA-256 of Seed
	OpensAt    time.Time
	ClosesAt   time.Time
	ClaimedAt  *time.Time // when a node claimed the close
	Attempts   int        // claims made: more than one means a node died closing it
	DrawnAt    *time.Time
	Entries    int // how many entries it has
	CreatedBy  uuid.UUID
	// Giveaway: the offer is a prize at price 0, Units its winners.
	Giveaway    bool
	Eligibility Eligibility
	// PrizeCouponID, for a giveaway of a coupon: each winner is issued a
	// copy of it for their own use, and the offer only names what it is for.
	PrizeCouponID *uuid.UUID
}

// DrawEntry is one account's entry in a draw. Seq orders the entry list.
type DrawEntry struct {
	ID        uuid.UUID `json:"id"`
	DrawID    uuid.UUID `json:"draw_id"`
	UserID    uuid.UUID `json:"-"`
	Seq       int64     `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
	// Rank is a winner's place in the draw order, from 1; 0 for an entry
	// that was not drawn (or a draw not drawn yet).
	Rank          int        `json:"rank"`
	ReservationID *uuid.UUID `json:"reservation_id"` // a winner's hold; nil when its hold could not be made
}

// DrawWinner is a winner's entry and the hold it was given (nil: none could
// be made). FinishDraw takes them in draw order.
type DrawWinner struct {
	EntryID       uuid.UUID
	ReservationID *uuid.UUID
}

// DrawStore keeps draws and their entries in the ledger. Implemented by the
// SQLite and PostgreSQL drivers.
type DrawStore interface {
	// CreateDraw inserts d (State DrawOpen). Conflict when the offer already
	// has a draw that is open or closing.
	CreateDraw(ctx context.Context, d *Draw) error
	DrawByID(ctx context.Context, id uuid.UUID) (*Draw, error)
	// DrawsByShow lists the show's draws, newest first, at most 100.
	DrawsByShow(ctx context.Context, showID uuid.UUID) ([]Draw, error)
	// ActiveDraw returns the offer's open or closing draw; NotFound when none.
	ActiveDraw(ctx context.Context, offerID uuid.UUID) (*Draw, error)
	// Enter adds e (ID, DrawID, UserID, CreatedAt set; Seq filled in) while
	// the draw is open and now is before its ClosesAt, atomically with the
	// close's claim (an entry is in the list the winners are drawn from, or
	// refused). created is false and the stored entry returned when the
	// account had already entered. Conflict when the draw is not open.
	Enter(ctx context.Context, e *DrawEntry, now time.Time) (stored *DrawEntry, created bool, err error)
	// EntryOf returns the account's entry; NotFound when it has none.
	EntryOf(ctx context.Context, drawID, userID uuid.UUID) (*DrawEntry, error)
	// DrawEntries lists the draw's entries in Seq order.
	DrawEntries(ctx context.Context, drawID uuid.UUID) ([]DrawEntry, error)
	// DrawWinners lists the draw's winning entries in Rank order.
	DrawWinners(ctx context.Context, drawID uuid.UUID) ([]DrawEntry, error)
	// EndDrawWindow brings an open draw's ClosesAt forward to now (a host
	// closing it early). Conflict when it is not open.
	EndDrawWindow(ctx context.Context, id uuid.UUID, now time.Time) (*Draw, error)
	// DueDraws lists draws to close: open with ClosesAt <= now, or closing
	// with a claim made at or before staleBefore (its node died).
	DueDraws(ctx context.Context, now, staleBefore time.Time, limit int) ([]uuid.UUID, error)
	// ClaimDraw moves a due draw (as DueDraws selects it) to DrawClosing
	// with ClaimedAt = now and one more Attempt, and returns it with its seed; claimed is false
	// when it was not due (another node has it, or it is drawn). Of nodes
	// racing for one draw, exactly one claims it.
	ClaimDraw(ctx context.Context, id uuid.UUID, now, staleBefore time.Time) (d *Draw, claimed bool, err error)
	// FinishDraw records the result of the claim made at claimedAt: State
	// DrawDrawn, Units = units, DrawnAt = now, and the winners' entries
	// ranked 1, 2, … in the order given, with their holds. Conflict when the claim is no longer that one (another node
	// took over): nothing changes.
	FinishDraw(ctx context.Context, id uuid.UUID, claimedAt time.Time, units int, winners []DrawWinner, now time.Time) (*Draw, error)
}

// DrawNotifier hears about draws opening and being drawn, for the live
// room. An optional extension of the Service's Notifier.
type DrawNotifier interface {
	DrawChanged(r *DrawRecord)
}

// DrawRecord is a draw as everyone may see it: the commitment while it is
// open; the seed, the ordered entry list and the winners (entry IDs, in
// draw order) once drawn. `pavilion verify-draw` checks it.
type DrawRecord struct {
	ID         uuid.UUID  `json:"id"`
	ShowID     uuid.UUID  `json:"show_id"`
	OfferID    uuid.UUID  `json:"offer_id"`
	Procedure  string     `json:"procedure"`
	State      DrawState  `json:"state"`
	Units      int        `json:"units"`
	Commitment string     `json:"commitment"`
	OpensAt    time.Time  `json:"opens_at"`
	ClosesAt   time.Time  `json:"closes_at"`
	DrawnAt    *time.Time `json:"drawn_at,omitempty"`
	EntryCount int        `json:"entry_count"`
	Seed       string     `json:"seed,omitempty"`
	// Entries is the ordered entry list, in full records only (the API's
	// single draw), not in listings or room events.
	Entries []uuid.UUID `json:"entries,omitempty"`
	Winners []uuid.UUID `json:"winners,omitempty"`
	// Unheld lists winners whose hold could not be made (the SKU's stock,
	// shared with other offers, ran out between the count and the hold).
	Unheld     []uuid.UUID `json:"unheld,omitempty"`
	ServerTime time.Time   `json:"server_time"`
	// Giveaway says the units are prizes (price 0); Eligibility who may enter.
	Giveaway    bool        `json:"giveaway"`
	Eligibility Eligibility `json:"eligibility"`
	// PrizeCouponID is a coupon giveaway's coupon (each winner gets a copy).
	PrizeCouponID *uuid.UUID `json:"prize_coupon_id,omitempty"`
}

// Verify re-derives the record's winners (internal/draw) and checks them.
func (r *DrawRecord) Verify() error {
	if r.State != DrawDrawn {
		return draw.ErrNotDrawn
	}
	res := draw.Result{Procedure: r.Procedure, Commitment: r.Commitment, Seed: r.Seed, Units: r.Units,
		Entries: idStrings(r.Entries), Winners: idStrings(r.Winners)}
	if len(r.Entries) != r.EntryCount {
		return fmt.Errorf("the record lists %d entries but counts %d", len(r.Entries), r.EntryCount)
	}
	_, err := draw.Verify(res)
	return err
}

func idStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// Draws runs fair draws. Its fields are wired by cmd.
type Draws struct {
	Checkout *Service
	Store    DrawStore
	// Lease is how long a node's claim on a closing draw stands before
	// another node takes it over: 30 s.
	Lease time.Duration
}

// Draw bounds.
const (
	MinDrawSeconds = 5
	MaxDrawWindow  = 24 * time.Hour
	maxDrawsListed = 100
	opDraw         = "draw" // idempotency op of a winner's hold: the key is the draw ID
	holdWorkers    = 128    // winners' holds made at once: they share the group commit's batches
)

func (d *Draws) lease() time.Duration {
	if d.Lease > 0 {
		return d.Lease
	}
	return 30 * time.Second
}

// OpenDrawRequest opens a draw on an offer for Seconds; Units 0 offers every
// free unit.
type OpenDrawRequest struct {
	OfferID uuid.UUID `json:"offer_id"`
	Seconds int       `json:"seconds"`
	Units   int       `json:"units"`
	// Giveaway gives the units away: the offer must be priced 0.
	Giveaway    bool        `json:"giveaway"`
	Eligibility Eligibility `json:"eligibility"` // "" is EveryoneSignedIn
	// CouponID makes the giveaway's prize a coupon of the brand: each of
	// Units winners is issued a copy only they may use. The offer then
	// only says what the coupon is for, and keeps selling first-come.
	CouponID *uuid.UUID `json:"coupon_id"`
}

// Open opens a draw on an offer of a show u hosts. The offer stops selling
// first-come (it becomes a closed drop) for as long as the draw runs.
func (d *Draws) Open(ctx context.Context, u *account.User, showID uuid.UUID, req OpenDrawRequest) (*DrawRecord, error) {
	s := d.Checkout
	o, sh, err := d.staffOffer(ctx, u, req.OfferID)
	if err != nil {
		return nil, err
	}
	if o.ShowID != showID {
		return nil, apperr.Errorf(apperr.NotFound, "offer %s is not in this show", req.OfferID)
	}
	if sh.State != show.Scheduled && sh.State != show.Live {
		return nil, apperr.Errorf(apperr.Conflict, "the show is %s", sh.State)
	}
	if req.Seconds < MinDrawSeconds || time.Duration(req.Seconds)*time.Second > MaxDrawWindow {
		return nil, apperr.Errorf(apperr.Invalid, "a draw lasts from %d seconds to 24 hours", MinDrawSeconds)
	}
	if req.Units < 0 {
		return nil, apperr.Errorf(apperr.Invalid, "units must be positive (0: every free unit)")
	}
	req.Eligibility = req.Eligibility.OrDefault()
	switch req.Eligibility {
	case EveryoneSignedIn, MembersOnly:
	case Followers:
		if s.Follows == nil {
			return nil, apperr.Errorf(apperr.NotImplemented, "this server keeps no follows: a draw cannot be for followers")
		}
	default:
		return nil, apperr.Errorf(apperr.Invalid, "eligibility must be everyone, followers or members")
	}
	if req.CouponID != nil {
		return d.openCouponGiveaway(ctx, u, o, req)
	}
	if req.Giveaway && o.PriceMinor != 0 {
		return nil, apperr.Errorf(apperr.Invalid, "a giveaway's prize is an offer at price 0; this offer costs %s %s", minorString(o.PriceMinor), o.Currency)
	}
	now := s.now()
	if o.Drop && o.DropOpen(now) {
		return nil, apperr.Errorf(apperr.Conflict, "a first-come drop is open on this offer: close it before opening a draw")
	}
	sku, err := s.Catalog.SKUByID(ctx, o.SKUID)
	if err != nil {
		return nil, err
	}
	free := o.Free(sku)
	units := req.Units
	if units == 0 {
		units = free
	}
	if free == 0 {
		return nil, ErrSoldOut
	}
	if units > free {
		return nil, apperr.Errorf(apperr.Conflict, "only %d units are free", free)
	}
	if _, err := d.Store.ActiveDraw(ctx, o.ID); err == nil {
		return nil, apperr.Errorf(apperr.Conflict, "a draw is already running on this offer")
	} else if !errors.Is(err, apperr.E(apperr.NotFound)) {
		return nil, err
	}
	seed, err := draw.NewSeed()
	if err != nil {
		return nil, err
	}
	// First-come sales stop before the draw exists, so no unit it counts on
	// can go to a tap in between.
	closed, err := s.Catalog.SetDropWindow(ctx, o.ID, now, now)
	if err != nil {
		return nil, err
	}
	dr := &Draw{ID: uuid.New(), ShowID: o.ShowID, OfferID: o.ID, Units: units, State: DrawOpen, Seed: seed,
		Commitment: draw.Commitment(seed), OpensAt: now, ClosesAt: now.Add(time.Duration(req.Seconds) * time.Second), CreatedBy: u.ID,
		Giveaway: req.Giveaway, Eligibility: req.Eligibility}
	if err := d.Store.CreateDraw(ctx, dr); err != nil {
		return nil, err
	}
	s.ForgetShow(o.ShowID)
	if s.Notifier != nil {
		s.Notifier.DropChanged(closed)
	}
	rec := d.record(dr, nil)
	d.announce(rec)
	return rec, nil
}

// openCouponGiveaway opens a giveaway of copies of a brand coupon. Units
// (at least 1) is its number of winners; no stock is involved, so the offer
// is not closed.
func (d *Draws) openCouponGiveaway(ctx context.Context, u *account.User, o *Offer, req OpenDrawRequest) (*DrawRecord, error) {
	s := d.Checkout
	if !req.Giveaway {
		return nil, apperr.Errorf(apperr.Invalid, "coupon_id is for giveaways")
	}
	if req.Units < 1 || req.Units > 10_000 {
		return nil, apperr.Errorf(apperr.Invalid, "a coupon giveaway has from 1 to 10000 winners (units)")
	}
	cs, err := s.coupons()
	if err != nil {
		return nil, err
	}
	sh, err := s.Shows.ShowByID(ctx, o.ShowID)
	if err != nil {
		return nil, err
	}
	c, err := cs.CouponByID(ctx, *req.CouponID)
	if errors.Is(err, apperr.E(apperr.NotFound)) || (err == nil && (c.BrandID != sh.BrandID || c.IssuedTo != nil)) {
		return nil, apperr.Errorf(apperr.Invalid, "coupon_id is not a coupon of this brand")
	}
	if err != nil {
		return nil, err
	}
	if c.Disabled || (c.ShowID != nil && *c.ShowID != sh.ID) {
		return nil, apperr.Errorf(apperr.Conflict, "coupon %s is withdrawn or for another show", c.Code)
	}
	if _, err := d.Store.ActiveDraw(ctx, o.ID); err == nil {
		return nil, apperr.Errorf(apperr.Conflict, "a draw is already running on this offer")
	} else if !errors.Is(err, apperr.E(apperr.NotFound)) {
		return nil, err
	}
	seed, err := draw.NewSeed()
	if err != nil {
		return nil, err
	}
	now := s.now()
	dr := &Draw{ID: uuid.New(), ShowID: o.ShowID, OfferID: o.ID, Units: req.Units, State: DrawOpen, Seed: seed,
		Commitment: draw.Commitment(seed), OpensAt: now, ClosesAt: now.Add(time.Duration(req.Seconds) * time.Second), CreatedBy: u.ID,
		Giveaway: true, Eligibility: req.Eligibility, PrizeCouponID: &c.ID}
	if err := d.Store.CreateDraw(ctx, dr); err != nil {
		return nil, err
	}
	rec := d.record(dr, nil)
	d.announce(rec)
	return rec, nil
}

// issueCoupons gives each winner of a coupon giveaway a copy of its coupon:
// one use, only theirs. A copy's ID follows from the draw and the winner,
// so a close taken over by another node finds the copies already made and
// issues none twice.
func (d *Draws) issueCoupons(ctx context.Context, dr *Draw, winners []string, byID map[string]*DrawEntry) ([]DrawWinner, error) {
	s := d.Checkout
	cs, err := s.coupons()
	if err != nil {
		return nil, err
	}
	prize, err := cs.CouponByID(ctx, *dr.PrizeCouponID)
	if err != nil {
		return nil, err
	}
	out := make([]DrawWinner, len(winners))
	for i, w := range winners {
		e := byID[w]
		out[i] = DrawWinner{EntryID: e.ID}
		id := uuid.NewSHA1(dr.ID, e.UserID[:])
		if _, err := cs.CouponByID(ctx, id); err == nil {
			continue // issued by an earlier attempt
		} else if !errors.Is(err, apperr.E(apperr.NotFound)) {
			return nil, err
		}
		c := *prize
		owner := e.UserID
		c.ID, c.IssuedTo, c.Uses, c.SpentMinor, c.CreatedAt = id, &owner, 0, 0, s.now()
		c.Code = fmt.Sprintf("%s-%s", prize.Code[:min(len(prize.Code), 23)], strings.ToUpper(hex.EncodeToString(id[:4])))
		c.MaxUses, c.PerCustomer, c.BudgetMinor, c.Disabled = 1, 1, 0, false
		if err := cs.CreateCoupon(ctx, &c); err != nil {
			// A node racing with this one made it; any other conflict
			// (a code taken) is an error, and the next attempt retries.
			if _, lerr := cs.CouponByID(ctx, id); lerr != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// staffOffer reads the offer and its show as stored now and checks that u
// may run the show; someone who may not even see it is told it does not exist.
func (d *Draws) staffOffer(ctx context.Context, u *account.User, offerID uuid.UUID) (*Offer, *show.Show, error) {
	if u == nil {
		return nil, nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	o, err := d.Checkout.Catalog.OfferByID(ctx, offerID)
	if err != nil {
		return nil, nil, err
	}
	sh, err := d.Checkout.Shows.ShowByID(ctx, o.ShowID)
	if err != nil {
		return nil, nil, err
	}
	if err := show.CheckHost(u, sh); err != nil {
		return nil, nil, err
	}
	return o, sh, nil
}

// visibleDraw reads a draw of the show that u may see.
func (d *Draws) visibleDraw(ctx context.Context, u *account.User, showID, drawID uuid.UUID) (*Draw, *show.Show, error) {
	sh, err := d.Checkout.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, nil, err
	}
	if !canSee(u, sh) {
		return nil, nil, apperr.Errorf(apperr.NotFound, "show %s not found", showID)
	}
	dr, err := d.Store.DrawByID(ctx, drawID)
	if err == nil && dr.ShowID != showID {
		err = apperr.Errorf(apperr.NotFound, "draw %s not found", drawID)
	}
	if err != nil {
		return nil, nil, err
	}
	return dr, sh, nil
}

func canSee(u *account.User, sh *show.Show) bool {
	if sh.Visibility != show.Members {
		return true
	}
	return u != nil && account.CanSeeShow(u, true, sh.BrandID, sh.HostIDs)
}

// Enter enters u in an open draw; entering twice returns the first entry.
// Members-only shows take members' entries only; an account that already
// holds or bought the offer's per-customer limit cannot enter.
func (d *Draws) Enter(ctx context.Context, u *account.User, showID, drawID uuid.UUID) (*DrawEntry, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in to enter the draw")
	}
	dr, sh, err := d.visibleDraw(ctx, u, showID, drawID)
	if err != nil {
		return nil, err
	}
	if sh.State != show.Scheduled && sh.State != show.Live {
		return nil, apperr.Errorf(apperr.Conflict, "the show is %s", sh.State)
	}
	s := d.Checkout
	now := s.now()
	if dr.State != DrawOpen || !now.Before(dr.ClosesAt) {
		if e, err := d.Store.EntryOf(ctx, drawID, u.ID); err == nil {
			return e, nil // a retry of an entry that made it
		}
		return nil, apperr.Errorf(apperr.Conflict, "the draw is closed")
	}
	if err := d.eligible(ctx, u, sh, dr); err != nil {
		return nil, err
	}
	o, err := s.Catalog.OfferByID(ctx, dr.OfferID)
	if err != nil {
		return nil, err
	}
	if o.PerCustomerLimit > 0 && dr.PrizeCouponID == nil {
		n, err := s.Ledger.CustomerUnits(ctx, o.ID, u.ID)
		if err != nil {
			return nil, err
		}
		if n >= o.PerCustomerLimit {
			return nil, ErrLimitReached
		}
	}
	e := &DrawEntry{ID: uuid.New(), DrawID: drawID, UserID: u.ID, CreatedAt: now}
	stored, _, err := d.Store.Enter(ctx, e, now)
	return stored, err
}

// eligible checks the draw's rule for who may enter. The show's staff may
// always (they test the flow before going live).
func (d *Draws) eligible(ctx context.Context, u *account.User, sh *show.Show, dr *Draw) error {
	if account.CanHost(u, sh.BrandID, sh.HostIDs) {
		return nil
	}
	switch dr.Eligibility.OrDefault() {
	case MembersOnly:
		if !u.Has(account.RoleMember) {
			return apperr.Errorf(apperr.Forbidden, "this draw is for members only")
		}
	case Followers:
		if d.Checkout.Follows == nil {
			return apperr.Errorf(apperr.NotImplemented, "this server keeps no follows")
		}
		ok, err := d.Checkout.Follows.Following(ctx, sh.BrandID, u.ID)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.Errorf(apperr.Forbidden, "this draw is for the brand's followers: follow the brand to enter")
		}
	}
	return nil
}

// Entry returns u's entry in the draw; NotFound when u has not entered.
func (d *Draws) Entry(ctx context.Context, u *account.User, showID, drawID uuid.UUID) (*DrawEntry, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	if _, _, err := d.visibleDraw(ctx, u, showID, drawID); err != nil {
		return nil, err
	}
	e, err := d.Store.EntryOf(ctx, drawID, u.ID)
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		return nil, apperr.Errorf(apperr.NotFound, "you have not entered this draw")
	}
	return e, err
}

// Record returns the draw as published; once drawn, with its whole entry
// list, so anyone can verify it.
func (d *Draws) Record(ctx context.Context, u *account.User, showID, drawID uuid.UUID) (*DrawRecord, error) {
	dr, _, err := d.visibleDraw(ctx, u, showID, drawID)
	if err != nil {
		return nil, err
	}
	if dr.State != DrawDrawn {
		return d.record(dr, nil), nil
	}
	entries, err := d.Store.DrawEntries(ctx, drawID)
	if err != nil {
		return nil, err
	}
	return d.record(dr, entries), nil
}

// List lists the show's draws (without entry lists), newest first.
func (d *Draws) List(ctx context.Context, u *account.User, showID uuid.UUID) ([]DrawRecord, error) {
	sh, err := d.Checkout.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, err
	}
	if !canSee(u, sh) {
		return nil, apperr.Errorf(apperr.NotFound, "show %s not found", showID)
	}
	return d.Published(ctx, showID)
}

// Published lists the show's draws as anyone who may see the show sees
// them (the commitment while open; seed and winners once drawn; never the
// entry list), newest first: the live room's welcome carries them.
func (d *Draws) Published(ctx context.Context, showID uuid.UUID) ([]DrawRecord, error) {
	list, err := d.Store.DrawsByShow(ctx, showID)
	if err != nil {
		return nil, err
	}
	out := make([]DrawRecord, 0, len(list))
	for i := range list {
		rec := d.record(&list[i], nil)
		if list[i].State == DrawDrawn {
			// Listings carry the winners (few) but not the entries (many).
			winners, err := d.Store.DrawWinners(ctx, list[i].ID)
			if err != nil {
				return nil, err
			}
			rec = d.record(&list[i], winners)
			rec.Entries = nil
		}
		out = append(out, *rec)
	}
	return out, nil
}

// Close closes an open draw now, for a host, and draws it.
func (d *Draws) Close(ctx context.Context, u *account.User, showID, drawID uuid.UUID) (*DrawRecord, error) {
	dr, err := d.Store.DrawByID(ctx, drawID)
	if err != nil {
		return nil, err
	}
	if _, _, err := d.staffOffer(ctx, u, dr.OfferID); err != nil {
		return nil, err
	}
	if dr.ShowID != showID {
		return nil, apperr.Errorf(apperr.NotFound, "draw %s not found", drawID)
	}
	if dr.State == DrawOpen {
		if _, err := d.Store.EndDrawWindow(ctx, drawID, d.Checkout.now()); err != nil && !errors.Is(err, apperr.E(apperr.Conflict)) {
			return nil, err
		}
	}
	if err := d.draw(ctx, drawID); err != nil {
		return nil, err
	}
	return d.Record(ctx, u, showID, drawID)
}

// Sweep closes every draw whose window is over (and takes over draws whose
// closing node died). Safe on several nodes at once: the ledger's claim
// lets one of them close each draw.
func (d *Draws) Sweep(ctx context.Context) error {
	now := d.Checkout.now()
	ids, err := d.Store.DueDraws(ctx, now, now.Add(-d.lease()), 50)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		errs = append(errs, d.draw(ctx, id))
	}
	return errors.Join(errs...)
}

// Run sweeps every interval until ctx ends.
func (d *Draws) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := d.Sweep(ctx); err != nil && ctx.Err() == nil {
			d.Checkout.log().WarnContext(ctx, "draw sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// draw claims the draw if it is due and nobody else has it, draws its
// winners and gives them their holds. A node that dies half-way leaves a
// stale claim that another node takes over: the winners are the same (the
// seed and the frozen entry list decide them), and a winner's hold is keyed
// by the draw, so none is made twice.
func (d *Draws) draw(ctx context.Context, id uuid.UUID) error {
	s := d.Checkout
	now := s.now()
	dr, claimed, err := d.Store.ClaimDraw(ctx, id, now, now.Add(-d.lease()))
	if err != nil || !claimed {
		return err
	}
	// The work below must finish even if the request that closed the draw goes.
	ctx = context.WithoutCancel(ctx)
	entries, err := d.Store.DrawEntries(ctx, id)
	if err != nil {
		return err
	}
	o, err := s.Catalog.OfferByID(ctx, dr.OfferID)
	if err != nil {
		return err
	}
	sh, err := s.Shows.ShowByID(ctx, o.ShowID)
	if err != nil {
		return err
	}
	sku, err := s.Catalog.SKUByID(ctx, o.SKUID)
	if err != nil {
		return err
	}
	ids := make([]string, len(entries))
	byID := make(map[string]*DrawEntry, len(entries))
	for i := range entries {
		ids[i] = entries[i].ID.String()
		byID[ids[i]] = &entries[i]
	}
	if dr.PrizeCouponID != nil {
		winners := draw.Winners(dr.Seed, ids, dr.Units)
		if sh.State != show.Scheduled && sh.State != show.Live {
			winners = nil
		}
		result, err := d.issueCoupons(ctx, dr, winners, byID)
		if err != nil {
			return err
		}
		fin, err := d.Store.FinishDraw(ctx, id, now, len(result), result, s.now())
		if err != nil {
			return err
		}
		for rank, w := range result {
			byID[w.EntryID.String()].Rank = rank + 1
		}
		rec := d.record(fin, entries)
		rec.Entries = nil
		d.announce(rec)
		return nil
	}
	// Fewer units draw a prefix of the same winners (the shuffle's steps do
	// not depend on how many are taken), so the most the draw can take
	// bounds every attempt's winners.
	most := draw.Winners(dr.Seed, ids, dr.Units)
	free := o.Free(sku)
	if sh.State != show.Scheduled && sh.State != show.Live {
		// The show ended or was cancelled in the window: its offers are
		// closed, so the draw draws nobody (and says so, seed and all).
		free = 0
	} else if dr.Attempts > 1 {
		// Units an earlier attempt already held for its winners are theirs
		// again: their holds are found by their keys below.
		free += d.heldBy(ctx, dr, most, byID)
	}
	units := min(dr.Units, free)
	winners := most[:min(units, len(most))]
	// Holds are made many at a time, so that the group commit writes them in
	// few transactions: a thousand in a row would keep the room waiting.
	result := make([]DrawWinner, len(winners))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(holdWorkers)
	for i, w := range winners {
		e := byID[w]
		result[i] = DrawWinner{EntryID: e.ID}
		g.Go(func() error {
			if gctx.Err() != nil {
				return nil // another hold failed: this attempt is over
			}
			// A hold under way finishes even if another fails: half a
			// transaction cancelled is work the next attempt does again.
			r, err := d.hold(ctx, o, sh, dr, e.UserID)
			switch {
			case err == nil:
				result[i].ReservationID = &r.ID
			case errors.Is(err, ErrSoldOut) || errors.Is(err, ErrLimitReached):
				s.log().WarnContext(ctx, "a draw winner could not be given a hold", "draw", id, "entry", e.ID, "err", err)
			default:
				return err // the claim goes stale and another attempt finishes the job
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fin, err := d.Store.FinishDraw(ctx, id, now, units, result, s.now())
	if err != nil {
		return err
	}
	// Every entry left without a hold is a lost intent, counted once: only
	// the attempt whose FinishDraw landed gets here.
	held := 0
	for _, w := range result {
		if w.ReservationID != nil {
			held++
		}
	}
	for range len(entries) - held {
		s.lost(o.ShowID, o.ID, LostNotInDraw)
	}
	s.ForgetShow(o.ShowID)
	s.stockChanged(o)
	for rank, w := range result {
		e := byID[w.EntryID.String()]
		e.Rank, e.ReservationID = rank+1, w.ReservationID
	}
	rec := d.record(fin, entries)
	rec.Entries = nil // the room hears the winners; the list is at the API
	d.announce(rec)
	return nil
}

// heldBy counts units already held for the draw's winners by an earlier,
// unfinished attempt to close it.
func (d *Draws) heldBy(ctx context.Context, dr *Draw, winners []string, byID map[string]*DrawEntry) int {
	n := 0
	for _, w := range winners {
		if _, err := d.Checkout.Ledger.LookupIdempotency(ctx, byID[w].UserID, opDraw, dr.ID.String()); err == nil {
			n++
		}
	}
	return n
}

// hold gives a winner one unit, as a buy-button tap would get it: through
// the gate and the ledger's group commit, bound by the offer's limit, keyed
// by the draw so that a retried close finds the same hold.
func (d *Draws) hold(ctx context.Context, o *Offer, sh *show.Show, dr *Draw, userID uuid.UUID) (*Reservation, error) {
	s := d.Checkout
	key := dr.ID.String()
	hash := requestHash(o.ID.String(), "1")
	// Only a taken-over close can find holds already made (a first attempt
	// racing with one is answered by Reserve's key below).
	if dr.Attempts > 1 {
		if rec, err := s.Ledger.LookupIdempotency(ctx, userID, opDraw, key); err == nil {
			r, _, err := replay[Reservation](rec, hash)
			return r, err
		} else if !errors.Is(err, apperr.E(apperr.NotFound)) {
			return nil, err
		}
	}
	tap := Tap{OfferID: o.ID, UserID: userID, Quantity: 1, Limit: o.PerCustomerLimit}
	v, err := s.take(ctx, o, tap)
	if err != nil {
		return nil, err
	}
	if v != Taken {
		// The gate may be behind the ledger (the offer sat closed for the
		// window); the ledger decides, so read the gate again from it.
		if err := s.loadGate(ctx, o, true); err != nil {
			return nil, err
		}
		if v, err = s.take(ctx, o, tap); err != nil {
			return nil, err
		}
		switch v {
		case Taken:
		case LimitOver:
			return nil, ErrLimitReached
		default:
			return nil, ErrSoldOut
		}
	}
	now := s.now()
	r := &Reservation{ID: newHoldID(), OfferID: o.ID, ShowID: o.ShowID, SKUID: o.SKUID, UserID: userID,
		Quantity: 1, PriceMinor: o.PriceMinor, Currency: o.Currency, State: Held,
		CreatedAt: now, ExpiresAt: now.Add(s.holdTTL(sh)), UpdatedAt: now}
	result, err := json.Marshal(outcome[Reservation]{Result: r})
	if err != nil {
		s.give(ctx, o, userID, 1)
		return nil, err
	}
	k := &Idempotency{UserID: userID, Key: key, Op: opDraw, RequestHash: hash, Result: result, CreatedAt: now}
	// Through the group commit, as a tap's hold: the winners held at once
	// share commits instead of taking one each.
	if err := s.holdWriter().write(ctx, Hold{Reservation: r, Limit: o.PerCustomerLimit, Key: k}); err != nil {
		s.give(ctx, o, userID, 1)
		if errors.Is(err, ErrKeyTaken) {
			// A node whose claim went stale, still at work, held it first.
			rec, lerr := s.Ledger.LookupIdempotency(ctx, userID, opDraw, key)
			if lerr != nil {
				return nil, lerr
			}
			r, _, err := replay[Reservation](rec, hash)
			return r, err
		}
		if errors.Is(err, ErrSoldOut) || errors.Is(err, ErrLimitReached) {
			if lerr := s.loadGate(ctx, o, true); lerr != nil {
				s.log().WarnContext(ctx, "correcting the stock gate", "offer", o.ID, "err", lerr)
			}
		}
		return nil, err
	}
	return r, nil
}

// record is the public view of dr; entries (in Seq order) fill in the entry
// list and the winners once it is drawn.
func (d *Draws) record(dr *Draw, entries []DrawEntry) *DrawRecord {
	rec := &DrawRecord{ID: dr.ID, ShowID: dr.ShowID, OfferID: dr.OfferID, Procedure: draw.Procedure, State: dr.State,
		Units: dr.Units, Commitment: dr.Commitment, OpensAt: dr.OpensAt, ClosesAt: dr.ClosesAt, DrawnAt: dr.DrawnAt,
		EntryCount: dr.Entries, ServerTime: d.Checkout.now(), Giveaway: dr.Giveaway, Eligibility: dr.Eligibility.OrDefault(),
		PrizeCouponID: dr.PrizeCouponID}
	if dr.State != DrawDrawn {
		return rec
	}
	rec.Seed = hex.EncodeToString(dr.Seed)
	rec.Entries = make([]uuid.UUID, len(entries))
	var won []*DrawEntry
	for i := range entries {
		rec.Entries[i] = entries[i].ID
		if entries[i].Rank > 0 {
			won = append(won, &entries[i])
		}
	}
	slices.SortFunc(won, func(a, b *DrawEntry) int { return a.Rank - b.Rank })
	for _, e := range won {
		rec.Winners = append(rec.Winners, e.ID)
		if e.ReservationID == nil && dr.PrizeCouponID == nil {
			rec.Unheld = append(rec.Unheld, e.ID)
		}
	}
	return rec
}

func (d *Draws) announce(rec *DrawRecord) {
	if n, ok := d.Checkout.Notifier.(DrawNotifier); ok {
		n.DrawChanged(rec)
	}
}
