package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
	"github.com/pavilion-live/pavilion/internal/wallet"
)

// WalletStores is one driver's address books, payment methods and follows,
// with the accounts and brands they refer to.
type WalletStores struct {
	Accounts account.Store
	Brands   brand.Store
	Shows    show.Store
	Wallet   wallet.Store
	Follows  brand.Follows
}

// RunWallet runs the wallet and follows contract. open must return stores
// over a fresh, migrated, empty database.
func RunWallet(t *testing.T, open func(t *testing.T) WalletStores) {
	t.Run("Addresses", func(t *testing.T) { testAddresses(t, open(t)) })
	t.Run("AddressBookLimit", func(t *testing.T) { testAddressLimit(t, open(t)) })
	t.Run("PaymentMethods", func(t *testing.T) { testPaymentMethods(t, open(t)) })
	t.Run("Follows", func(t *testing.T) { testFollows(t, open(t)) })
	t.Run("FollowersTold", func(t *testing.T) { testFollowersTold(t, open(t)) })
}

func walletUser(t *testing.T, st WalletStores, email string) *account.User {
	t.Helper()
	u := newUser(email)
	must(t, st.Accounts.CreateUser(context.Background(), u, ""))
	return u
}

func shipping(name string) checkout.Shipping {
	return checkout.Shipping{Name: name, Line1: "1 Rue de la Paix", City: "Paris", PostalCode: "75002", Country: "FR"}
}

func testAddresses(t *testing.T, st WalletStores) {
	ctx := context.Background()
	u, other := walletUser(t, st, "buyer@example.com"), walletUser(t, st, "other@example.com")
	t0 := now()
	a, err := st.Wallet.SaveAddress(ctx, &wallet.Address{ID: uuid.New(), UserID: u.ID, Shipping: shipping("Mei Chen"), CreatedAt: t0, UsedAt: t0}, 5)
	must(t, err)
	// The same address, spaced and cased otherwise, is the same entry, used later.
	same := shipping("  mei   CHEN ")
	b, err := st.Wallet.SaveAddress(ctx, &wallet.Address{ID: uuid.New(), UserID: u.ID, Shipping: same, CreatedAt: t0.Add(time.Second), UsedAt: t0.Add(time.Second)}, 5)
	must(t, err)
	if b.ID != a.ID || !b.UsedAt.Equal(t0.Add(time.Second)) || b.Name != "Mei Chen" {
		t.Fatalf("saving the same address again = %+v, want entry %s used at +1s with its first spelling", b, a.ID)
	}
	c, err := st.Wallet.SaveAddress(ctx, &wallet.Address{ID: uuid.New(), UserID: u.ID, Shipping: shipping("Office"), CreatedAt: t0.Add(2 * time.Second), UsedAt: t0.Add(2 * time.Second)}, 5)
	must(t, err)
	list, err := st.Wallet.Addresses(ctx, u.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID != c.ID || list[1].ID != a.ID {
		t.Fatalf("addresses = %+v, want the office then Mei's", list)
	}
	// Using an older address makes it the newest; an earlier time never goes back.
	used, err := st.Wallet.UseAddress(ctx, u.ID, a.ID, t0.Add(3*time.Second))
	must(t, err)
	if used.ID != a.ID || used.Shipping != shipping("Mei Chen") {
		t.Fatalf("UseAddress = %+v", used)
	}
	_, err = st.Wallet.UseAddress(ctx, u.ID, a.ID, t0)
	must(t, err)
	list, err = st.Wallet.Addresses(ctx, u.ID)
	must(t, err)
	if list[0].ID != a.ID || !list[0].UsedAt.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("after use, addresses = %+v, want Mei's first, used at +3s", list)
	}
	// Another account sees, uses and deletes none of them.
	if l, err := st.Wallet.Addresses(ctx, other.ID); err != nil || len(l) != 0 {
		t.Fatalf("another account's book = %v, %v", l, err)
	}
	_, err = st.Wallet.UseAddress(ctx, other.ID, a.ID, t0)
	wantCode(t, err, apperr.NotFound)
	wantCode(t, st.Wallet.DeleteAddress(ctx, other.ID, a.ID), apperr.NotFound)
	must(t, st.Wallet.DeleteAddress(ctx, u.ID, a.ID))
	wantCode(t, st.Wallet.DeleteAddress(ctx, u.ID, a.ID), apperr.NotFound)
	_, err = st.Wallet.SaveAddress(ctx, &wallet.Address{ID: uuid.New(), UserID: uuid.New(), Shipping: shipping("Nobody"), CreatedAt: t0, UsedAt: t0}, 5)
	wantCode(t, err, apperr.NotFound)
}

// testAddressLimit saves many addresses at once: the book never holds more
// than its limit, and each save either lands or is refused with Conflict.
func testAddressLimit(t *testing.T, st WalletStores) {
	ctx := context.Background()
	u := walletUser(t, st, "many@example.com")
	const limit, tries = 3, 12
	var wg sync.WaitGroup
	errs := make([]error, tries)
	for i := range tries {
		wg.Go(func() {
			at := now()
			_, errs[i] = st.Wallet.SaveAddress(ctx, &wallet.Address{ID: uuid.New(), UserID: u.ID,
				Shipping: shipping(fmt.Sprintf("Name %d", i)), CreatedAt: at, UsedAt: at}, limit)
		})
	}
	wg.Wait()
	saved := 0
	for _, err := range errs {
		switch {
		case err == nil:
			saved++
		case apperr.CodeOf(err) != apperr.Conflict:
			t.Fatalf("save: %v, want success or Conflict", err)
		}
	}
	list, err := st.Wallet.Addresses(ctx, u.ID)
	must(t, err)
	if saved != limit || len(list) != limit {
		t.Fatalf("%d saves succeeded and the book holds %d, want %d and %d", saved, len(list), limit, limit)
	}
}

func testPaymentMethods(t *testing.T, st WalletStores) {
	ctx := context.Background()
	u := walletUser(t, st, "payer@example.com")
	_, err := st.Wallet.PaymentMethod(ctx, u.ID)
	wantCode(t, err, apperr.NotFound)
	t0 := now()
	must(t, st.Wallet.SetPaymentMethod(ctx, u.ID, &wallet.PaymentMethod{Provider: "test", Ref: "tok_slow", Label: "Visa •••• 3220", UpdatedAt: t0}))
	must(t, st.Wallet.SetPaymentMethod(ctx, u.ID, &wallet.PaymentMethod{Provider: "test", Ref: "tok_visa", Label: "Visa •••• 4242", UpdatedAt: t0.Add(time.Second)}))
	m, err := st.Wallet.PaymentMethod(ctx, u.ID)
	must(t, err)
	if m.Ref != "tok_visa" || m.Label != "Visa •••• 4242" || m.Provider != "test" || !m.UpdatedAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("payment method = %+v, want the last one set", m)
	}
	must(t, st.Wallet.ForgetPaymentMethod(ctx, u.ID))
	must(t, st.Wallet.ForgetPaymentMethod(ctx, u.ID))
	_, err = st.Wallet.PaymentMethod(ctx, u.ID)
	wantCode(t, err, apperr.NotFound)
	wantCode(t, st.Wallet.SetPaymentMethod(ctx, uuid.New(), &wallet.PaymentMethod{Provider: "test", Ref: "tok_visa", Label: "x", UpdatedAt: t0}), apperr.NotFound)

	if hide, err := st.Wallet.HidesPurchases(ctx, u.ID); err != nil || hide {
		t.Fatalf("HidesPurchases before choosing = %v, %v; want false", hide, err)
	}
	for _, want := range []bool{true, false, true} {
		must(t, st.Wallet.SetHidesPurchases(ctx, u.ID, want))
		if hide, err := st.Wallet.HidesPurchases(ctx, u.ID); err != nil || hide != want {
			t.Fatalf("HidesPurchases = %v, %v; want %v", hide, err, want)
		}
	}
	wantCode(t, st.Wallet.SetHidesPurchases(ctx, uuid.New(), true), apperr.NotFound)
}

func testFollows(t *testing.T, st WalletStores) {
	ctx := context.Background()
	u, v := walletUser(t, st, "fan@example.com"), walletUser(t, st, "fan2@example.com")
	t0 := now()
	mk := func(slug string) *brand.Brand {
		b := &brand.Brand{ID: uuid.New(), Slug: slug, Name: slug, CreatedAt: t0, UpdatedAt: t0}
		must(t, st.Brands.CreateBrand(ctx, b))
		return b
	}
	a, b := mk("maison-a"), mk("maison-b")
	must(t, st.Follows.Follow(ctx, b.ID, u.ID, t0))
	must(t, st.Follows.Follow(ctx, a.ID, u.ID, t0.Add(time.Second)))
	must(t, st.Follows.Follow(ctx, a.ID, u.ID, t0.Add(2*time.Second))) // a repeat changes nothing
	must(t, st.Follows.Follow(ctx, a.ID, v.ID, t0))
	wantCode(t, st.Follows.Follow(ctx, uuid.New(), u.ID, t0), apperr.NotFound)
	wantCode(t, st.Follows.Follow(ctx, a.ID, uuid.New(), t0), apperr.NotFound)

	if n, err := st.Follows.Followers(ctx, a.ID); err != nil || n != 2 {
		t.Fatalf("followers of a = %d, %v; want 2", n, err)
	}
	list, err := st.Follows.Followed(ctx, u.ID)
	must(t, err)
	if len(list) != 2 || list[0].ID != b.ID || list[1].ID != a.ID || list[1].Name != "maison-a" {
		t.Fatalf("followed = %+v, want b then a", list)
	}
	if ok, err := st.Follows.Following(ctx, b.ID, v.ID); err != nil || ok {
		t.Fatalf("v follows b = %v, %v; want false", ok, err)
	}
	must(t, st.Follows.Unfollow(ctx, a.ID, u.ID))
	must(t, st.Follows.Unfollow(ctx, a.ID, u.ID))
	if ok, err := st.Follows.Following(ctx, a.ID, u.ID); err != nil || ok {
		t.Fatalf("after unfollow, following = %v, %v", ok, err)
	}
	if n, err := st.Follows.Followers(ctx, a.ID); err != nil || n != 1 {
		t.Fatalf("followers of a after unfollow = %d, %v; want 1", n, err)
	}
}

// testFollowersTold: a public show going live tells the brand's followers
// once each, also one who asked to be told about the show; a members-only
// show tells only those who asked; another brand's followers hear nothing.
func testFollowersTold(t *testing.T, st WalletStores) {
	ctx := context.Background()
	fan, both, asked, other := walletUser(t, st, "fan@example.com"), walletUser(t, st, "both@example.com"),
		walletUser(t, st, "asked@example.com"), walletUser(t, st, "other@example.com")
	a, b := newBrand("maison-a"), newBrand("maison-b")
	must(t, st.Brands.CreateBrand(ctx, a))
	must(t, st.Brands.CreateBrand(ctx, b))
	must(t, st.Follows.Follow(ctx, a.ID, fan.ID, now()))
	must(t, st.Follows.Follow(ctx, a.ID, both.ID, now()))
	must(t, st.Follows.Follow(ctx, b.ID, other.ID, now()))

	public := newShow(a.ID, "Open runway", now().Add(time.Hour))
	members := newShow(a.ID, "Private salon", now().Add(2*time.Hour))
	members.Visibility = show.Members
	for _, sh := range []*show.Show{public, members} {
		must(t, st.Shows.CreateShow(ctx, sh))
		must(t, st.Shows.Subscribe(ctx, sh.ID, both.ID, now()))
		must(t, st.Shows.Subscribe(ctx, sh.ID, asked.ID, now()))
		_, err := st.Shows.Transition(ctx, sh.ID, show.Live, now())
		must(t, err)
	}
	want := map[*account.User][]uuid.UUID{
		fan:   {public.ID},
		both:  {members.ID, public.ID},
		asked: {members.ID, public.ID},
		other: nil,
	}
	for u, shows := range want {
		got, err := st.Shows.Notices(ctx, u.ID, 0)
		must(t, err)
		var ids []uuid.UUID
		for _, n := range got {
			ids = append(ids, n.ShowID)
		}
		if len(ids) != len(shows) {
			t.Fatalf("%s told about %v, want %v", u.Email, ids, shows)
		}
		for _, id := range shows {
			if !slices.Contains(ids, id) {
				t.Fatalf("%s told about %v, want %v", u.Email, ids, shows)
			}
		}
	}
}
