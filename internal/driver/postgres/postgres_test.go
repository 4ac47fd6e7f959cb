package postgres

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// openDB opens a handle on url, closed when the test ends.
func openDB(t testing.TB, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// fresh returns a migrated store over a new, empty database.
func fresh(t testing.TB) *DB {
	t.Helper()
	db := openDB(t, testinfra.Postgres(t))
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// stores is every domain store over a fresh, migrated database.
func stores(t *testing.T) storetest.Stores {
	url := testinfra.Postgres(t)
	db := openDB(t, url)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return storesOn(t, db, url)
}

// storesOn is db as every store; Reopen closes it and opens a new pool on
// the same database.
func storesOn(t *testing.T, db *DB, url string) storetest.Stores {
	return storetest.Stores{Accounts: db, Brands: db, Shows: db, Catalog: db, Ledger: db, Analytics: db, Images: db,
		Reopen: func(t *testing.T) storetest.Stores {
			_ = db.Close()
			return storesOn(t, openDB(t, url), url)
		}}
}

func TestStore(t *testing.T) { storetest.Run(t, stores) }

func TestLedger(t *testing.T) { storetest.RunLedger(t, stores) }

// latest is the highest version among the embedded migrations.
func latest(t *testing.T, db *DB) int64 {
	t.Helper()
	p, err := db.provider()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var v int64
	for _, s := range p.ListSources() {
		v = max(v, s.Version)
	}
	if v == 0 {
		t.Fatal("no migrations embedded")
	}
	return v
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	url := testinfra.Postgres(t)
	dbs := []*DB{openDB(t, url), openDB(t, url), openDB(t, url)}
	want := latest(t, dbs[0])

	v, err := dbs[0].Version(ctx)
	if err != nil || v != 0 {
		t.Fatalf("Version before Migrate = %d, %v; want 0", v, err)
	}

	// Three nodes start at once: the advisory lock lets one migrate and the
	// others find nothing to do.
	var wg sync.WaitGroup
	errs := make([]error, len(dbs))
	for i, db := range dbs {
		wg.Go(func() { errs[i] = db.Migrate(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate %d: %v", i, err)
		}
	}

	// Idempotent.
	if err := dbs[1].Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	for i, db := range dbs {
		v, err := db.Version(ctx)
		if err != nil || v != want {
			t.Fatalf("Version on handle %d = %d, %v; want %d", i, v, err, want)
		}
	}
	if err := dbs[2].Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestErrors checks the driver's error mapping beyond the shared contract.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	db := fresh(t)
	now := time.Now().UTC().Truncate(time.Microsecond)
	want := func(t *testing.T, err error, code apperr.Code, msg string) {
		t.Helper()
		if apperr.CodeOf(err) != code || apperr.MessageOf(err) != msg {
			t.Fatalf("got %v, want %s %q", err, code, msg)
		}
	}

	b := &brand.Brand{ID: uuid.New(), Slug: "b", Name: "B", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateBrand(ctx, b); err != nil {
		t.Fatal(err)
	}
	u := &account.User{ID: uuid.New(), Email: "a@example.com", Roles: []account.Role{account.RoleViewer}, BrandIDs: []uuid.UUID{uuid.New()}, CreatedAt: now}
	want(t, db.CreateUser(ctx, u, "h"), apperr.NotFound, "brand not found")
	if _, err := db.UserByID(ctx, u.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("user kept after a failed CreateUser: %v", err)
	}
	u.BrandIDs = nil
	u.Roles = []account.Role{"emperor"}
	want(t, db.CreateUser(ctx, u, "h"), apperr.Invalid, `unknown role "emperor"`)
	u.Roles = []account.Role{account.RoleViewer, account.RoleViewer}
	if err := db.CreateUser(ctx, u, "h"); err != nil {
		t.Fatal(err)
	}
	want(t, db.CreateUser(ctx, &account.User{ID: uuid.New(), Email: "A@EXAMPLE.COM", CreatedAt: now}, "h"), apperr.Conflict, "email already registered")
	want(t, db.CreateBrand(ctx, &brand.Brand{ID: uuid.New(), Slug: "b", CreatedAt: now, UpdatedAt: now}), apperr.Conflict, "brand slug already taken")
	want(t, db.CreateCredential(ctx, &account.Credential{Hash: "x", UserID: uuid.New(), Kind: account.KindSession, CreatedAt: now, ExpiresAt: now}), apperr.NotFound, "user not found")
	want(t, db.DeleteCredential(ctx, "nope"), apperr.NotFound, "credential not found")

	sh := &show.Show{ID: uuid.New(), BrandID: b.ID, Title: "S", Kind: show.KindShow, Visibility: show.Public, State: show.Scheduled,
		StartsAt: now, EndsAt: now.Add(time.Hour), TimeZone: "UTC", HostIDs: []uuid.UUID{uuid.New()}, CreatedAt: now, UpdatedAt: now}
	want(t, db.CreateShow(ctx, sh), apperr.NotFound, "host not found")
	sh.HostIDs = nil
	sh.BrandID = uuid.New()
	want(t, db.CreateShow(ctx, sh), apperr.NotFound, "brand not found")
	sh.BrandID = b.ID
	if err := db.CreateShow(ctx, sh); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ShowByID(ctx, sh.ID); err != nil || got.HostIDs == nil || len(got.HostIDs) != 0 {
		t.Fatalf("ShowByID = %+v, %v", got, err)
	}

	p := &checkout.Product{ID: uuid.New(), BrandID: uuid.New(), Name: "P", CreatedAt: now}
	want(t, db.CreateProduct(ctx, p), apperr.NotFound, "brand not found")
	p.BrandID = b.ID
	p.SKUs = []checkout.SKU{{ID: uuid.New(), Code: "A", Currency: "EUR", PriceMinor: 100, OnHand: 5, UpdatedAt: now}}
	if err := db.CreateProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	sku := p.SKUs[0]
	if sku.ProductID != p.ID || sku.BrandID != b.ID {
		t.Fatalf("CreateProduct did not link the SKU: %+v", sku)
	}
	neg := int64(-1)
	_, err := db.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{PriceMinor: &neg})
	want(t, err, apperr.Invalid, "price cannot be negative")
	set, delta := 7, -3
	got, err := db.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHand: &set, OnHandDelta: &delta, Attributes: map[string]string{"size": "s"}})
	if err != nil || got.OnHand != 4 || got.Attributes["size"] != "s" || got.PriceMinor != 100 {
		t.Fatalf("UpdateSKU = %+v, %v", got, err)
	}

	o := &checkout.Offer{ID: uuid.New(), ShowID: uuid.New(), SKUID: sku.ID, PriceMinor: 1, Currency: "EUR", Allocated: 1, CreatedAt: now}
	want(t, db.CreateOffer(ctx, o), apperr.NotFound, "show not found")
	o.ShowID, o.Allocated = sh.ID, -1
	want(t, db.CreateOffer(ctx, o), apperr.Invalid, "allocation and per-customer limit cannot be negative")
	o.Allocated = 5
	want(t, db.CreateOffer(ctx, o), apperr.Conflict, "allocation exceeds stock on hand (4)")
	o.Allocated = 4
	if err := db.CreateOffer(ctx, o); err != nil {
		t.Fatal(err)
	}
	want(t, db.CreateOffer(ctx, o), apperr.Conflict, "offer already exists")
}
