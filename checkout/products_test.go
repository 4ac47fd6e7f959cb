package checkout

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// productCatalog holds products in memory; the ledger's own checks are the
// drivers' (storetest).
type productCatalog struct {
	Store
	products map[uuid.UUID]*Product
	writes   int
}

func (c *productCatalog) CreateProduct(_ context.Context, p *Product) error {
	c.writes++
	c.products[p.ID] = p
	return nil
}

func (c *productCatalog) ProductByID(_ context.Context, id uuid.UUID) (*Product, error) {
	if p, ok := c.products[id]; ok {
		cp := *p
		return &cp, nil
	}
	return nil, apperr.Errorf(apperr.NotFound, "product not found")
}

func (c *productCatalog) SetProductImages(_ context.Context, id uuid.UUID, images []string) error {
	c.writes++
	c.products[id].Images = images
	return nil
}

// TestProductRules: the catalogue's rules hold whoever calls the service:
// only the brand's admins add products and change their pictures, and
// what they send is validated before anything is stored.
func TestProductRules(t *testing.T) {
	ctx := context.Background()
	brandID := uuid.New()
	admin := &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{brandID}}
	rival := &account.User{ID: uuid.New(), Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{uuid.New()}}
	cat := &productCatalog{products: map[uuid.UUID]*Product{}}
	svc := &Service{Catalog: cat}
	good := NewProduct{Name: "Bag", SKUs: []NewSKU{{Code: "BAG-1", PriceMinor: 1000, Currency: "EUR", OnHand: 3}}}
	for _, tc := range []struct {
		name string
		u    *account.User
		req  NewProduct
		want apperr.Code
	}{
		{"anonymous", nil, good, apperr.Unauthorized},
		{"another brand's admin", rival, good, apperr.Forbidden},
		{"no SKU", admin, NewProduct{Name: "Bag"}, apperr.Invalid},
		{"no name", admin, NewProduct{SKUs: good.SKUs}, apperr.Invalid},
		{"bad currency", admin, NewProduct{Name: "Bag", SKUs: []NewSKU{{Code: "B", PriceMinor: 1, Currency: "euro"}}}, apperr.Invalid},
		{"bad image", admin, NewProduct{Name: "Bag", Images: []string{"javascript:alert(1)"}, SKUs: good.SKUs}, apperr.Invalid},
	} {
		if p, err := svc.AddProduct(ctx, tc.u, brandID, tc.req); apperr.CodeOf(err) != tc.want || p != nil {
			t.Errorf("%s: AddProduct = %v, %v; want %s", tc.name, p, err, tc.want)
		}
	}
	if cat.writes != 0 {
		t.Fatalf("refused products were stored: %d writes", cat.writes)
	}
	p, err := svc.AddProduct(ctx, admin, brandID, good)
	if err != nil {
		t.Fatal(err)
	}
	if p.BrandID != brandID || len(p.SKUs) != 1 || p.SKUs[0].BrandID != brandID || p.SKUs[0].ProductID != p.ID || p.Images == nil || p.SKUs[0].Attributes == nil {
		t.Fatalf("product = %+v", p)
	}

	writes := cat.writes
	for _, tc := range []struct {
		name   string
		u      *account.User
		id     uuid.UUID
		images []string
		want   apperr.Code
	}{
		{"anonymous", nil, p.ID, []string{"/media/abc"}, apperr.Unauthorized},
		{"another brand's admin", rival, p.ID, []string{"/media/abc"}, apperr.Forbidden},
		{"missing product", admin, uuid.New(), []string{"/media/abc"}, apperr.NotFound},
		{"bad image", admin, p.ID, []string{"javascript:alert(1)"}, apperr.Invalid},
	} {
		if got, err := svc.SetProductImages(ctx, tc.u, tc.id, tc.images); apperr.CodeOf(err) != tc.want || got != nil {
			t.Errorf("%s: SetProductImages = %v, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	if cat.writes != writes {
		t.Fatal("refused pictures were stored")
	}
	got, err := svc.SetProductImages(ctx, admin, p.ID, []string{"/media/abc"})
	if err != nil || len(got.Images) != 1 || got.Images[0] != "/media/abc" {
		t.Fatalf("SetProductImages = %+v, %v", got, err)
	}
}
