package sqlite_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
)

// open opens and migrates the file at path, closing it when the test ends.
func open(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// stores opens a fresh, migrated file and returns it as every store.
func stores(t *testing.T) storetest.Stores {
	return storesAt(t, filepath.Join(t.TempDir(), "pavilion.db"))
}

// storesAt opens the file at path as every store; Reopen closes it and
// opens it again.
func storesAt(t *testing.T, path string) storetest.Stores {
	db := open(t, path)
	return storetest.Stores{Accounts: db, Brands: db, Shows: db, Catalog: db, Ledger: db, Analytics: db, Images: db,
		Reopen: func(t *testing.T) storetest.Stores {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return storesAt(t, path)
		}}
}

func TestContract(t *testing.T) { storetest.Run(t, stores) }

func TestLedger(t *testing.T) { storetest.RunLedger(t, stores) }

// latestMigration is the highest version among the embedded migration files.
func latestMigration(t *testing.T) int64 {
	t.Helper()
	names, err := fs.Glob(os.DirFS("migrations"), "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	var latest int64
	for _, name := range names {
		prefix, _, _ := strings.Cut(name, "_")
		v, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		latest = max(latest, v)
	}
	return latest
}

func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	// Open creates the missing directories; odd characters are part of the name.
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "data dir?#%", "sub", "pavilion.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, err := db.Version(ctx); err != nil || v != 0 {
		t.Fatalf("Version before Migrate = %d, %v; want 0", v, err)
	}
	for i := range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		v, err := db.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := latestMigration(t); v != want {
			t.Fatalf("Version after Migrate #%d = %d, want %d", i+1, v, want)
		}
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentMigrate migrates a new file from several handles at once,
// as a server and the demo command started together would.
func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pavilion.db")
	var wg sync.WaitGroup
	for range 3 {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		wg.Go(func() {
			if err := db.Migrate(ctx); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		})
	}
	wg.Wait()
}

func TestSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pavilion.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	b := &brand.Brand{ID: uuid.New(), Slug: "maison", Name: "Maison", CreatedAt: at, UpdatedAt: at}
	p := &checkout.Product{ID: uuid.New(), BrandID: b.ID, Name: "Bag", CreatedAt: at, SKUs: []checkout.SKU{
		{ID: uuid.New(), Code: "B-1", PriceMinor: 100, Currency: "EUR", OnHand: 7, UpdatedAt: at},
	}}
	u := &account.User{ID: uuid.New(), Email: "ada@example.com", Roles: []account.Role{account.RoleViewer}, CreatedAt: at}
	for _, err := range []error{
		db.CreateBrand(ctx, b),
		db.CreateProduct(ctx, p),
		db.CreateUser(ctx, u, "hash"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = open(t, path)
	gb, err := db.BrandBySlug(ctx, "maison")
	if err != nil || *gb != *b {
		t.Fatalf("brand after reopen = %+v, %v", gb, err)
	}
	gs, err := db.SKUByID(ctx, p.SKUs[0].ID)
	if err != nil || gs.OnHand != 7 || gs.Code != "B-1" {
		t.Fatalf("SKU after reopen = %+v, %v", gs, err)
	}
	_, hash, err := db.UserByEmail(ctx, "ADA@example.com")
	if err != nil || hash != "hash" {
		t.Fatalf("user after reopen: %q, %v", hash, err)
	}
}

// TestTwoHandles opens the same file twice, as the server and the demo
// command would from two processes, and writes through both at once.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pavilion.db")
	a := open(t, path)
	b := open(t, path)

	at := time.Now().UTC().Truncate(time.Microsecond)
	br := &brand.Brand{ID: uuid.New(), Slug: "shared", Name: "Shared", CreatedAt: at, UpdatedAt: at}
	if err := a.CreateBrand(ctx, br); err != nil {
		t.Fatal(err)
	}
	p := &checkout.Product{ID: uuid.New(), BrandID: br.ID, Name: "Scarf", CreatedAt: at, SKUs: []checkout.SKU{
		{ID: uuid.New(), Code: "S-1", PriceMinor: 100, Currency: "EUR", OnHand: 0, UpdatedAt: at},
	}}
	if err := b.CreateProduct(ctx, p); err != nil {
		t.Fatal(err)
	}
	skuID := p.SKUs[0].ID

	const workers, each = 4, 25
	var wg sync.WaitGroup
	for w := range workers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Go(func() {
			for i := range each {
				one := 1
				if _, err := db.UpdateSKU(ctx, skuID, checkout.SKUPatch{OnHandDelta: &one}); err != nil {
					t.Errorf("UpdateSKU: %v", err)
					return
				}
				u := &account.User{ID: uuid.New(), Email: fmt.Sprintf("w%d-%d@example.com", w, i), CreatedAt: time.Now().UTC()}
				if err := db.CreateUser(ctx, u, "h"); err != nil {
					t.Errorf("CreateUser: %v", err)
					return
				}
				if _, err := db.SKUByID(ctx, skuID); err != nil {
					t.Errorf("SKUByID: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	for _, db := range []*sqlite.DB{a, b} {
		got, err := db.SKUByID(ctx, skuID)
		if err != nil {
			t.Fatal(err)
		}
		if got.OnHand != workers*each {
			t.Fatalf("OnHand = %d, want %d", got.OnHand, workers*each)
		}
		users, err := db.ListUsers(ctx, 0, 200)
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != workers*each {
			t.Fatalf("%d users, want %d", len(users), workers*each)
		}
	}
}

// TestMessages checks the user-facing messages the driver derives from
// SQLite's constraint errors, which the contract only checks by code.
func TestMessages(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "pavilion.db"))
	at := time.Now().UTC().Truncate(time.Microsecond)
	want := func(err error, code apperr.Code, msg string) {
		t.Helper()
		if code == "" && err == nil {
			return
		}
		if err == nil || apperr.CodeOf(err) != code || apperr.MessageOf(err) != msg {
			t.Fatalf("got %v, want %s %q", err, code, msg)
		}
	}

	u := &account.User{ID: uuid.New(), Email: "Élodie@example.com", CreatedAt: at}
	want(db.CreateUser(ctx, u, "h"), "", "")
	want(db.CreateUser(ctx, &account.User{ID: uuid.New(), Email: "élodie@EXAMPLE.com", CreatedAt: at}, "h"),
		apperr.Conflict, "email already registered")
	want(db.CreateUser(ctx, &account.User{ID: u.ID, Email: "other@example.com", CreatedAt: at}, "h"),
		apperr.Conflict, "user already exists")
	want(db.SetRoles(ctx, u.ID, []account.Role{"emperor"}, nil), apperr.Invalid, `unknown role "emperor"`)
	want(db.SetRoles(ctx, u.ID, []account.Role{account.RoleBrandAdmin}, []uuid.UUID{uuid.New()}),
		apperr.NotFound, "brand not found")
	want(db.CreateCredential(ctx, &account.Credential{Hash: "x", UserID: uuid.New(), Kind: account.KindToken, CreatedAt: at, ExpiresAt: at}),
		apperr.NotFound, "user not found")
	want(db.DeleteCredential(ctx, "nope"), apperr.NotFound, "credential not found")

	b := &brand.Brand{ID: uuid.New(), Slug: "maison", Name: "Maison", CreatedAt: at, UpdatedAt: at}
	want(db.CreateBrand(ctx, b), "", "")
	want(db.CreateBrand(ctx, &brand.Brand{ID: uuid.New(), Slug: "maison", CreatedAt: at, UpdatedAt: at}),
		apperr.Conflict, "brand slug already taken")

	sh := &show.Show{ID: uuid.New(), BrandID: uuid.New(), Title: "x", Kind: show.KindShow, Visibility: show.Public,
		State: show.Scheduled, StartsAt: at, EndsAt: at, CreatedAt: at, UpdatedAt: at}
	want(db.CreateShow(ctx, sh), apperr.NotFound, "brand not found")
	sh.BrandID = b.ID
	sh.HostIDs = []uuid.UUID{uuid.New()}
	want(db.CreateShow(ctx, sh), apperr.NotFound, "host not found")
	sh.HostIDs = []uuid.UUID{u.ID, u.ID} // repeats are dropped
	sh.EndsAt = at.Add(-time.Hour)
	want(db.CreateShow(ctx, sh), apperr.Invalid, "a show cannot end before it starts")
	sh.EndsAt = at.Add(time.Hour)
	want(db.CreateShow(ctx, sh), "", "")

	sku := checkout.SKU{ID: uuid.New(), Code: "A-1", PriceMinor: 100, Currency: "EUR", OnHand: 5, Held: 2, Sold: 1, UpdatedAt: at}
	p := &checkout.Product{ID: uuid.New(), BrandID: b.ID, Name: "Bag", CreatedAt: at, SKUs: []checkout.SKU{sku}}
	want(db.CreateProduct(ctx, p), "", "")
	if p.SKUs[0].ProductID != p.ID || p.SKUs[0].BrandID != b.ID {
		t.Fatalf("CreateProduct did not fill the SKU's product and brand: %+v", p.SKUs[0])
	}
	dup := &checkout.Product{ID: uuid.New(), BrandID: b.ID, Name: "Copy", CreatedAt: at, SKUs: []checkout.SKU{
		{ID: uuid.New(), Code: "A-1", PriceMinor: 1, Currency: "EUR", UpdatedAt: at}}}
	want(db.CreateProduct(ctx, dup), apperr.Conflict, `SKU code "A-1" already used by this brand`)
	bad := &checkout.Product{ID: uuid.New(), BrandID: b.ID, Name: "Bad", CreatedAt: at, SKUs: []checkout.SKU{
		{ID: uuid.New(), Code: "B-1", PriceMinor: 1, Currency: "eur", UpdatedAt: at}}}
	want(db.CreateProduct(ctx, bad), apperr.Invalid, "currency must be a three-letter ISO 4217 code")

	two := 2
	_, err := db.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHand: &two})
	want(err, apperr.Conflict, "stock on hand cannot go below sold plus held units (3)")
	minus := -6
	_, err = db.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHandDelta: &minus})
	want(err, apperr.Conflict, "stock on hand cannot be negative")
	price := int64(-1)
	_, err = db.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{PriceMinor: &price})
	want(err, apperr.Invalid, "price cannot be negative")
	ten := 10
	got, err := db.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHand: &ten, OnHandDelta: &minus, Attributes: map[string]string{"size": "S"}})
	if err != nil || got.OnHand != 4 || got.Attributes["size"] != "S" || got.PriceMinor != 100 || got.UpdatedAt.Before(at) {
		t.Fatalf("UpdateSKU(OnHand 10, delta -6) = %+v, %v", got, err)
	}

	o := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: sku.ID, PriceMinor: 1, Currency: "EUR", Allocated: 5, CreatedAt: at}
	want(db.CreateOffer(ctx, o), apperr.Conflict, "allocation exceeds stock on hand (4)")
	o.Allocated, o.ShowID = 4, uuid.New()
	want(db.CreateOffer(ctx, o), apperr.NotFound, "show not found")
}
