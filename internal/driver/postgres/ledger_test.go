package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// drop is a brand with a show and customers, for offers made with offer.
type drop struct {
	db    *DB
	brand uuid.UUID
	show  uuid.UUID
	users []uuid.UUID
}

func newDrop(tb testing.TB, db *DB, users int) *drop {
	tb.Helper()
	ctx := context.Background()
	at := pgTime(time.Now())
	b := &brand.Brand{ID: uuid.New(), Slug: "drop-" + uuid.NewString()[:8], Name: "Drop", CreatedAt: at, UpdatedAt: at}
	sh := &show.Show{ID: uuid.New(), BrandID: b.ID, Title: "Drop", Kind: show.KindShow, Visibility: show.Public,
		State: show.Live, StartsAt: at, EndsAt: at.Add(time.Hour), TimeZone: "UTC", CreatedAt: at, UpdatedAt: at}
	for _, err := range []error{db.CreateBrand(ctx, b), db.CreateShow(ctx, sh)} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	d := &drop{db: db, brand: b.ID, show: sh.ID}
	ids := make([]string, users)
	for i := range ids {
		d.users = append(d.users, uuid.New())
		ids[i] = d.users[i].String()
	}
	if _, err := db.pool.Exec(ctx,
		`INSERT INTO users (id, email, created_at) SELECT id, id::text || '@crowd.example', now() FROM unnest($1::uuid[]) AS id`,
		ids); err != nil {
		tb.Fatal(err)
	}
	return d
}

// sku adds a product with one SKU of onHand units.
func (d *drop) sku(tb testing.TB, onHand int) uuid.UUID {
	tb.Helper()
	p := &checkout.Product{ID: uuid.New(), BrandID: d.brand, Name: "Bag", CreatedAt: pgTime(time.Now()), SKUs: []checkout.SKU{
		{ID: uuid.New(), Code: "BAG-" + uuid.NewString()[:8], PriceMinor: 100, Currency: "EUR", OnHand: onHand, UpdatedAt: pgTime(time.Now())},
	}}
	if err := d.db.CreateProduct(context.Background(), p); err != nil {
		tb.Fatal(err)
	}
	return p.SKUs[0].ID
}

// offer offers allocated units of the SKU, limit per customer.
func (d *drop) offer(tb testing.TB, sku uuid.UUID, allocated, limit int) *checkout.Offer {
	tb.Helper()
	o := &checkout.Offer{ID: uuid.New(), ShowID: d.show, SKUID: sku, PriceMinor: 90, Currency: "EUR",
		Allocated: allocated, PerCustomerLimit: limit, CreatedAt: pgTime(time.Now())}
	if err := d.db.CreateOffer(context.Background(), o); err != nil {
		tb.Fatal(err)
	}
	return o
}

func res(o *checkout.Offer, user uuid.UUID, qty int, ttl time.Duration) *checkout.Reservation {
	at := time.Now()
	return &checkout.Reservation{ID: uuid.New(), OfferID: o.ID, ShowID: o.ShowID, SKUID: o.SKUID, UserID: user,
		Quantity: qty, PriceMinor: o.PriceMinor, Currency: o.Currency, State: checkout.Held,
		CreatedAt: at, ExpiresAt: at.Add(ttl), UpdatedAt: at}
}

func (d *drop) order(r *checkout.Reservation) *checkout.Order {
	at := time.Now()
	return &checkout.Order{ID: uuid.New(), UserID: r.UserID, ReservationID: r.ID, OfferID: r.OfferID, ShowID: r.ShowID,
		SKUID: r.SKUID, BrandID: d.brand, Quantity: r.Quantity, UnitPriceMinor: r.PriceMinor,
		TotalMinor: r.PriceMinor * int64(r.Quantity), Currency: r.Currency, State: checkout.Pending,
		CreatedAt: at, UpdatedAt: at}
}

// checkLedger checks that the counters of every offer and SKU are exactly
// the units of the reservations on them (held: held or being ordered; sold:
// ordered), and that no customer has more live units on an offer than its limit.
func checkLedger(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	for _, table := range []string{"offers", "skus"} {
		col := map[string]string{"offers": "offer_id", "skus": "sku_id"}[table]
		rows, err := db.pool.Query(ctx, `
			SELECT t.id, t.held, t.sold,
			       COALESCE(SUM(r.quantity) FILTER (WHERE r.state IN ('held', 'ordering')), 0),
			       COALESCE(SUM(r.quantity) FILTER (WHERE r.state = 'ordered'), 0)
			FROM `+table+` t LEFT JOIN reservations r ON r.`+col+` = t.id
			GROUP BY t.id, t.held, t.sold`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var (
				id                 uuid.UUID
				held, sold         int
				resHeld, resBought int64
			)
			if err := rows.Scan(&id, &held, &sold, &resHeld, &resBought); err != nil {
				t.Fatal(err)
			}
			if int64(held) != resHeld || int64(sold) != resBought {
				t.Errorf("%s %s: held/sold = %d/%d, but its reservations hold %d and bought %d",
					table, id, held, sold, resHeld, resBought)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var over int
	if err := db.pool.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT r.offer_id, r.user_id FROM reservations r JOIN offers o ON o.id = r.offer_id
			WHERE r.state IN `+sqlstore.LiveStates+` AND o.per_customer_limit > 0
			GROUP BY r.offer_id, r.user_id, o.per_customer_limit
			HAVING SUM(r.quantity) > o.per_customer_limit) x`).Scan(&over); err != nil {
		t.Fatal(err)
	}
	if over > 0 {
		t.Errorf("%d customers are over an offer's limit", over)
	}
}

// withPool sets the pool size of a database URL.
func withPool(t testing.TB, raw string, conns int) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(conns))
	u.RawQuery = q.Encode()
	return u.String()
}

// TestReserveLimitAfterWait: a hold committed on the offer while Reserve
// waits for the offer's row lock counts against the customer's limit. (A
// single-statement Reserve would miss it: its snapshot predates the wait.)
func TestReserveLimitAfterWait(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	d := newDrop(t, db, 2)
	o := d.offer(t, d.sku(t, 10), 10, 1)

	for i, commit := range []bool{true, false} {
		u := d.users[i]
		// Another node's Reserve for the same customer holds the offer's lock...
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM offers WHERE id = $1 FOR NO KEY UPDATE`, o.ID); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- db.Reserve(ctx, res(o, u, 1, time.Hour), 1, nil) }()
		// ...while this one waits for it...
		for deadline := time.Now().Add(10 * time.Second); ; {
			var waiting bool
			if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%allocated - sold - held FROM offers%')`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Reserve never waited for the offer's lock")
			}
			time.Sleep(5 * time.Millisecond)
		}
		// ...and then makes its hold.
		other := res(o, u, 1, time.Hour)
		if _, err := tx.Exec(ctx, `UPDATE offers SET held = held + 1 WHERE id = $1`, o.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE skus SET held = held + 1 WHERE id = $1`, o.SKUID); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO reservations (`+sqlstore.ReservationCols+`)
			VALUES ($1, $2, $3, $4, $5, 1, 90, 'EUR', 'held', $6, $7, $6)`,
			other.ID, o.ID, o.ShowID, o.SKUID, u, other.CreatedAt, other.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		err = <-done
		if commit && !errors.Is(err, checkout.ErrLimitReached) {
			t.Fatalf("Reserve after a committed hold of the same customer: %v, want limit reached", err)
		}
		if !commit && err != nil {
			t.Fatalf("Reserve after a rolled back hold: %v", err)
		}
		checkLedger(t, db)
	}
}

// TestReserveRefusals: a refusal leaves nothing behind, whichever check
// refuses, and says why.
func TestReserveRefusals(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	d := newDrop(t, db, 2)
	sku := d.sku(t, 3)
	o := d.offer(t, sku, 3, 2)
	wide := d.offer(t, sku, 3, 0) // 6 allocated against 3 on hand

	r := res(o, d.users[0], 2, time.Hour)
	if err := db.Reserve(ctx, r, 2, nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.ReservationByID(ctx, r.ID)
	if err != nil || *got != *r {
		t.Fatalf("ReservationByID = %+v, %v; want %+v", got, err, r)
	}
	if r.CreatedAt.Location() != time.UTC || r.CreatedAt.Nanosecond()%1000 != 0 {
		t.Fatalf("Reserve left r.CreatedAt as %v", r.CreatedAt)
	}

	refused := []struct {
		name string
		r    *checkout.Reservation
		lim  int
		code apperr.Code
		msg  string
	}{
		{"over the limit", res(o, d.users[0], 1, time.Hour), 2, apperr.LimitReached, checkout.ErrLimitReached.Message},
		{"offer sold out", res(o, d.users[1], 2, time.Hour), 2, apperr.SoldOut, "sold out"},
		{"SKU sold out", res(wide, d.users[1], 2, time.Hour), 0, apperr.SoldOut, "sold out"},
		{"no offer", res(&checkout.Offer{ID: uuid.New(), ShowID: d.show, SKUID: sku, Currency: "EUR"}, d.users[1], 1, time.Hour), 0, apperr.NotFound, "offer not found"},
		{"not the offer's SKU", res(&checkout.Offer{ID: o.ID, ShowID: d.show, SKUID: d.sku(t, 1), Currency: "EUR"}, d.users[1], 1, time.Hour), 0, apperr.Invalid, "the reservation's show and SKU are not its offer's"},
		{"no user", res(o, uuid.New(), 1, time.Hour), 2, apperr.NotFound, "user not found"},
		{"no units", res(o, d.users[1], 0, time.Hour), 2, apperr.Invalid, "quantity must be positive"},
		{"bad currency", func() *checkout.Reservation { r := res(o, d.users[1], 1, time.Hour); r.Currency = "euro"; return r }(), 2, apperr.Invalid, "currency must be a three-letter ISO 4217 code"},
	}
	for _, tc := range refused {
		err := db.Reserve(ctx, tc.r, tc.lim, nil)
		if apperr.CodeOf(err) != tc.code || apperr.MessageOf(err) != tc.msg {
			t.Errorf("%s: got %v, want %s %q", tc.name, err, tc.code, tc.msg)
		}
		if _, err := db.ReservationByID(ctx, tc.r.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("%s: the refused reservation was kept (%v)", tc.name, err)
		}
	}
	if err := db.Reserve(ctx, res(o, d.users[0], 1, time.Hour), 2, nil); !errors.Is(err, checkout.ErrLimitReached) || err != checkout.ErrLimitReached {
		t.Errorf("limit: got %#v, want checkout.ErrLimitReached itself", err)
	}
	if err := db.Reserve(ctx, res(wide, d.users[1], 2, time.Hour), 0, nil); err != checkout.ErrSoldOut {
		t.Errorf("sold out: got %#v, want checkout.ErrSoldOut itself", err)
	}
	checkLedger(t, db)
	for _, id := range []uuid.UUID{o.ID, wide.ID} {
		got, err := db.OfferByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[uuid.UUID]int{o.ID: 2, wide.ID: 0}[id]; got.Held != want || got.Sold != 0 {
			t.Errorf("offer held/sold = %d/%d, want %d/0", got.Held, got.Sold, want)
		}
	}
	// What the SKU still has, the other offer can take.
	if err := db.Reserve(ctx, res(wide, d.users[1], 1, time.Hour), 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Release(ctx, r.ID, checkout.Returned, time.Now()); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("Release to returned: %v", err)
	}
	checkLedger(t, db)
}

// TestLedgerStress runs a drop at full tilt: 50 customers' devices reserve
// (no gate in front) while sweepers expire holds, a customer releases holds
// and another pays for them, cancels and abandons. No deadlock, no
// serialisation failure, and the counters are exactly the reservations.
func TestLedgerStress(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	ctx := context.Background()
	// A connection for every goroutine: they all meet in the database.
	db := openDB(t, withPool(t, testinfra.Postgres(t), 64))
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	d := newDrop(t, db, 300)
	sku := d.sku(t, 150)
	hot := d.offer(t, sku, 100, 1)
	side := d.offer(t, sku, 100, 1) // the SKU has 150 for 200 allocated

	var (
		reserved, soldOut, limited                          atomic.Int64
		released, expired, paid, abandoned, cancelled, gone atomic.Int64
	)
	fail := func(what string, err error) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001") {
			t.Errorf("%s: %v: deadlock or serialisation failure (SQLSTATE %s)", what, err, pe.Code)
			return
		}
		t.Errorf("%s: %v", what, err)
	}
	holds := make(chan *checkout.Reservation, 1000)

	var reservers sync.WaitGroup
	for g := range 50 {
		reservers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			for range 20 {
				o := hot
				if rng.IntN(4) == 0 {
					o = side
				}
				ttl := time.Duration(rng.IntN(50)) * time.Millisecond // most run out during the drop
				if rng.IntN(3) == 0 {
					ttl = time.Hour
				}
				r := res(o, d.users[rng.IntN(len(d.users))], 1, ttl)
				switch err := db.Reserve(ctx, r, o.PerCustomerLimit, nil); {
				case err == nil:
					reserved.Add(1)
					holds <- r
				case errors.Is(err, checkout.ErrSoldOut):
					soldOut.Add(1)
				case errors.Is(err, checkout.ErrLimitReached):
					limited.Add(1)
				default:
					fail("Reserve", err)
				}
			}
		})
	}

	stop := make(chan struct{})
	var others sync.WaitGroup
	for range 2 { // sweepers
		others.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := db.ExpireDue(ctx, time.Now(), 7)
				if err != nil {
					fail("ExpireDue", err)
				}
				expired.Add(int64(len(got)))
			}
		})
	}
	others.Go(func() { // a customer letting holds go
		for {
			select {
			case <-stop:
				return
			case r := <-holds:
				_, err := db.Release(ctx, r.ID, checkout.Released, time.Now())
				switch {
				case err == nil:
					released.Add(1)
				case apperr.CodeOf(err) == apperr.Gone:
					gone.Add(1)
				default:
					fail("Release", err)
				}
			}
		}
	})
	others.Go(func() { // a customer buying, or not
		rng := rand.New(rand.NewPCG(7, 7))
		for {
			select {
			case <-stop:
				return
			case r := <-holds:
				o := d.order(r)
				if err := db.BeginOrder(ctx, o, time.Now()); err != nil {
					if apperr.CodeOf(err) != apperr.Gone {
						fail("BeginOrder", err)
					}
					gone.Add(1)
					continue
				}
				if rng.IntN(3) == 0 {
					if err := db.AbandonOrder(ctx, o.ID, time.Now()); err != nil {
						fail("AbandonOrder", err)
					}
					abandoned.Add(1)
					continue
				}
				if _, err := db.CompletePayment(ctx, o.ID, "ch_"+o.ID.String(), time.Now()); err != nil {
					fail("CompletePayment", err)
					continue
				}
				paid.Add(1)
				if rng.IntN(2) == 0 {
					if _, err := db.SetOrderState(ctx, o.ID, checkout.Cancelled, true, time.Now()); err != nil {
						fail("SetOrderState", err)
					}
					cancelled.Add(1)
				}
			}
		}
	})

	reservers.Wait()
	close(stop)
	others.Wait()
	t.Logf("reserved %d, sold out %d, limited %d; released %d, expired %d, paid %d (cancelled %d), abandoned %d, gone %d",
		reserved.Load(), soldOut.Load(), limited.Load(), released.Load(), expired.Load(), paid.Load(), cancelled.Load(),
		abandoned.Load(), gone.Load())
	if reserved.Load()+soldOut.Load()+limited.Load() != 1000 {
		t.Errorf("%d of 1000 reservations answered", reserved.Load()+soldOut.Load()+limited.Load())
	}
	checkLedger(t, db)

	// Sweeping everything left returns the counters to what was sold.
	for {
		got, err := db.ExpireDue(ctx, time.Now().Add(time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
	}
	checkLedger(t, db)
}

// BenchmarkReserve measures Reserve, the hot path of a drop, over a local
// server: one customer after another, and many at once on one offer (its
// row lock serialises them).
func BenchmarkReserve(b *testing.B) {
	ctx := context.Background()
	db := openDB(b, withPool(b, testinfra.Postgres(b), 32))
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	d := newDrop(b, db, 500)
	for _, bc := range []struct {
		name     string
		limit    bool
		parallel bool
	}{
		{"serial", false, false},
		{"serial/limit", true, false},
		{"parallel/limit", true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := b.N
			limit := 0
			if bc.limit {
				limit = n // checked on every call, never reached
			}
			o := d.offer(b, d.sku(b, n), n, limit)
			var next atomic.Int64
			reserve := func() {
				i := next.Add(1)
				if err := db.Reserve(ctx, res(o, d.users[i%int64(len(d.users))], 1, time.Hour), limit, nil); err != nil {
					b.Error(err)
				}
			}
			b.ResetTimer()
			if bc.parallel {
				b.SetParallelism(8) // GOMAXPROCS×8 customers at once
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						reserve()
					}
				})
			} else {
				for range n {
					reserve()
				}
			}
		})
	}
}
