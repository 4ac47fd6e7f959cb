// Package storetest is the contract every store driver must meet: one suite,
// run against SQLite and PostgreSQL alike, so the two storage modes behave
// the same.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/images"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Stores is one driver's implementation of every domain store.
type Stores struct {
	Accounts account.Store
	Brands   brand.Store
	Shows    show.Store
	Catalog  checkout.Store
	Ledger   checkout.Ledger
	// Analytics is the same database as Ledger: sales figures are read from it.
	Analytics analytics.Store
	// Images is the same database's image store; nil skips its tests.
	Images images.Store
	// Reopen, when set, closes these stores and opens the same database
	// again, as a restarted process would.
	Reopen func(t *testing.T) Stores
}

// Run runs the whole contract. open must return stores over a fresh, migrated,
// empty database each time it is called.
func Run(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("Accounts", func(t *testing.T) { testAccounts(t, open(t).Accounts) })
	t.Run("Credentials", func(t *testing.T) { testCredentials(t, open(t).Accounts) })
	t.Run("CredentialIDs", func(t *testing.T) { testCredentialIDs(t, open(t).Accounts) })
	t.Run("AccountChanges", func(t *testing.T) { testAccountChanges(t, open(t).Accounts) })
	t.Run("Brands", func(t *testing.T) { testBrands(t, open(t)) })
	t.Run("Shows", func(t *testing.T) { testShows(t, open(t)) })
	t.Run("Catalog", func(t *testing.T) { testCatalog(t, open(t)) })
	t.Run("ConcurrentStock", func(t *testing.T) { testConcurrentStock(t, open(t)) })
	t.Run("Schedule", func(t *testing.T) { runSchedule(t, open) })
	t.Run("Analytics", func(t *testing.T) { testAnalytics(t, open(t)) })
	t.Run("Bank", func(t *testing.T) { testBank(t, open(t)) })
	t.Run("BankReplay", func(t *testing.T) { testBankReplay(t, open(t)) })
	t.Run("Images", func(t *testing.T) { testImages(t, open(t)) })
}

// now is truncated to microseconds: PostgreSQL keeps no more.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("got error %v (code %s), want code %s", err, got, code)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newUser(email string, roles ...account.Role) *account.User {
	if len(roles) == 0 {
		roles = []account.Role{account.RoleViewer}
	}
	return &account.User{ID: uuid.New(), Email: email, DisplayName: "User " + email, Roles: roles, CreatedAt: now()}
}

func testAccounts(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := newUser("ada@example.com", account.RoleViewer, account.RoleMember)
	must(t, s.CreateUser(ctx, u, "hash-1"))

	got, err := s.UserByID(ctx, u.ID)
	must(t, err)
	if got.Email != u.Email || got.DisplayName != u.DisplayName || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("UserByID = %+v, want %+v", got, u)
	}
	if !got.Has(account.RoleMember) || got.Has(account.RoleHost) {
		t.Fatalf("roles = %v", got.Roles)
	}
	if got.AvatarURL != "" {
		t.Fatalf("a new user has an avatar: %q", got.AvatarURL)
	}
	must(t, s.SetAvatar(ctx, u.ID, "/media/00112233445566778899aabbccddeeff"))
	if got, err := s.UserByID(ctx, u.ID); err != nil || got.AvatarURL != "/media/00112233445566778899aabbccddeeff" {
		t.Fatalf("after SetAvatar: %v %+v", err, got)
	}
	if got, _, err := s.UserByEmail(ctx, u.Email); err != nil || got.AvatarURL == "" {
		t.Fatalf("UserByEmail lost the avatar: %v %+v", err, got)
	}
	wantCode(t, s.SetAvatar(ctx, uuid.New(), "/x"), apperr.NotFound)

	// Email is case-insensitive, for lookup and for uniqueness.
	got, hash, err := s.UserByEmail(ctx, "ADA@Example.com")
	must(t, err)
	if got.ID != u.ID || hash != "hash-1" {
		t.Fatalf("UserByEmail = %v %q", got.ID, hash)
	}
	wantCode(t, s.CreateUser(ctx, newUser("Ada@example.COM"), "x"), apperr.Conflict)

	_, _, err = s.UserByEmail(ctx, "nobody@example.com")
	wantCode(t, err, apperr.NotFound)
	_, err = s.UserByID(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	must(t, s.SetPassword(ctx, u.ID, "hash-2"))
	_, hash, err = s.UserByEmail(ctx, u.Email)
	must(t, err)
	if hash != "hash-2" {
		t.Fatalf("hash after SetPassword = %q", hash)
	}
	wantCode(t, s.SetPassword(ctx, uuid.New(), "h"), apperr.NotFound)

	// Brand links refer to brands; roles can be set without any.
	must(t, s.SetRoles(ctx, u.ID, []account.Role{account.RoleViewer, account.RoleHost}, nil))
	got, err = s.UserByID(ctx, u.ID)
	must(t, err)
	if !got.Has(account.RoleHost) || got.Has(account.RoleMember) || got.BrandIDs == nil || len(got.BrandIDs) != 0 {
		t.Fatalf("after SetRoles: %+v", got)
	}
	wantCode(t, s.SetRoles(ctx, uuid.New(), []account.Role{account.RoleViewer}, nil), apperr.NotFound)

	for i := range 3 {
		must(t, s.CreateUser(ctx, newUser(fmt.Sprintf("u%d@example.com", i)), "h"))
	}
	list, err := s.ListUsers(ctx, 0, 10)
	must(t, err)
	if len(list) != 4 || list[0].ID != u.ID {
		t.Fatalf("ListUsers = %d users, first %v", len(list), list[0].ID)
	}
	list, err = s.ListUsers(ctx, 1, 2)
	must(t, err)
	if len(list) != 2 || list[0].Email != "u0@example.com" {
		t.Fatalf("ListUsers(1,2) = %+v", list)
	}
}

func testCredentials(t *testing.T, s account.Store) {
	ctx := context.Background()
	u := newUser("grace@example.com")
	must(t, s.CreateUser(ctx, u, "h"))
	t0 := now()
	sess := &account.Credential{ID: uuid.New(), Hash: "aa01", UserID: u.ID, Kind: account.KindSession, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	tok := &account.Credential{ID: uuid.New(), Hash: "bb02", UserID: u.ID, Kind: account.KindToken, Name: "ci", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	must(t, s.CreateCredential(ctx, sess))
	must(t, s.CreateCredential(ctx, tok))
	wantCode(t, s.CreateCredential(ctx, sess), apperr.Conflict)

	got, err := s.CredentialByHash(ctx, "bb02", t0)
	must(t, err)
	if got.UserID != u.ID || got.Kind != account.KindToken || got.Name != "ci" || !got.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Fatalf("CredentialByHash = %+v", got)
	}
	// Expired is as good as missing.
	_, err = s.CredentialByHash(ctx, "aa01", t0.Add(2*time.Hour))
	wantCode(t, err, apperr.NotFound)
	// The same read with its user, as authentication does it.
	both, who, err := s.CredentialWithUser(ctx, "bb02", t0)
	must(t, err)
	if *both != *got || who.ID != u.ID || who.Email != u.Email || len(who.Roles) != len(u.Roles) {
		t.Fatalf("CredentialWithUser = %+v, %+v; want %+v and the user %+v", both, who, got, u)
	}
	_, _, err = s.CredentialWithUser(ctx, "aa01", t0.Add(2*time.Hour))
	wantCode(t, err, apperr.NotFound)
	_, _, err = s.CredentialWithUser(ctx, "ffff", t0)
	wantCode(t, err, apperr.NotFound)
	_, err = s.CredentialByHash(ctx, "ffff", t0)
	wantCode(t, err, apperr.NotFound)

	n, err := s.DeleteExpiredCredentials(ctx, t0.Add(2*time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredCredentials removed %d, want 1", n)
	}
	must(t, s.DeleteCredential(ctx, "bb02"))
	_, err = s.CredentialByHash(ctx, "bb02", t0)
	wantCode(t, err, apperr.NotFound)

	must(t, s.CreateCredential(ctx, &account.Credential{ID: uuid.New(), Hash: "cc03", UserID: u.ID, Kind: account.KindSession, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, s.DeleteUserCredentials(ctx, u.ID))
	_, err = s.CredentialByHash(ctx, "cc03", t0)
	wantCode(t, err, apperr.NotFound)
}

// testCredentialIDs: credentials are found, listed and checked by id, and
// their last use is recorded in batches that never move it backwards.
func testCredentialIDs(t *testing.T, s account.Store) {
	ctx := context.Background()
	ada, bob := newUser("ada@example.com"), newUser("bob@example.com", account.RoleViewer, account.RoleHost)
	must(t, s.CreateUser(ctx, ada, "h"))
	must(t, s.CreateUser(ctx, bob, "h"))
	t0 := now()
	cred := func(u *account.User, hash string, kind account.CredentialKind, created time.Time, ttl time.Duration) *account.Credential {
		c := &account.Credential{ID: uuid.New(), Hash: hash, UserID: u.ID, Kind: kind, Name: hash, CreatedAt: created, ExpiresAt: created.Add(ttl)}
		must(t, s.CreateCredential(ctx, c))
		return c
	}
	old := cred(ada, "a1", account.KindToken, t0.Add(-time.Hour), 2*time.Hour)
	sess := cred(ada, "a2", account.KindSession, t0, time.Hour)
	newer := cred(ada, "a3", account.KindToken, t0.Add(time.Minute), time.Hour)
	gone := cred(ada, "a4", account.KindToken, t0.Add(-2*time.Hour), time.Hour) // expired at t0
	other := cred(bob, "b1", account.KindToken, t0, time.Hour)
	// The id is unique like the hash.
	wantCode(t, s.CreateCredential(ctx, &account.Credential{ID: old.ID, Hash: "a5", UserID: ada.ID, Kind: account.KindToken,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}), apperr.Conflict)

	got, err := s.CredentialByID(ctx, newer.ID, t0)
	must(t, err)
	if got.Hash != "a3" || got.UserID != ada.ID || got.Kind != account.KindToken || !got.CreatedAt.Equal(newer.CreatedAt) ||
		!got.ExpiresAt.Equal(newer.ExpiresAt) || got.LastUsedAt != nil {
		t.Fatalf("CredentialByID = %+v", got)
	}
	if got, err := s.CredentialByHash(ctx, "a3", t0); err != nil || got.ID != newer.ID {
		t.Fatalf("CredentialByHash = %+v, %v; want id %s", got, err, newer.ID)
	}
	_, err = s.CredentialByID(ctx, gone.ID, t0)
	wantCode(t, err, apperr.NotFound)
	_, err = s.CredentialByID(ctx, uuid.New(), t0)
	wantCode(t, err, apperr.NotFound)

	list, err := s.CredentialsByUser(ctx, ada.ID, t0)
	must(t, err)
	var ids []uuid.UUID
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	if want := []uuid.UUID{newer.ID, sess.ID, old.ID}; !slices.Equal(ids, want) {
		t.Fatalf("CredentialsByUser = %v, want newest first without the expired one: %v", ids, want)
	}
	if list, err := s.CredentialsByUser(ctx, uuid.New(), t0); err != nil || len(list) != 0 {
		t.Fatalf("CredentialsByUser(nobody) = %v, %v", list, err)
	}

	// CredentialUsers: the live ones among the ids, each with its user as stored now.
	must(t, s.SetRoles(ctx, bob.ID, []account.Role{account.RoleViewer, account.RoleMember}, nil))
	users, err := s.CredentialUsers(ctx, []uuid.UUID{old.ID, sess.ID, gone.ID, other.ID, uuid.New()}, t0)
	must(t, err)
	if len(users) != 3 || users[old.ID].ID != ada.ID || users[sess.ID].Email != "ada@example.com" || users[other.ID].ID != bob.ID {
		t.Fatalf("CredentialUsers = %v", users)
	}
	if r := users[other.ID].Roles; !slices.Equal(r, []account.Role{account.RoleViewer, account.RoleMember}) {
		t.Fatalf("CredentialUsers gives roles %v, want the current ones", r)
	}
	if users, err := s.CredentialUsers(ctx, nil, t0); err != nil || len(users) != 0 {
		t.Fatalf("CredentialUsers(none) = %v, %v", users, err)
	}
	many := make([]uuid.UUID, 1200) // more than one batch of bound parameters
	for i := range many {
		many[i] = uuid.New()
	}
	many[1100] = newer.ID
	if users, err := s.CredentialUsers(ctx, many, t0); err != nil || len(users) != 1 || users[newer.ID] == nil {
		t.Fatalf("CredentialUsers(1200 ids) = %v, %v", users, err)
	}

	// Last use: recorded in one batch, never moved backwards; unknown ids are ignored.
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	must(t, s.TouchCredentials(ctx, map[uuid.UUID]time.Time{old.ID: t2, sess.ID: t1, uuid.New(): t1}))
	must(t, s.TouchCredentials(ctx, map[uuid.UUID]time.Time{old.ID: t1}))
	must(t, s.TouchCredentials(ctx, nil))
	for c, want := range map[*account.Credential]time.Time{old: t2, sess: t1} {
		got, err := s.CredentialByID(ctx, c.ID, t0)
		must(t, err)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(want) {
			t.Fatalf("%s last used %v, want %v", c.Name, got.LastUsedAt, want)
		}
	}
}

func newBrand(slug string) *brand.Brand {
	t := now()
	return &brand.Brand{ID: uuid.New(), Slug: slug, Name: "Brand " + slug, Story: "Since 1921.", LogoURL: "https://example.com/logo.png", Website: "https://example.com", Flagship: "1 Rue Cambon, Paris", CreatedAt: t, UpdatedAt: t}
}

func testBrands(t *testing.T, st Stores) {
	ctx := context.Background()
	s := st.Brands
	b := newBrand("maison")
	must(t, s.CreateBrand(ctx, b))
	wantCode(t, s.CreateBrand(ctx, newBrand("maison")), apperr.Conflict)

	got, err := s.BrandByID(ctx, b.ID)
	must(t, err)
	if *got != *b {
		t.Fatalf("BrandByID = %+v, want %+v", got, b)
	}
	got, err = s.BrandBySlug(ctx, "maison")
	must(t, err)
	if got.ID != b.ID {
		t.Fatalf("BrandBySlug = %v", got.ID)
	}
	_, err = s.BrandByID(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	b.Story = "A new chapter."
	b.UpdatedAt = now()
	must(t, s.UpdateBrand(ctx, b))
	got, err = s.BrandByID(ctx, b.ID)
	must(t, err)
	if got.Story != "A new chapter." {
		t.Fatalf("after UpdateBrand: %+v", got)
	}
	missing := newBrand("ghost")
	wantCode(t, s.UpdateBrand(ctx, missing), apperr.NotFound)

	must(t, s.CreateBrand(ctx, newBrand("atelier")))
	list, err := s.ListBrands(ctx)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("ListBrands = %d", len(list))
	}

	// Brand admins: SetRoles links a user to brands.
	u := newUser("admin@maison.example", account.RoleBrandAdmin)
	u.BrandIDs = []uuid.UUID{b.ID}
	must(t, st.Accounts.CreateUser(ctx, u, "h"))
	gu, err := st.Accounts.UserByID(ctx, u.ID)
	must(t, err)
	if !slices.Equal(gu.BrandIDs, []uuid.UUID{b.ID}) {
		t.Fatalf("BrandIDs = %v", gu.BrandIDs)
	}
	must(t, st.Accounts.SetRoles(ctx, u.ID, []account.Role{account.RoleBrandAdmin}, []uuid.UUID{list[0].ID, list[1].ID}))
	gu, err = st.Accounts.UserByID(ctx, u.ID)
	must(t, err)
	if len(gu.BrandIDs) != 2 {
		t.Fatalf("BrandIDs after SetRoles = %v", gu.BrandIDs)
	}
}

func newShow(brandID uuid.UUID, title string, start time.Time, hosts ...uuid.UUID) *show.Show {
	t := now()
	return &show.Show{
		ID: uuid.New(), BrandID: brandID, Title: title, Description: "Runway.",
		Kind: show.KindShow, Visibility: show.Public, State: show.Scheduled,
		StartsAt: start, EndsAt: start.Add(time.Hour), TimeZone: "Asia/Shanghai",
		HostIDs: hosts, HoldSeconds: 300, CreatedAt: t, UpdatedAt: t,
	}
}

func testShows(t *testing.T, st Stores) {
	ctx := context.Background()
	s := st.Shows
	b := newBrand("runway")
	must(t, st.Brands.CreateBrand(ctx, b))
	other := newBrand("other")
	must(t, st.Brands.CreateBrand(ctx, other))
	h1, h2 := newUser("h1@example.com", account.RoleHost), newUser("h2@example.com", account.RoleHost)
	must(t, st.Accounts.CreateUser(ctx, h1, "h"))
	must(t, st.Accounts.CreateUser(ctx, h2, "h"))

	base := now().Add(24 * time.Hour)
	s1 := newShow(b.ID, "Spring", base.Add(2*time.Hour), h1.ID)
	s2 := newShow(b.ID, "Summer", base, h1.ID, h2.ID)
	s2.CoverURL = "/media/0123456789abcdef0123456789abcdef"
	s3 := newShow(other.ID, "Members night", base.Add(time.Hour))
	s3.Visibility = show.Members
	for _, sh := range []*show.Show{s1, s2, s3} {
		must(t, s.CreateShow(ctx, sh))
	}

	got, err := s.ShowByID(ctx, s2.ID)
	must(t, err)
	if got.Title != "Summer" || !got.StartsAt.Equal(s2.StartsAt) || !got.EndsAt.Equal(s2.EndsAt) ||
		got.TimeZone != "Asia/Shanghai" || got.HoldSeconds != 300 || got.Kind != show.KindShow || got.State != show.Scheduled ||
		got.CoverURL != s2.CoverURL {
		t.Fatalf("ShowByID = %+v", got)
	}
	if len(got.HostIDs) != 2 || !slices.Contains(got.HostIDs, h1.ID) || !slices.Contains(got.HostIDs, h2.ID) {
		t.Fatalf("HostIDs = %v", got.HostIDs)
	}
	_, err = s.ShowByID(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	// Public listing hides members-only shows and orders by start time.
	list, err := s.ListShows(ctx, show.Filter{Limit: 10})
	must(t, err)
	if len(list) != 2 || list[0].ID != s2.ID || list[1].ID != s1.ID {
		t.Fatalf("public ListShows = %v", titles(list))
	}
	list, err = s.ListShows(ctx, show.Filter{IncludeMembers: true, Limit: 10})
	must(t, err)
	if len(list) != 3 || list[1].ID != s3.ID {
		t.Fatalf("member ListShows = %v", titles(list))
	}
	list, err = s.ListShows(ctx, show.Filter{BrandID: b.ID, IncludeMembers: true, Limit: 1, Offset: 1})
	must(t, err)
	if len(list) != 1 || list[0].ID != s1.ID {
		t.Fatalf("brand page 2 = %v", titles(list))
	}

	s1.State = show.Live
	s1.Title = "Spring (live)"
	s1.CoverURL = "https://cdn.example.com/spring.jpg"
	s1.HostIDs = []uuid.UUID{h2.ID}
	s1.UpdatedAt = now()
	must(t, s.UpdateShow(ctx, s1))
	list, err = s.ListShows(ctx, show.Filter{States: []show.State{show.Live}, IncludeMembers: true, Limit: 10})
	must(t, err)
	if len(list) != 1 || list[0].Title != "Spring (live)" || !slices.Equal(list[0].HostIDs, []uuid.UUID{h2.ID}) ||
		list[0].CoverURL != s1.CoverURL {
		t.Fatalf("live ListShows = %+v", list)
	}
	wantCode(t, s.UpdateShow(ctx, newShow(b.ID, "ghost", base)), apperr.NotFound)

	hash, err := s.StreamKeyHash(ctx, s1.ID)
	must(t, err)
	if hash != "" {
		t.Fatalf("new show has key hash %q", hash)
	}
	must(t, s.SetStreamKey(ctx, s1.ID, "k1"))
	hash, err = s.StreamKeyHash(ctx, s1.ID)
	must(t, err)
	if hash != "k1" {
		t.Fatalf("StreamKeyHash = %q", hash)
	}
	must(t, s.SetStreamKey(ctx, s1.ID, ""))
	hash, err = s.StreamKeyHash(ctx, s1.ID)
	must(t, err)
	if hash != "" {
		t.Fatalf("revoked key hash = %q", hash)
	}
	wantCode(t, s.SetStreamKey(ctx, uuid.New(), "k"), apperr.NotFound)
	_, err = s.StreamKeyHash(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)
}

func titles(list []show.Show) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Title)
	}
	return out
}

func newProduct(brandID uuid.UUID, name string, skus ...checkout.SKU) *checkout.Product {
	p := &checkout.Product{ID: uuid.New(), BrandID: brandID, Name: name, Description: "Lambskin.", Images: []string{"https://example.com/a.jpg", "https://example.com/b.jpg"}, CreatedAt: now()}
	for _, s := range skus {
		s.ID = uuid.New()
		s.ProductID = p.ID
		s.BrandID = brandID
		s.UpdatedAt = p.CreatedAt
		p.SKUs = append(p.SKUs, s)
	}
	return p
}

func testCatalog(t *testing.T, st Stores) {
	ctx := context.Background()
	s := st.Catalog
	b := newBrand("bags")
	must(t, st.Brands.CreateBrand(ctx, b))
	p := newProduct(b.ID, "Classic flap",
		checkout.SKU{Code: "CF-BLK", Attributes: map[string]string{"colour": "black", "size": "medium"}, PriceMinor: 1_050_000, Currency: "EUR", OnHand: 10},
		checkout.SKU{Code: "CF-BEI", Attributes: map[string]string{"colour": "beige"}, PriceMinor: 1_050_000, Currency: "EUR", OnHand: 3},
	)
	must(t, s.CreateProduct(ctx, p))

	got, err := s.ProductByID(ctx, p.ID)
	must(t, err)
	if got.Name != p.Name || !slices.Equal(got.Images, p.Images) || len(got.SKUs) != 2 {
		t.Fatalf("ProductByID = %+v", got)
	}
	sku := got.SKUs[0]
	if sku.Code != "CF-BLK" || sku.Attributes["colour"] != "black" || sku.PriceMinor != 1_050_000 || sku.Currency != "EUR" || sku.OnHand != 10 || sku.Available() != 10 {
		t.Fatalf("SKU = %+v", sku)
	}
	_, err = s.ProductByID(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	// Pictures replaced later, in order; none is an empty list.
	pics := []string{"/media/00112233445566778899aabbccddeeff", "https://cdn.example.com/b.jpg"}
	must(t, s.SetProductImages(ctx, p.ID, pics))
	if got, err := s.ProductByID(ctx, p.ID); err != nil || !slices.Equal(got.Images, pics) || len(got.SKUs) != 2 {
		t.Fatalf("after SetProductImages: %v %+v", err, got)
	}
	must(t, s.SetProductImages(ctx, p.ID, nil))
	if got, err := s.ProductByID(ctx, p.ID); err != nil || got.Images == nil || len(got.Images) != 0 {
		t.Fatalf("after clearing the images: %v %#v", err, got.Images)
	}
	wantCode(t, s.SetProductImages(ctx, uuid.New(), pics), apperr.NotFound)

	// A duplicate SKU code in the same brand is refused, and nothing of that product is kept.
	dup := newProduct(b.ID, "Copy", checkout.SKU{Code: "NEW-1", Currency: "EUR", PriceMinor: 1, OnHand: 1}, checkout.SKU{Code: "CF-BLK", Currency: "EUR", PriceMinor: 1, OnHand: 1})
	wantCode(t, s.CreateProduct(ctx, dup), apperr.Conflict)
	_, err = s.ProductByID(ctx, dup.ID)
	wantCode(t, err, apperr.NotFound)
	// The same code in another brand is fine.
	b2 := newBrand("shoes")
	must(t, st.Brands.CreateBrand(ctx, b2))
	must(t, s.CreateProduct(ctx, newProduct(b2.ID, "Slingback", checkout.SKU{Code: "CF-BLK", Currency: "EUR", PriceMinor: 1, OnHand: 1})))

	list, err := s.ListProducts(ctx, b.ID)
	must(t, err)
	if len(list) != 1 || len(list[0].SKUs) != 2 {
		t.Fatalf("ListProducts = %+v", list)
	}

	price := int64(990_000)
	onHand := 12
	upd, err := s.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{PriceMinor: &price, OnHand: &onHand})
	must(t, err)
	if upd.PriceMinor != price || upd.OnHand != 12 {
		t.Fatalf("UpdateSKU = %+v", upd)
	}
	delta := -2
	upd, err = s.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHandDelta: &delta})
	must(t, err)
	if upd.OnHand != 10 {
		t.Fatalf("OnHand after delta = %d", upd.OnHand)
	}
	upTo := checkout.MaxOnHand - 10
	upd, err = s.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHandDelta: &upTo})
	must(t, err)
	if upd.OnHand != checkout.MaxOnHand {
		t.Fatalf("OnHand after a delta up to the bound = %d", upd.OnHand)
	}
	_, err = s.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHand: &onHand})
	must(t, err)
	delta = -2
	_, err = s.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHandDelta: &delta})
	must(t, err)
	neg := -1
	_, err = s.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHand: &neg})
	wantCode(t, err, apperr.Conflict)
	big := -11
	_, err = s.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHandDelta: &big})
	wantCode(t, err, apperr.Conflict)
	// Deltas, each in bounds, may not add up past the bound on stock.
	up := checkout.MaxOnHand - 5
	_, err = s.UpdateSKU(ctx, sku.ID, checkout.SKUPatch{OnHandDelta: &up})
	wantCode(t, err, apperr.Invalid)
	again, err := s.SKUByID(ctx, sku.ID)
	must(t, err)
	if again.OnHand != 10 {
		t.Fatalf("refused update changed OnHand to %d", again.OnHand)
	}
	_, err = s.UpdateSKU(ctx, uuid.New(), checkout.SKUPatch{OnHand: &onHand})
	wantCode(t, err, apperr.NotFound)

	sh := newShow(b.ID, "Bags live", now().Add(time.Hour))
	must(t, st.Shows.CreateShow(ctx, sh))
	o := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: sku.ID, PriceMinor: 899_000, Currency: "EUR", Allocated: 5, PerCustomerLimit: 1, CreatedAt: now()}
	must(t, s.CreateOffer(ctx, o))
	over := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: p.SKUs[1].ID, PriceMinor: 1, Currency: "EUR", Allocated: 4, CreatedAt: now()}
	wantCode(t, s.CreateOffer(ctx, over), apperr.Conflict)
	ghost := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: uuid.New(), PriceMinor: 1, Currency: "EUR", Allocated: 1, CreatedAt: now()}
	wantCode(t, s.CreateOffer(ctx, ghost), apperr.NotFound)

	gotO, err := s.OfferByID(ctx, o.ID)
	must(t, err)
	if *gotO != *o {
		t.Fatalf("OfferByID = %+v, want %+v", gotO, o)
	}
	offers, err := s.OffersByShow(ctx, sh.ID)
	must(t, err)
	if len(offers) != 1 || offers[0].ID != o.ID {
		t.Fatalf("OffersByShow = %+v", offers)
	}
	_, err = s.OfferByID(ctx, uuid.New())
	wantCode(t, err, apperr.NotFound)

	// Flash drops: a drop offer has no window until the host opens one.
	d := &checkout.Offer{ID: uuid.New(), ShowID: sh.ID, SKUID: sku.ID, PriceMinor: 500_000, Currency: "EUR", Allocated: 2, Drop: true, CreatedAt: now()}
	must(t, s.CreateOffer(ctx, d))
	gotD, err := s.OfferByID(ctx, d.ID)
	must(t, err)
	if !gotD.Drop || gotD.DropOpensAt != nil || gotD.DropClosesAt != nil || gotD.DropOpen(now()) {
		t.Fatalf("new drop offer = %+v", gotD)
	}
	opens, closes := now(), now().Add(time.Minute)
	gotD, err = s.SetDropWindow(ctx, d.ID, opens, closes)
	must(t, err)
	if !gotD.Drop || gotD.DropOpensAt == nil || !gotD.DropOpensAt.Equal(opens) || !gotD.DropClosesAt.Equal(closes) || !gotD.DropOpen(opens.Add(time.Second)) {
		t.Fatalf("after SetDropWindow: %+v", gotD)
	}
	onSale, err := s.OffersOnSale(ctx, sku.ID)
	must(t, err)
	if len(onSale) != 2 || onSale[0].ID != o.ID || onSale[1].ID != d.ID {
		t.Fatalf("OffersOnSale = %+v; want the offer and the drop", onSale)
	}
	offers, err = s.OffersByShow(ctx, sh.ID)
	must(t, err)
	if len(offers) != 2 || !offers[1].Drop || offers[1].DropClosesAt == nil || !offers[1].DropClosesAt.Equal(closes) {
		t.Fatalf("OffersByShow after a drop = %+v", offers)
	}
	// Setting a window on an ordinary offer makes it a drop.
	gotO, err = s.SetDropWindow(ctx, o.ID, opens, opens)
	must(t, err)
	if !gotO.Drop || gotO.DropOpen(opens) {
		t.Fatalf("closed window on an ordinary offer: %+v", gotO)
	}
	_, err = s.SetDropWindow(ctx, uuid.New(), opens, closes)
	wantCode(t, err, apperr.NotFound)

	// An ended show's offers are off sale: the SKU's stock no longer moves them.
	sh.State = show.Ended
	must(t, st.Shows.UpdateShow(ctx, sh))
	onSale, err = s.OffersOnSale(ctx, sku.ID)
	must(t, err)
	if len(onSale) != 0 {
		t.Fatalf("OffersOnSale after the show ended = %+v; want none", onSale)
	}
}

// testConcurrentStock checks that concurrent relative stock changes are
// atomic: none is lost, and none takes stock below zero.
func testConcurrentStock(t *testing.T, st Stores) {
	ctx := context.Background()
	b := newBrand("race")
	must(t, st.Brands.CreateBrand(ctx, b))
	p := newProduct(b.ID, "Scarf", checkout.SKU{Code: "SC", Currency: "EUR", PriceMinor: 100, OnHand: 50})
	must(t, st.Catalog.CreateProduct(ctx, p))
	id := p.SKUs[0].ID

	const workers, each = 8, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for range workers {
		wg.Go(func() {
			for range each {
				d := -1
				_, err := st.Catalog.UpdateSKU(ctx, id, checkout.SKUPatch{OnHandDelta: &d})
				if err != nil {
					if !errors.Is(err, apperr.E(apperr.Conflict)) {
						t.Errorf("UpdateSKU: %v", err)
					}
					mu.Lock()
					refused++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	got, err := st.Catalog.SKUByID(ctx, id)
	must(t, err)
	if got.OnHand != 0 || refused != workers*each-50 {
		t.Fatalf("after %d concurrent -1: OnHand=%d refused=%d", workers*each, got.OnHand, refused)
	}
}

// TwoShows creates a brand (slug) and two scheduled public shows of it
// through st, for the contract suites of stores that hang off shows.
func TwoShows(t testing.TB, st Stores, slug string) (uuid.UUID, uuid.UUID) {
	t.Helper()
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Microsecond)
	b := &brand.Brand{ID: uuid.New(), Slug: slug, Name: slug, CreatedAt: at, UpdatedAt: at}
	if err := st.Brands.CreateBrand(ctx, b); err != nil {
		t.Fatal(err)
	}
	var ids [2]uuid.UUID
	for i := range ids {
		s := &show.Show{ID: uuid.New(), BrandID: b.ID, Title: "Show", Kind: show.KindShow, Visibility: show.Public,
			State: show.Scheduled, StartsAt: at, EndsAt: at.Add(time.Hour), TimeZone: "UTC", HostIDs: []uuid.UUID{}, CreatedAt: at, UpdatedAt: at}
		if err := st.Shows.CreateShow(ctx, s); err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID
	}
	return ids[0], ids[1]
}
