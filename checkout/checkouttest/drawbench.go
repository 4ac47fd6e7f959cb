package checkouttest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Fill adds n entries (and their accounts) to an open draw, in bulk: a
// benchmark's setup, outside the clock.
type Fill func(tb testing.TB, drawID uuid.UUID, n int)

// BenchmarkDrawClose measures closing a draw of entries entries for units
// units: the claim, reading the entry list, the draw, a hold per winner
// through the gate and the ledger, and the result. Each iteration is a
// fresh draw on a fresh offer; the record is verified and the winners
// counted, outside the clock.
func BenchmarkDrawClose(b *testing.B, env Env, ds checkout.DrawStore, fill Fill, entries, units int) {
	ctx := context.Background()
	st := env.Stores
	now := time.Now().UTC().Truncate(time.Microsecond)
	br := &brand.Brand{ID: uuid.New(), Slug: "b" + uuid.NewString()[:8], Name: "Maison", CreatedAt: now, UpdatedAt: now}
	must(b, st.Brands.CreateBrand(ctx, br))
	sh := &show.Show{ID: uuid.New(), BrandID: br.ID, Title: "Draw at scale", Kind: show.KindShow, Visibility: show.Public,
		State: show.Live, StartsAt: now, EndsAt: now.Add(24 * time.Hour), TimeZone: "UTC", HostIDs: []uuid.UUID{}, CreatedAt: now, UpdatedAt: now}
	must(b, st.Shows.CreateShow(ctx, sh))
	clock := now
	svc := &checkout.Service{Catalog: st.Catalog, Ledger: st.Ledger, Gate: env.Gate, Shows: st.Shows, Now: func() time.Time { return clock }, DrawStore: ds}
	d := &checkout.Draws{Checkout: svc, Store: ds}
	host := &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{br.ID}}
	for range b.N {
		b.StopTimer()
		p := &checkout.Product{ID: uuid.New(), BrandID: br.ID, Name: "Limited bag", Images: []string{}, CreatedAt: now,
			SKUs: []checkout.SKU{{ID: uuid.New(), Code: "D-" + uuid.NewString()[:8], Attributes: map[string]string{}, PriceMinor: 1000, Currency: "EUR", OnHand: units, UpdatedAt: now}}}
		must(b, st.Catalog.CreateProduct(ctx, p))
		o := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: p.SKUs[0].ID, PriceMinor: 900, Currency: "EUR", Allocated: units, PerCustomerLimit: 1, CreatedAt: now}
		must(b, st.Catalog.CreateOffer(ctx, o))
		rec, err := d.Open(ctx, host, sh.ID, checkout.OpenDrawRequest{OfferID: o.ID, Seconds: 60})
		must(b, err)
		fill(b, rec.ID, entries)
		clock = clock.Add(61 * time.Second)
		b.StartTimer()
		must(b, d.Sweep(ctx))
		b.StopTimer()
		got, err := d.Record(ctx, nil, sh.ID, rec.ID)
		must(b, err)
		if err := got.Verify(); err != nil || len(got.Winners) != min(units, entries) || len(got.Unheld) != 0 || got.EntryCount != entries {
			b.Fatalf("a draw of %d entries: %d winners (%d unheld), %v", got.EntryCount, len(got.Winners), len(got.Unheld), err)
		}
		b.StartTimer()
	}
}
