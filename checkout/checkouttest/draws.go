package checkouttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// RunDraws runs the fair-draw suite: open must return a fresh storage mode
// and the same database's draw store.
func RunDraws(t *testing.T, open func(t *testing.T) (Env, checkout.DrawStore)) {
	world := func(t *testing.T, units, limit int) (*World, *checkout.Draws) {
		env, ds := open(t)
		w := setup(t, env, units, limit)
		w.Svc.DrawStore = ds
		if f, ok := ds.(checkout.Follows); ok {
			w.Svc.Follows = f
		}
		return w, &checkout.Draws{Checkout: w.Svc, Store: ds, Lease: 30 * time.Second}
	}
	t.Run("DrawHoldsUnits", func(t *testing.T) { testDrawHoldsUnits(t, world) })
	t.Run("FewerEntriesThanUnits", func(t *testing.T) { testFewerEntries(t, world) })
	t.Run("MembersOnly", func(t *testing.T) { testDrawMembers(t, world) })
	t.Run("Refusals", func(t *testing.T) { testDrawRefusals(t, world) })
	t.Run("RestartMidWindow", func(t *testing.T) { testDrawRestart(t, world) })
	t.Run("CloseClaimedOnce", func(t *testing.T) { testDrawClaimedOnce(t, world) })
	t.Run("StaleClaimTakenOver", func(t *testing.T) { testDrawTakeover(t, world) })
	t.Run("ShowEndedInWindow", func(t *testing.T) { testDrawShowEnded(t, world) })
	t.Run("NodeDiesMidClose", func(t *testing.T) { testDrawDiesMidClose(t, world) })
	runGiveaways(t, world)
}

type drawWorld func(t *testing.T, units, limit int) (*World, *checkout.Draws)

// node is another node's draw service over the same database, with its
// own ledger handle and gate.
func (w *World) node(d *checkout.Draws, ledger checkout.Ledger, gate checkout.Gate) *checkout.Draws {
	svc := &checkout.Service{Catalog: w.env.Stores.Catalog, Ledger: ledger, Gate: gate, Shows: w.env.Stores.Shows,
		Payments: w.Pay, Now: w.now, DrawStore: d.Store}
	return &checkout.Draws{Checkout: svc, Store: d.Store}
}

// openEntered opens a draw on the world's offer for seconds and enters n
// new accounts, one entry each.
func (w *World) openEntered(t *testing.T, d *checkout.Draws, seconds, n int) (*checkout.DrawRecord, map[uuid.UUID]uuid.UUID) {
	t.Helper()
	rec, err := d.Open(context.Background(), w.host(), w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: seconds})
	must(t, err)
	return rec, enterAll(t, d, w.Show.ID, rec.ID, w.Users(n), 1)
}

func (w *World) host() *account.User {
	return &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{w.Brand.ID}}
}

// enterAll enters every user concurrently, each several times at once: one
// entry per account must come of it.
func enterAll(t *testing.T, d *checkout.Draws, showID, drawID uuid.UUID, users []*account.User, times int) map[uuid.UUID]uuid.UUID {
	t.Helper()
	var mu sync.Mutex
	entryOf := map[uuid.UUID]uuid.UUID{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, u := range users {
		for range times {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				e, err := d.Enter(context.Background(), u, showID, drawID)
				if err != nil {
					t.Errorf("Enter: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if prev, ok := entryOf[u.ID]; ok && prev != e.ID {
					t.Errorf("account %s has two entries: %s and %s", u.ID, prev, e.ID)
				}
				entryOf[u.ID] = e.ID
			}()
		}
	}
	wg.Wait()
	return entryOf
}

// checkDrawn checks a drawn draw: the record verifies, winners are
// min(units, entries), each winner holds exactly one unit of the offer
// (through the ledger) and nobody else holds any.
func checkDrawn(t *testing.T, w *World, d *checkout.Draws, drawID uuid.UUID, entryOf map[uuid.UUID]uuid.UUID, units int) *checkout.DrawRecord {
	t.Helper()
	ctx := context.Background()
	rec, err := d.Record(ctx, nil, w.Show.ID, drawID)
	must(t, err)
	if rec.State != checkout.DrawDrawn {
		t.Fatalf("draw state %s, want drawn", rec.State)
	}
	if err := rec.Verify(); err != nil {
		t.Fatalf("the published record does not verify: %v", err)
	}
	want := min(units, len(entryOf))
	if len(rec.Winners) != want || rec.Units != units || len(rec.Unheld) != 0 {
		t.Fatalf("%d winners (%d unheld) of %d units and %d entries, want %d", len(rec.Winners), len(rec.Unheld), rec.Units, len(entryOf), want)
	}
	if len(rec.Entries) != len(entryOf) || rec.EntryCount != len(entryOf) {
		t.Fatalf("record lists %d entries (count %d), want %d", len(rec.Entries), rec.EntryCount, len(entryOf))
	}
	won := map[uuid.UUID]bool{}
	for _, e := range rec.Winners {
		won[e] = true
	}
	for userID, entryID := range entryOf {
		n, err := w.env.Stores.Ledger.CustomerUnits(ctx, w.Offer.ID, userID)
		must(t, err)
		if (won[entryID] && n != 1) || (!won[entryID] && n != 0) {
			t.Fatalf("entrant (won %v) holds %d units", won[entryID], n)
		}
		if won[entryID] {
			e, err := d.Store.EntryOf(ctx, drawID, userID)
			must(t, err)
			if e.Rank == 0 || e.ReservationID == nil {
				t.Fatalf("winner's entry %+v has no rank or hold", e)
			}
			r, err := w.env.Stores.Ledger.ReservationByID(ctx, *e.ReservationID)
			must(t, err)
			if r.UserID != userID || r.State != checkout.Held || r.Quantity != 1 {
				t.Fatalf("winner's hold %+v", r)
			}
		}
	}
	w.Check(want, 0)
	return rec
}

// testDrawHoldsUnits: 40 accounts enter 3 times each, concurrently, for 7
// units; the close draws 7 winners, each held one unit; the record verifies.
// intents counts lost intents by cause.
type intents struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *intents) LostIntent(_, _ uuid.UUID, cause string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[cause]++
}

func (c *intents) count(cause string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[cause]
}

func testDrawHoldsUnits(t *testing.T, world drawWorld) {
	w, d := world(t, 7, 1)
	lost := &intents{}
	w.Svc.Intents = lost
	ctx := context.Background()
	rec, err := d.Open(ctx, w.host(), w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60})
	must(t, err)
	if rec.State != checkout.DrawOpen || rec.Units != 7 || len(rec.Commitment) != 64 || rec.Seed != "" {
		t.Fatalf("opened draw %+v", rec)
	}
	// First-come sales stop while the draw runs.
	users := w.Users(40)
	if _, _, err := w.Svc.Reserve(ctx, users[0], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1}); !errors.Is(err, checkout.ErrDropClosed) {
		t.Fatalf("a tap during a draw: %v", err)
	}
	if _, err := w.Svc.SetDrop(ctx, w.host(), w.Offer.ID, checkout.DropOpen, 60); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("a first-come drop opened during a draw: %v", err)
	}
	entryOf := enterAll(t, d, w.Show.ID, rec.ID, users, 3)
	if len(entryOf) != 40 {
		t.Fatalf("%d entries", len(entryOf))
	}
	// Nothing closes before the window ends.
	must(t, d.Sweep(ctx))
	if r, _ := d.Record(ctx, nil, w.Show.ID, rec.ID); r.State != checkout.DrawOpen || r.EntryCount != 40 {
		t.Fatalf("before the close: %+v", r)
	}
	w.Advance(61 * time.Second)
	if _, err := d.Enter(ctx, w.Users(1)[0], w.Show.ID, rec.ID); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("an entry after the window: %v", err)
	}
	must(t, d.Sweep(ctx))
	got := checkDrawn(t, w, d, rec.ID, entryOf, 7)
	if got.Commitment != rec.Commitment {
		t.Fatal("the commitment changed at close")
	}
	// A second sweep changes nothing.
	must(t, d.Sweep(ctx))
	checkDrawn(t, w, d, rec.ID, entryOf, 7)
	// The data bank hears of the tap refused during the draw and of every
	// entry left without a hold, once.
	if got, want := lost.count(checkout.LostNotInDraw), 40-7; got != want || lost.count(checkout.LostDropClosed) != 1 {
		t.Fatalf("lost intents: not in the draw %d (want %d), drop closed %d (want 1)", got, want, lost.count(checkout.LostDropClosed))
	}
	// The listing carries the winners, in draw order, without the entries.
	list, err := d.List(ctx, nil, w.Show.ID)
	must(t, err)
	if len(list) != 1 || list[0].Entries != nil || fmt.Sprint(list[0].Winners) != fmt.Sprint(got.Winners) || list[0].Seed != got.Seed {
		t.Fatalf("listed %+v, want the winners %v", list, got.Winners)
	}
	// Once drawn, the offer may sell first-come again.
	if _, err := w.Svc.SetDrop(ctx, w.host(), w.Offer.ID, checkout.DropOpen, 60); err != nil {
		t.Fatalf("a first-come drop after the draw: %v", err)
	}
}

// testFewerEntries: 3 entrants for 5 units all win; the host closes early.
func testFewerEntries(t *testing.T, world drawWorld) {
	w, d := world(t, 5, 0)
	ctx := context.Background()
	host := w.host()
	rec, err := d.Open(ctx, host, w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 600})
	must(t, err)
	entryOf := enterAll(t, d, w.Show.ID, rec.ID, w.Users(3), 1)
	if _, err := d.Close(ctx, w.Users(1)[0], w.Show.ID, rec.ID); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a viewer closing the draw: %v", err)
	}
	if _, err := d.Close(ctx, host, w.Show.ID, rec.ID); err != nil {
		t.Fatal(err)
	}
	checkDrawn(t, w, d, rec.ID, entryOf, 5)
	// An empty draw draws nobody.
	w2, d2 := world(t, 5, 0)
	rec2, err := d2.Open(ctx, w2.host(), w2.Show.ID, checkout.OpenDrawRequest{OfferID: w2.Offer.ID, Seconds: 10})
	must(t, err)
	w2.Advance(11 * time.Second)
	must(t, d2.Sweep(ctx))
	checkDrawn(t, w2, d2, rec2.ID, nil, 5)
}

// testDrawMembers: a members-only show's draw takes members only, and is
// invisible to the others.
func testDrawMembers(t *testing.T, world drawWorld) {
	w, d := world(t, 2, 0)
	ctx := context.Background()
	now := w.now()
	sh := &show.Show{ID: uuid.New(), BrandID: w.Brand.ID, Title: "Members' draw", Kind: show.KindShow, Visibility: show.Members,
		State: show.Live, StartsAt: now, EndsAt: now.Add(time.Hour), TimeZone: "UTC", HostIDs: []uuid.UUID{}, CreatedAt: now, UpdatedAt: now}
	must(t, w.env.Stores.Shows.CreateShow(ctx, sh))
	o := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: w.SKU.ID, PriceMinor: 1000, Currency: "EUR", Allocated: 2, CreatedAt: now}
	must(t, w.env.Stores.Catalog.CreateOffer(ctx, o))
	rec, err := d.Open(ctx, w.host(), sh.ID, checkout.OpenDrawRequest{OfferID: o.ID, Seconds: 30})
	must(t, err)
	viewer := w.Users(1)[0]
	if _, err := d.Enter(ctx, viewer, sh.ID, rec.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("a non-member entering a members' draw: %v", err)
	}
	if _, err := d.Record(ctx, nil, sh.ID, rec.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("an anonymous reader of a members' draw: %v", err)
	}
	member := w.Users(1)[0]
	must(t, w.env.Stores.Accounts.SetRoles(ctx, member.ID, []account.Role{account.RoleViewer, account.RoleMember}, nil))
	member.Roles = append(member.Roles, account.RoleMember)
	if _, err := d.Enter(ctx, member, sh.ID, rec.ID); err != nil {
		t.Fatalf("a member entering: %v", err)
	}
	if _, err := d.Enter(ctx, nil, sh.ID, rec.ID); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Fatalf("entering signed out: %v", err)
	}
}

// testDrawRefusals: bad opens, a second draw on one offer, an entrant over
// the per-customer limit, a draw of another show.
func testDrawRefusals(t *testing.T, world drawWorld) {
	w, d := world(t, 4, 1)
	ctx := context.Background()
	host := w.host()
	users := w.Users(2)
	// users[0] bought first-come before the draw: at its limit of one.
	_, _, err := w.Svc.Reserve(ctx, users[0], checkout.ReserveRequest{OfferID: w.Offer.ID, Quantity: 1})
	must(t, err)
	for _, bad := range []checkout.OpenDrawRequest{
		{OfferID: w.Offer.ID, Seconds: 1},
		{OfferID: w.Offer.ID, Seconds: 100_000},
		{OfferID: w.Offer.ID, Seconds: 60, Units: -1},
		{OfferID: w.Offer.ID, Seconds: 60, Units: 4}, // only 3 are free
		{OfferID: uuid.New(), Seconds: 60},
	} {
		if _, err := d.Open(ctx, host, w.Show.ID, bad); err == nil {
			t.Fatalf("Open(%+v) was accepted", bad)
		}
	}
	if _, err := d.Open(ctx, users[1], w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60}); apperr.CodeOf(err) != apperr.Forbidden {
		t.Fatalf("a viewer opening a draw: %v", err)
	}
	rec, err := d.Open(ctx, host, w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60, Units: 2})
	must(t, err)
	if _, err := d.Open(ctx, host, w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60}); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("a second draw on the offer: %v", err)
	}
	if _, err := d.Enter(ctx, users[0], w.Show.ID, rec.ID); !errors.Is(err, checkout.ErrLimitReached) {
		t.Fatalf("an entrant at the limit: %v", err)
	}
	if _, err := d.Enter(ctx, users[1], uuid.New(), rec.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("entering through another show: %v", err)
	}
	if _, err := d.Entry(ctx, users[1], w.Show.ID, rec.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("the entry of an account that did not enter: %v", err)
	}
	e, err := d.Enter(ctx, users[1], w.Show.ID, rec.ID)
	must(t, err)
	if got, err := d.Entry(ctx, users[1], w.Show.ID, rec.ID); err != nil || got.ID != e.ID {
		t.Fatalf("Entry = %+v, %v", got, err)
	}
}

// testDrawRestart: the node that opened the draw is gone; a new service
// over the same database (and a gate that remembers nothing) takes the
// rest of the entries and closes it.
func testDrawRestart(t *testing.T, world drawWorld) {
	w, d := world(t, 5, 1)
	ctx := context.Background()
	rec, err := d.Open(ctx, w.host(), w.Show.ID, checkout.OpenDrawRequest{OfferID: w.Offer.ID, Seconds: 60})
	must(t, err)
	users := w.Users(20)
	entryOf := enterAll(t, d, w.Show.ID, rec.ID, users[:10], 1)

	gate := w.env.Gate
	if w.env.NewGate != nil {
		gate = w.env.NewGate()
	}
	d2 := w.node(d, w.env.Stores.Ledger, gate)
	for u, e := range enterAll(t, d2, w.Show.ID, rec.ID, users, 1) {
		if prev, ok := entryOf[u]; ok && prev != e {
			t.Fatalf("an entry made before the restart changed: %s then %s", prev, e)
		}
		entryOf[u] = e
	}
	w.Advance(time.Minute)
	must(t, d2.Sweep(ctx))
	checkDrawn(t, w, d2, rec.ID, entryOf, 5)
}

// testDrawClaimedOnce: three nodes sweep the due draw at the same time,
// again and again; it is drawn once, and each winner holds one unit.
func testDrawClaimedOnce(t *testing.T, world drawWorld) {
	w, d := world(t, 6, 0)
	ctx := context.Background()
	rec, entryOf := w.openEntered(t, d, 30, 25)
	w.Advance(31 * time.Second)
	nodes := []*checkout.Draws{d}
	for range 2 {
		nodes = append(nodes, w.node(d, w.env.Stores.Ledger, w.env.Gate))
	}
	var wg sync.WaitGroup
	for _, n := range nodes {
		for range 3 {
			wg.Go(func() {
				if err := n.Sweep(ctx); err != nil {
					t.Errorf("Sweep: %v", err)
				}
			})
		}
	}
	wg.Wait()
	// No-limit offer: a winner held twice would show as 2 units.
	checkDrawn(t, w, d, rec.ID, entryOf, 6)
}

// testDrawTakeover: a node claims the close and dies; before the lease
// runs out nobody else touches it, after it another node draws it.
func testDrawTakeover(t *testing.T, world drawWorld) {
	w, d := world(t, 3, 0)
	ctx := context.Background()
	rec, entryOf := w.openEntered(t, d, 30, 9)
	w.Advance(31 * time.Second)
	at := w.now()
	if _, claimed, err := d.Store.ClaimDraw(ctx, rec.ID, at, at.Add(-30*time.Second)); err != nil || !claimed {
		t.Fatalf("the first claim: %v %v", claimed, err)
	}
	w.Advance(10 * time.Second)
	must(t, d.Sweep(ctx))
	if r, _ := d.Record(ctx, nil, w.Show.ID, rec.ID); r.State != checkout.DrawClosing {
		t.Fatalf("a live claim was taken over: %s", r.State)
	}
	// The dead node's late finish is refused once another has taken over.
	w.Advance(30 * time.Second)
	must(t, d.Sweep(ctx))
	if _, err := d.Store.FinishDraw(ctx, rec.ID, at, 3, nil, w.now()); apperr.CodeOf(err) != apperr.Conflict {
		t.Fatalf("a stale claim finished: %v", err)
	}
	checkDrawn(t, w, d, rec.ID, entryOf, 3)
}

// testDrawShowEnded: the show ends during the window; its offers are
// closed, so the draw closes with nobody drawn and nothing held.
func testDrawShowEnded(t *testing.T, world drawWorld) {
	w, d := world(t, 3, 0)
	ctx := context.Background()
	rec, _ := w.openEntered(t, d, 30, 4)
	_, err := w.env.Stores.Shows.Transition(ctx, w.Show.ID, show.Ended, w.now())
	must(t, err)
	w.Advance(31 * time.Second)
	must(t, d.Sweep(ctx))
	got, err := d.Record(ctx, nil, w.Show.ID, rec.ID)
	must(t, err)
	if got.State != checkout.DrawDrawn || len(got.Winners) != 0 || got.Units != 0 || got.EntryCount != 4 {
		t.Fatalf("a draw of an ended show: %+v", got)
	}
	if err := got.Verify(); err != nil {
		t.Fatal(err)
	}
	w.Check(0, 0)
}

// failingLedger is a ledger that stops taking holds after a number of them:
// the node closing a draw dies half-way through its winners.
type failingLedger struct {
	checkout.Ledger
	left atomic.Int64
}

func (l *failingLedger) Reserve(ctx context.Context, r *checkout.Reservation, limit int, key *checkout.Idempotency) error {
	if l.left.Add(-1) < 0 {
		return errors.New("the database went away")
	}
	return l.Ledger.Reserve(ctx, r, limit, key)
}

// ReserveBatch writes the holds the ledger still takes and fails the rest,
// each with its own error, as if each had been its own transaction.
func (l *failingLedger) ReserveBatch(ctx context.Context, holds []checkout.Hold) ([]error, error) {
	n := 0
	for n < len(holds) && l.left.Add(-1) >= 0 {
		n++
	}
	errs := make([]error, len(holds))
	if n > 0 {
		written, err := l.Ledger.ReserveBatch(ctx, holds[:n])
		if err != nil {
			return nil, err
		}
		copy(errs, written)
	}
	for i := n; i < len(holds); i++ {
		errs[i] = errors.New("the database went away")
	}
	return errs, nil
}

// testDrawDiesMidClose: the closing node holds 3 of 8 winners' units and
// fails; after the lease another node finishes: the same winners, the
// first holds kept, one hold each, 8 in all.
func testDrawDiesMidClose(t *testing.T, world drawWorld) {
	w, d := world(t, 8, 0)
	ctx := context.Background()
	rec, entryOf := w.openEntered(t, d, 30, 20)
	w.Advance(31 * time.Second)

	dying := &failingLedger{Ledger: w.env.Stores.Ledger}
	dying.left.Store(3)
	if err := w.node(d, dying, w.env.Gate).Sweep(ctx); err == nil {
		t.Fatal("the dying node's close did not fail")
	}
	if r, _ := d.Record(ctx, nil, w.Show.ID, rec.ID); r.State != checkout.DrawClosing {
		t.Fatalf("after the failed close: %s", r.State)
	}
	w.Check(3, 0)
	first := map[uuid.UUID]uuid.UUID{} // user -> the hold made before the failure
	for u := range entryOf {
		if rs, err := w.env.Stores.Ledger.ActiveReservations(ctx, u, w.Show.ID); err == nil && len(rs) == 1 {
			first[u] = rs[0].ID
		}
	}
	if len(first) != 3 {
		t.Fatalf("%d holds before the failure, want 3", len(first))
	}
	w.Advance(31 * time.Second)
	must(t, d.Sweep(ctx))
	checkDrawn(t, w, d, rec.ID, entryOf, 8)
	for u, hold := range first {
		e, err := d.Store.EntryOf(ctx, rec.ID, u)
		must(t, err)
		if e.ReservationID == nil || *e.ReservationID != hold {
			t.Fatalf("a winner held before the failure got another hold: %v, was %s", e.ReservationID, hold)
		}
	}
}
