package web

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

func (s *Server) listBrands(w http.ResponseWriter, r *http.Request) error {
	list, err := s.Brands.ListBrands(r.Context())
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "brands", nonNil(list))
}

func (s *Server) createBrand(w http.ResponseWriter, r *http.Request) error {
	if _, err := requireRole(r, account.RoleAdmin); err != nil {
		return err
	}
	var in brandIn
	if err := decode(r, &in); err != nil {
		return err
	}
	var b brand.Brand
	in.apply(&b)
	if err := brand.Create(r.Context(), s.Brands, &b); err != nil {
		return err
	}
	return reply(w, http.StatusCreated, "brand", b)
}

// brandFor finds the brand named by the {id} path value: a UUID or a slug,
// so hub pages can have readable addresses.
func (s *Server) brandFor(r *http.Request) (*brand.Brand, error) {
	v := r.PathValue("id")
	if id, err := uuid.Parse(v); err == nil {
		return s.Brands.BrandByID(r.Context(), id)
	}
	b, err := s.Brands.BrandBySlug(r.Context(), v)
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		return nil, apperr.Errorf(apperr.NotFound, "brand %q not found", v)
	}
	return b, err
}

// adminBrand finds the brand and checks that the caller administers it.
func (s *Server) adminBrand(r *http.Request) (*brand.Brand, error) {
	u, err := requireUser(r)
	if err != nil {
		return nil, err
	}
	b, err := s.brandFor(r)
	if err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, b.ID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer brand %s", b.Slug)
	}
	return b, nil
}

// brandIn is what a client may set on a brand; absent fields stay as they are.
type brandIn struct {
	Slug     *string `json:"slug"`
	Name     *string `json:"name"`
	Story    *string `json:"story"`
	LogoURL  *string `json:"logo_url"`
	Website  *string `json:"website"`
	Flagship *string `json:"flagship"`
}

func (in *brandIn) apply(b *brand.Brand) {
	for _, f := range []struct{ dst, src *string }{
		{&b.Slug, in.Slug}, {&b.Name, in.Name}, {&b.Story, in.Story},
		{&b.LogoURL, in.LogoURL}, {&b.Website, in.Website}, {&b.Flagship, in.Flagship},
	} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
}

func (s *Server) getBrand(w http.ResponseWriter, r *http.Request) error {
	b, err := s.brandFor(r)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "brand", b)
}

func (s *Server) patchBrand(w http.ResponseWriter, r *http.Request) error {
	b, err := s.adminBrand(r)
	if err != nil {
		return err
	}
	var in brandIn
	if err := decode(r, &in); err != nil {
		return err
	}
	in.apply(b)
	if err := brand.Update(r.Context(), s.Brands, b); err != nil {
		return err
	}
	return reply(w, http.StatusOK, "brand", b)
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) error {
	b, err := s.brandFor(r)
	if err != nil {
		return err
	}
	list, err := s.Catalog.ListProducts(r.Context(), b.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "products", nonNil(list))
}

func (s *Server) createProduct(w http.ResponseWriter, r *http.Request) error {
	b, err := s.adminBrand(r)
	if err != nil {
		return err
	}
	var in checkout.NewProduct
	if err := decode(r, &in); err != nil {
		return err
	}
	p, err := s.Checkout.AddProduct(r.Context(), UserFrom(r.Context()), b.ID, in)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, "product", p)
}

func (s *Server) patchSKU(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "SKU")
	if err != nil {
		return err
	}
	var p checkout.SKUPatch
	if err := decode(r, &p); err != nil {
		return err
	}
	sku, err := s.Checkout.UpdateSKU(r.Context(), u, id, p)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "sku", sku)
}

// hubOut is a brand's public hub page: its profile, newest products and shows.
type hubOut struct {
	Brand       *brand.Brand       `json:"brand"`
	NewProducts []checkout.Product `json:"new_products"`
	Live        []show.Show        `json:"live"`
	Upcoming    []show.Show        `json:"upcoming"`
	Past        []show.Show        `json:"past"`
}

// hubProducts is how many of the newest products the hub shows.
const hubProducts = 8

// brandHub is the brand's public hub: profile, newest products, shows live
// now, upcoming (Pavilion Days first) and past (newest first), 20 of each.
// Members-only shows appear only for members and the brand's own admins.
func (s *Server) brandHub(w http.ResponseWriter, r *http.Request) error {
	b, err := s.brandFor(r)
	if err != nil {
		return err
	}
	u := UserFrom(r.Context())
	members := u.Has(account.RoleMember) || account.CanAdminBrand(u, b.ID)
	products, err := s.Catalog.ListProducts(r.Context(), b.ID)
	if err != nil {
		return err
	}
	slices.Reverse(products)
	out := hubOut{Brand: b, NewProducts: nonNil(products[:min(len(products), hubProducts)])}
	for _, q := range []struct {
		dst *[]show.Show
		f   show.Filter
	}{
		{&out.Live, show.Filter{States: []show.State{show.Live}}},
		{&out.Upcoming, show.Filter{States: []show.State{show.Scheduled}, EndsAfter: time.Now().UTC(), PavilionDayFirst: true}},
		{&out.Past, show.Filter{States: []show.State{show.Ended}, Newest: true}},
	} {
		q.f.BrandID, q.f.IncludeMembers, q.f.Limit = b.ID, members, 20
		list, err := s.Shows.ListShows(r.Context(), q.f)
		if err != nil {
			return err
		}
		*q.dst = nonNil(list)
	}
	return reply(w, http.StatusOK, "hub", out)
}

// patchProduct replaces a product's pictures, for its brand's admins: the
// pictures are usually uploaded first (POST /api/brands/{id}/images).
func (s *Server) patchProduct(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "product")
	if err != nil {
		return err
	}
	var in struct {
		Images *[]string `json:"images"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Images == nil {
		return apperr.Errorf(apperr.Invalid, "images is required")
	}
	p, err := s.Checkout.SetProductImages(r.Context(), u, id, *in.Images)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "product", p)
}
