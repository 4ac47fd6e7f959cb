// Package demo seeds a small, believable data set — a luxury brand with a hub
// profile, a host, a viewer, a member, products with stock, and a scheduled
// show with offers — so a fresh server has something to watch and buy.
// Seeding is idempotent: every demo row has a fixed identity and is created
// only when missing.
package demo

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/images"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Password is every demo account's password. The demo is for trying
// Pavilion out; an operator going to production does not run it.
const Password = "pavilion-demo"

// The demo accounts' emails, by role.
const (
	AdminEmail      = "admin@pavilion.example"
	BrandAdminEmail = "brand@pavilion.example"
	HostEmail       = "host@pavilion.example"
	ViewerEmail     = "viewer@pavilion.example"
	MemberEmail     = "member@pavilion.example"
)

const brandSlug = "maison-lumiere"

// namespace makes the demo's fixed UUIDs (version 5, from names).
var namespace = uuid.MustParse("6f1d3a52-8c0e-4a7b-9d55-2b7f0c9e1a44")

func id(name string) uuid.UUID { return uuid.NewSHA1(namespace, []byte(name)) }

// ShowID is the demo show's fixed ID.
var ShowID = id("show/autumn-runway")

// Deps are the stores and services the demo writes through.
type Deps struct {
	Accounts *account.Service
	Brands   brand.Store
	Shows    show.Store
	Catalog  checkout.Store
	// Images, when set, stores the demo's pictures (see pictures.go); nil:
	// the demo uses the SVGs under /static/demo.
	Images *images.Service
	Now    func() time.Time // zero: time.Now
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

func notFound(err error) bool { return errors.Is(err, apperr.E(apperr.NotFound)) }

// Seed creates whatever part of the demo data is missing.
func Seed(ctx context.Context, d Deps) error {
	now := d.now()
	b, err := d.Brands.BrandBySlug(ctx, brandSlug)
	if notFound(err) {
		b = &brand.Brand{
			ID: id("brand"), Slug: brandSlug, Name: "Maison Lumière",
			Story: "Founded in Lyon in 1921 as a silk atelier, Maison Lumière makes quilted leather goods, carrés and " +
				"runway sneakers in small numbers. Every season opens with a live runway on Pavilion.",
			LogoURL: "/static/demo/logo.svg", Website: "https://maison-lumiere.example",
			Flagship:  "12 Rue de la République, 69002 Lyon · Mon–Sat 10:00–19:00",
			CreatedAt: now, UpdatedAt: now,
		}
		err = d.Brands.CreateBrand(ctx, b)
	}
	if err != nil {
		return err
	}

	users := map[string]account.NewUser{
		AdminEmail:      {DisplayName: "Pavilion Admin", Roles: []account.Role{account.RoleAdmin}},
		BrandAdminEmail: {DisplayName: "Camille (Maison Lumière)", Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{b.ID}},
		HostEmail:       {DisplayName: "Lina Host", Roles: []account.Role{account.RoleHost}},
		ViewerEmail:     {DisplayName: "Vic Viewer"},
		MemberEmail:     {DisplayName: "Mei Member", Roles: []account.Role{account.RoleMember}},
	}
	var hostID, adminID uuid.UUID
	for _, email := range []string{AdminEmail, BrandAdminEmail, HostEmail, ViewerEmail, MemberEmail} {
		u, _, err := d.Accounts.Store.UserByEmail(ctx, email)
		if notFound(err) {
			n := users[email]
			n.Email, n.Password = email, Password
			u, err = d.Accounts.Create(ctx, n)
		}
		if err != nil {
			return err
		}
		switch email {
		case HostEmail:
			hostID = u.ID
		case BrandAdminEmail:
			adminID = u.ID
		}
	}

	// The pictures are stored only for what is being created: a restart of
	// `serve --demo` finds everything in place and stores nothing.
	// pics gives the stored pictures' URLs, or fallback without Images.
	pics := func(fallback string, names ...string) ([]string, error) {
		if d.Images == nil {
			return []string{fallback}, nil
		}
		out := make([]string, 0, len(names))
		for _, n := range names {
			url, err := upload(ctx, d.Images, b.ID, adminID, n, now)
			if err != nil {
				return nil, err
			}
			out = append(out, url)
		}
		return out, nil
	}
	if d.Images != nil {
		if host, err := d.Accounts.Store.UserByID(ctx, hostID); err == nil && host.AvatarURL == "" {
			url, err := upload(ctx, d.Images, uuid.Nil, hostID, "portrait", now)
			if err != nil {
				return err
			}
			if err := d.Accounts.Store.SetAvatar(ctx, hostID, url); err != nil {
				return err
			}
		}
		if b.LogoURL == "/static/demo/logo.svg" {
			logo, err := pics("", "logo")
			if err != nil {
				return err
			}
			b.LogoURL, b.UpdatedAt = logo[0], now
			if err := d.Brands.UpdateBrand(ctx, b); err != nil {
				return err
			}
		}
	}

	products := []*checkout.Product{
		product(b.ID, "Quilted Lumière bag", "Lambskin, gold-tone chain, hand-quilted in Lyon.", now,
			sku("QLB-NOIR", 245000, 12, map[string]string{"colour": "noir"}),
			sku("QLB-IVOIRE", 245000, 8, map[string]string{"colour": "ivoire"})),
		product(b.ID, "Silk carré 90", "Twill silk, hand-rolled edges, the Runway print.", now,
			sku("CARRE-ROUGE", 45000, 60, map[string]string{"colour": "rouge"}),
			sku("CARRE-BLEU", 45000, 60, map[string]string{"colour": "bleu"})),
		product(b.ID, "Runway sneaker", "Calfskin upper, rubber sole, as seen on the runway.", now,
			sku("RS-38", 69000, 20, map[string]string{"size": "38"}),
			sku("RS-40", 69000, 20, map[string]string{"size": "40"}),
			sku("RS-42", 69000, 20, map[string]string{"size": "42"})),
	}
	pictures := [][]string{{"bag-noir", "bag-ivoire"}, {"carre-rouge", "carre-bleu"}, {"sneaker"}}
	for i, p := range products {
		if _, err := d.Catalog.ProductByID(ctx, p.ID); notFound(err) {
			if p.Images, err = pics("/static/demo/product.svg", pictures[i]...); err != nil {
				return err
			}
			err = d.Catalog.CreateProduct(ctx, p)
			if err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}

	if _, err := d.Shows.ShowByID(ctx, ShowID); notFound(err) {
		cover, err := pics("", "cover")
		if err != nil {
			return err
		}
		start := now.Add(30 * time.Minute).Truncate(time.Minute)
		sh := &show.Show{
			ID: ShowID, BrandID: b.ID, Title: "Autumn Runway Live",
			Description: "The autumn collection, live from the Lyon atelier: the Lumière bag in two colours, " +
				"the Runway carré and the sneaker, at show prices for the length of the show.",
			Kind: show.KindShow, Visibility: show.Public, State: show.Scheduled,
			StartsAt: start, EndsAt: start.Add(90 * time.Minute), TimeZone: "Europe/Paris",
			HostIDs: []uuid.UUID{hostID}, CoverURL: cover[0], CreatedAt: now, UpdatedAt: now,
		}
		if err := d.Shows.CreateShow(ctx, sh); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}

	for _, o := range Offers(now) {
		if _, err := d.Catalog.OfferByID(ctx, o.ID); notFound(err) {
			if err := d.Catalog.CreateOffer(ctx, &o); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Offers are the demo show's offers: a limited bag (one per customer), the
// carré and a sneaker at show prices, then the other colours and sizes of
// the same products (so the player has variants to choose from). The first
// three keep their places: tests and tools refer to them by index.
func Offers(now time.Time) []checkout.Offer {
	offer := func(code string, price int64, allocated, limit int) checkout.Offer {
		return checkout.Offer{ID: id("offer/" + code), ShowID: ShowID, SKUID: id("sku/" + code), PriceMinor: price, Currency: "EUR",
			Allocated: allocated, PerCustomerLimit: limit, CreatedAt: now}
	}
	return []checkout.Offer{
		offer("QLB-NOIR", 220000, 10, 1),
		offer("CARRE-ROUGE", 39000, 50, 2),
		offer("RS-40", 59000, 15, 2),
		offer("QLB-IVOIRE", 220000, 6, 1),
		offer("CARRE-BLEU", 39000, 40, 2),
		offer("RS-38", 59000, 10, 2),
		offer("RS-42", 59000, 10, 2),
	}
}

func product(brandID uuid.UUID, name, desc string, now time.Time, skus ...checkout.SKU) *checkout.Product {
	p := &checkout.Product{ID: id("product/" + name), BrandID: brandID, Name: name, Description: desc,
		CreatedAt: now}
	for _, s := range skus {
		s.ProductID, s.BrandID, s.UpdatedAt = p.ID, brandID, now
		p.SKUs = append(p.SKUs, s)
	}
	return p
}

func sku(code string, price int64, onHand int, attrs map[string]string) checkout.SKU {
	return checkout.SKU{ID: id("sku/" + code), Code: code, Attributes: attrs, PriceMinor: price, Currency: "EUR", OnHand: onHand}
}
