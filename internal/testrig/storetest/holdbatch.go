package storetest

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// testReserveBatch: a batch of holds is decided in order as if each came
// alone (limits, stock, keys already stored or twice in the batch, missing
// customers); a refused hold keeps no key; a batch that fails part-way
// (here: a hold whose ID is already taken, found at the insert, after the
// counters moved) writes nothing at all.
func testReserveBatch(t *testing.T, f *fixture) {
	ctx := context.Background()
	o := f.offerWith(5, 2)
	key := func(user uuid.UUID, k string) *checkout.Idempotency {
		return &checkout.Idempotency{UserID: user, Op: "reserve", Key: k, RequestHash: "h", Result: []byte(`{}`), CreatedAt: now()}
	}
	u0, u1, u2 := f.users[0], f.users[1], f.users[2]
	first := f.res(o, u0, 1, time.Hour)
	holds := []checkout.Hold{
		{Reservation: first, Limit: 2, Key: key(u0, "k1")},
		{Reservation: f.res(o, u0, 1, time.Hour), Limit: 2, Key: key(u0, "k2")},
		{Reservation: f.res(o, u0, 1, time.Hour), Limit: 2, Key: key(u0, "k3")}, // over the limit
		{Reservation: f.res(o, u1, 2, time.Hour), Limit: 2, Key: key(u1, "k1")},
		{Reservation: f.res(o, u1, 1, time.Hour), Limit: 0, Key: key(u1, "k1")}, // the same key again
		{Reservation: f.res(o, u2, 2, time.Hour)},                               // 1 unit left
		{Reservation: f.res(o, u2, 1, time.Hour)},
		{Reservation: f.res(o, uuid.New(), 1, time.Hour)}, // no such customer
	}
	errs, err := f.Ledger.ReserveBatch(ctx, holds)
	must(t, err)
	want := []error{nil, nil, checkout.ErrLimitReached, nil, checkout.ErrKeyTaken, checkout.ErrSoldOut, nil, nil}
	for i := range holds {
		if i == len(holds)-1 {
			wantCode(t, errs[i], apperr.NotFound)
			continue
		}
		if want[i] == nil && errs[i] != nil || want[i] != nil && errs[i] != want[i] {
			t.Fatalf("hold %d: %v, want %v", i, errs[i], want[i])
		}
	}
	offerHeld := func(o *checkout.Offer) (int, int) {
		t.Helper()
		got, err := f.Catalog.OfferByID(ctx, o.ID)
		must(t, err)
		s, err := f.Catalog.SKUByID(ctx, o.SKUID)
		must(t, err)
		return got.Held, s.Held
	}
	if oh, sh := offerHeld(o); oh != 5 || sh != 5 {
		t.Fatalf("held after the batch: offer %d, SKU %d; want 5", oh, sh)
	}
	for _, k := range []struct {
		user   uuid.UUID
		key    string
		stored bool
	}{{u0, "k1", true}, {u0, "k2", true}, {u0, "k3", false}, {u1, "k1", true}} {
		_, err := f.Ledger.LookupIdempotency(ctx, k.user, "reserve", k.key)
		if k.stored {
			must(t, err)
		} else {
			wantCode(t, err, apperr.NotFound)
		}
	}
	got, err := f.Ledger.ReservationByID(ctx, first.ID)
	must(t, err)
	if got.State != checkout.Held || got.Quantity != 1 || got.UserID != u0 {
		t.Fatalf("first hold stored as %+v", got)
	}
	// A retried key in a later batch: taken.
	errs, err = f.Ledger.ReserveBatch(ctx, []checkout.Hold{{Reservation: f.res(o, u0, 1, time.Hour), Limit: 2, Key: key(u0, "k1")}})
	must(t, err)
	wantIs(t, errs[0], checkout.ErrKeyTaken)

	// A batch that fails at its last statement leaves nothing behind.
	o2 := f.offerWith(10, 0)
	dup := f.res(o2, u2, 1, time.Hour)
	dup.ID = first.ID
	_, err = f.Ledger.ReserveBatch(ctx, []checkout.Hold{
		{Reservation: f.res(o2, u2, 1, time.Hour), Key: key(u2, "kA")},
		{Reservation: dup, Key: key(u2, "kB")},
	})
	if err == nil {
		t.Fatal("a batch with a taken reservation ID was written")
	}
	if oh, sh := offerHeld(o2); oh != 0 || sh != 0 {
		t.Fatalf("held after a failed batch: offer %d, SKU %d; want 0", oh, sh)
	}
	for _, k := range []string{"kA", "kB"} {
		_, err := f.Ledger.LookupIdempotency(ctx, u2, "reserve", k)
		wantCode(t, err, apperr.NotFound)
	}
	if n, err := f.Ledger.CustomerUnits(ctx, o2.ID, u2); err != nil || n != 0 {
		t.Fatalf("customer units after a failed batch: %d %v", n, err)
	}
}

// testReserveLargeBatch: a batch of more holds than a driver may write in
// one statement, of an odd number, with refused ones in between (a missing
// customer, a customer past the limit), writes every accepted hold and key
// as it was given and nothing of the refused ones.
func testReserveLargeBatch(t *testing.T, f *fixture) {
	ctx := context.Background()
	const n, limit = 151, 30
	o := f.offerWith(n, limit)
	holds := make([]checkout.Hold, n)
	missing := errors.New("no such customer") // a NotFound
	want := make([]error, n)
	units := map[uuid.UUID]int{}
	for i := range holds {
		user := f.users[i%len(f.users)]
		if i%7 == 3 {
			user = uuid.New() // no such customer
		}
		r := f.res(o, user, 1, time.Hour)
		holds[i] = checkout.Hold{Reservation: r, Limit: limit, Key: &checkout.Idempotency{UserID: user, Op: "reserve",
			Key: "big-" + strconv.Itoa(i), RequestHash: "h" + strconv.Itoa(i), Result: []byte(`{"i":` + strconv.Itoa(i) + `}`), CreatedAt: now()}}
		switch {
		case i%7 == 3:
			want[i] = missing
		case units[user]+1 > limit:
			want[i] = checkout.ErrLimitReached
		default:
			units[user]++
		}
	}
	errs, err := f.Ledger.ReserveBatch(ctx, holds)
	must(t, err)
	held := 0
	for i, h := range holds {
		switch {
		case want[i] == nil && errs[i] != nil:
			t.Fatalf("hold %d: %v, want it written", i, errs[i])
		case want[i] == checkout.ErrLimitReached:
			wantIs(t, errs[i], checkout.ErrLimitReached)
		case want[i] == missing:
			wantCode(t, errs[i], apperr.NotFound)
		}
		r, k := h.Reservation, h.Key
		got, gerr := f.Ledger.ReservationByID(ctx, r.ID)
		stored, kerr := f.Ledger.LookupIdempotency(ctx, k.UserID, k.Op, k.Key)
		if want[i] != nil {
			wantCode(t, gerr, apperr.NotFound)
			wantCode(t, kerr, apperr.NotFound)
			continue
		}
		held++
		must(t, gerr)
		must(t, kerr)
		if got.UserID != r.UserID || got.OfferID != o.ID || got.Quantity != 1 || got.State != checkout.Held ||
			!got.ExpiresAt.Equal(r.ExpiresAt) {
			t.Fatalf("hold %d stored as %+v, want %+v", i, got, r)
		}
		if stored.RequestHash != k.RequestHash || string(stored.Result) != string(k.Result) {
			t.Fatalf("key of hold %d stored as %q %s, want %q %s", i, stored.RequestHash, stored.Result, k.RequestHash, k.Result)
		}
	}
	if got, err := f.Catalog.OfferByID(ctx, o.ID); err != nil || got.Held != held {
		t.Fatalf("offer after the batch: %+v, %v; want %d held", got, err, held)
	}
	for user, u := range units {
		if got, err := f.Ledger.CustomerUnits(ctx, o.ID, user); err != nil || got != u {
			t.Fatalf("customer units of %s: %d, %v; want %d", user, got, err, u)
		}
	}
}
