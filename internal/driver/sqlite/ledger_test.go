package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
	"github.com/pavilion-live/pavilion/internal/show"
)

// drop is a brand with a show, a SKU with onHand units and an offer of all
// of them, and users customers.
type drop struct {
	db    *sqlite.DB
	brand uuid.UUID
	offer *checkout.Offer
	users []uuid.UUID
}

func newDrop(tb testing.TB, db *sqlite.DB, onHand, users int) *drop {
	tb.Helper()
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Microsecond)
	b := &brand.Brand{ID: uuid.New(), Slug: "drop-" + uuid.NewString()[:8], Name: "Drop", CreatedAt: at, UpdatedAt: at}
	p := &checkout.Product{ID: uuid.New(), BrandID: b.ID, Name: "Bag", CreatedAt: at, SKUs: []checkout.SKU{
		{ID: uuid.New(), Code: "BAG-" + uuid.NewString()[:8], PriceMinor: 100, Currency: "EUR", OnHand: onHand, UpdatedAt: at},
	}}
	sh := &show.Show{ID: uuid.New(), BrandID: b.ID, Title: "Drop", Kind: show.KindShow, Visibility: show.Public,
		State: show.Live, StartsAt: at, EndsAt: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at}
	o := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: p.SKUs[0].ID, PriceMinor: 90, Currency: "EUR",
		Allocated: onHand, CreatedAt: at}
	for _, err := range []error{db.CreateBrand(ctx, b), db.CreateProduct(ctx, p), db.CreateShow(ctx, sh), db.CreateOffer(ctx, o)} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	d := &drop{db: db, brand: b.ID, offer: o}
	for i := range users {
		u := &account.User{ID: uuid.New(), Email: fmt.Sprintf("u%d-%s@example.com", i, uuid.NewString()[:8]), CreatedAt: at}
		if err := db.CreateUser(ctx, u, "h"); err != nil {
			tb.Fatal(err)
		}
		d.users = append(d.users, u.ID)
	}
	return d
}

func (d *drop) res(user uuid.UUID, qty int, ttl time.Duration) *checkout.Reservation {
	at := time.Now().UTC().Truncate(time.Microsecond)
	return &checkout.Reservation{ID: uuid.New(), OfferID: d.offer.ID, ShowID: d.offer.ShowID, SKUID: d.offer.SKUID,
		UserID: user, Quantity: qty, PriceMinor: d.offer.PriceMinor, Currency: d.offer.Currency, State: checkout.Held,
		CreatedAt: at, ExpiresAt: at.Add(ttl), UpdatedAt: at}
}

func (d *drop) order(r *checkout.Reservation) *checkout.Order {
	at := time.Now().UTC().Truncate(time.Microsecond)
	return &checkout.Order{ID: uuid.New(), UserID: r.UserID, ReservationID: r.ID, OfferID: r.OfferID, ShowID: r.ShowID,
		SKUID: r.SKUID, BrandID: d.brand, Quantity: r.Quantity, UnitPriceMinor: r.PriceMinor,
		TotalMinor: r.PriceMinor * int64(r.Quantity), Currency: r.Currency, State: checkout.Pending,
		CreatedAt: at, UpdatedAt: at}
}

// TestLedgerMessages checks the driver's own messages and edge cases, which
// the contract only checks by code or not at all.
func TestLedgerMessages(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "pavilion.db"))
	d := newDrop(t, db, 3, 2)
	at := time.Now().UTC()
	want := func(err error, code apperr.Code, msg string) {
		t.Helper()
		if err == nil || apperr.CodeOf(err) != code || apperr.MessageOf(err) != msg {
			t.Fatalf("got %v, want %s %q", err, code, msg)
		}
	}

	// The sentinels come back themselves, not wrapped.
	if err := db.Reserve(ctx, d.res(d.users[0], 4, time.Minute), 0, nil); err != checkout.ErrSoldOut {
		t.Fatalf("Reserve over the allocation = %v, want checkout.ErrSoldOut itself", err)
	}
	r := d.res(d.users[0], 2, time.Minute)
	if err := db.Reserve(ctx, r, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Reserve(ctx, d.res(d.users[0], 1, time.Minute), 2, nil); err != checkout.ErrLimitReached {
		t.Fatalf("Reserve over the limit = %v, want checkout.ErrLimitReached itself", err)
	}
	ghost := d.res(d.users[0], 1, time.Minute)
	ghost.OfferID = uuid.New()
	want(db.Reserve(ctx, ghost, 0, nil), apperr.NotFound, "offer not found")
	want(db.Reserve(ctx, d.res(d.users[0], 0, time.Minute), 0, nil), apperr.Invalid, "quantity must be positive")
	stranger := d.res(uuid.New(), 1, time.Minute)
	want(db.Reserve(ctx, stranger, 0, nil), apperr.NotFound, "user not found")
	mismatch := d.res(d.users[0], 1, time.Minute)
	mismatch.SKUID = uuid.New()
	want(db.Reserve(ctx, mismatch, 0, nil), apperr.Invalid, "the reservation's show and SKU are not its offer's")
	// None of the refusals kept a unit.
	if o, err := db.OfferByID(ctx, d.offer.ID); err != nil || o.Held != 2 {
		t.Fatalf("offer after refusals = %+v, %v; want 2 held", o, err)
	}

	_, err := db.Release(ctx, r.ID, checkout.Ordered, at)
	want(err, apperr.Invalid, "a reservation is released or expired, not ordered")

	// An order that does not buy what its reservation holds.
	bad := d.order(r)
	bad.Quantity = 1
	want(db.BeginOrder(ctx, bad, at), apperr.Invalid, "the order does not buy what its reservation holds")
	want(db.BeginOrder(ctx, d.order(r), r.ExpiresAt), apperr.Gone, "reservation has expired")
	o := d.order(r)
	if err := db.BeginOrder(ctx, o, at); err != nil {
		t.Fatal(err)
	}
	_, err = db.Release(ctx, r.ID, checkout.Released, at)
	want(err, apperr.Gone, "reservation is no longer held")
	_, err = db.SetOrderState(ctx, o.ID, checkout.Fulfilled, false, at)
	want(err, apperr.Conflict, "cannot move a pending order to fulfilled")
	if _, err := db.CompletePayment(ctx, o.ID, "ch_1", at); err != nil {
		t.Fatal(err)
	}
	_, err = db.CompletePayment(ctx, o.ID, "ch_2", at)
	want(err, apperr.Conflict, "order is paid, not pending")
	want(db.AbandonOrder(ctx, o.ID, at), apperr.Conflict, "order is paid, not pending")
	want(db.AbandonOrder(ctx, uuid.New(), at), apperr.NotFound, "order not found")
	_, err = db.CompletePayment(ctx, uuid.New(), "ch_3", at)
	want(err, apperr.NotFound, "order not found")

	// Fulfilled, then refunded with the goods back: the units return once.
	if _, err := db.SetOrderState(ctx, o.ID, checkout.Fulfilled, true, at); err != nil {
		t.Fatal(err)
	}
	got, err := db.SetOrderState(ctx, o.ID, checkout.Refunded, true, at)
	if err != nil || got.State != checkout.Refunded || got.PaymentRef != "ch_1" {
		t.Fatalf("refund = %+v, %v", got, err)
	}
	if o, err := db.OfferByID(ctx, d.offer.ID); err != nil || o.Held != 0 || o.Sold != 0 {
		t.Fatalf("offer after the refund = %+v, %v", o, err)
	}
	_, err = db.SetOrderState(ctx, o.ID, checkout.Refunded, true, at)
	want(err, apperr.Conflict, "cannot move a refunded order to refunded")

	// Idempotency keys.
	_, err = db.LookupIdempotency(ctx, d.users[0], "reserve", "nope")
	want(err, apperr.NotFound, "idempotency key not found")
	want(db.FinishIdempotency(ctx, d.users[0], "reserve", "nope", []byte(`{}`)), apperr.NotFound, "idempotency key not found")
	if err := db.DropIdempotency(ctx, d.users[0], "reserve", "nope"); err != nil {
		t.Fatalf("dropping a missing key: %v", err)
	}
	rec := &checkout.Idempotency{UserID: d.users[1], Op: "order", Key: "k", RequestHash: "h", CreatedAt: at}
	if _, fresh, err := db.ClaimIdempotency(ctx, rec); err != nil || !fresh {
		t.Fatalf("claim: %v, %v", fresh, err)
	}
	look, err := db.LookupIdempotency(ctx, d.users[1], "order", "k")
	if err != nil || look.RequestHash != "h" || look.Result != nil || !look.CreatedAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("lookup = %+v, %v", look, err)
	}
	_, _, err = db.ClaimIdempotency(ctx, &checkout.Idempotency{UserID: uuid.New(), Op: "order", Key: "k", RequestHash: "h", CreatedAt: at})
	want(err, apperr.NotFound, "user not found")
}

// TestExpireDueOrder checks that a sweep with a limit takes the earliest
// holds and returns them in expiry order.
func TestExpireDueOrder(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "pavilion.db"))
	d := newDrop(t, db, 10, 1)
	var ids []uuid.UUID
	for i := 5; i > 0; i-- {
		r := d.res(d.users[0], 1, time.Duration(i)*time.Second)
		if err := db.Reserve(ctx, r, 0, nil); err != nil {
			t.Fatal(err)
		}
		ids = append([]uuid.UUID{r.ID}, ids...)
	}
	at := time.Now().UTC().Add(time.Minute).Truncate(time.Microsecond)
	got, err := db.ExpireDue(ctx, at, 3)
	if err != nil || len(got) != 3 {
		t.Fatalf("ExpireDue = %+v, %v", got, err)
	}
	for i, r := range got {
		if r.ID != ids[i] || r.State != checkout.Expired || !r.UpdatedAt.Equal(at) || r.UpdatedAt.Location() != time.UTC {
			t.Fatalf("expired #%d = %+v, want %s expired at %s", i, r, ids[i], at)
		}
	}
	if o, err := db.OfferByID(ctx, d.offer.ID); err != nil || o.Held != 2 {
		t.Fatalf("offer after the sweep = %+v, %v", o, err)
	}
}

// BenchmarkReserve measures one Reserve transaction on a file: the
// conditional updates, the limit check, the insert and a durable commit
// (WAL, synchronous=FULL).
func BenchmarkReserve(b *testing.B) {
	for _, bc := range []struct {
		name     string
		limit    int
		parallel bool
	}{
		{"NoLimit", 0, false},
		{"Limit", 1 << 20, false},
		{"LimitParallel", 1 << 20, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			db := open(b, filepath.Join(b.TempDir(), "pavilion.db"))
			d := newDrop(b, db, 1<<30, 100)
			var n atomic.Int64
			reserve := func() {
				r := d.res(d.users[n.Add(1)%int64(len(d.users))], 1, time.Minute)
				if err := db.Reserve(ctx, r, bc.limit, nil); err != nil {
					b.Error(err) // not Fatal: RunParallel's goroutines may not stop the benchmark
				}
			}
			b.ResetTimer()
			if bc.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						reserve()
					}
				})
				return
			}
			for b.Loop() {
				reserve()
			}
		})
	}
}
