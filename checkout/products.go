package checkout

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// NewProduct is what a brand admin sends for a new product and its SKUs.
type NewProduct struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Images      []string `json:"images"`
	SKUs        []NewSKU `json:"skus"`
}

// NewSKU is one variant of a NewProduct.
type NewSKU struct {
	Code       string            `json:"code"`
	Attributes map[string]string `json:"attributes"`
	PriceMinor int64             `json:"price_minor"`
	Currency   string            `json:"currency"`
	OnHand     int               `json:"on_hand"`
}

// AddProduct adds a product with its SKUs to the brand's catalogue, for the
// brand's admins, once it passes ValidateProduct.
func (s *Service) AddProduct(ctx context.Context, u *account.User, brandID uuid.UUID, req NewProduct) (*Product, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	if !account.CanAdminBrand(u, brandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this brand")
	}
	now := s.now()
	images := req.Images
	if images == nil {
		images = []string{}
	}
	p := &Product{ID: uuid.New(), BrandID: brandID, Name: req.Name, Description: req.Description, Images: images, CreatedAt: now}
	for _, k := range req.SKUs {
		if k.Attributes == nil {
			k.Attributes = map[string]string{}
		}
		p.SKUs = append(p.SKUs, SKU{
			ID: uuid.New(), ProductID: p.ID, BrandID: brandID, Code: k.Code, Attributes: k.Attributes,
			PriceMinor: k.PriceMinor, Currency: k.Currency, OnHand: k.OnHand, UpdatedAt: now,
		})
	}
	if err := ValidateProduct(p); err != nil {
		return nil, err
	}
	if err := s.Catalog.CreateProduct(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// SetProductImages replaces a product's pictures, for its brand's admins,
// once they pass ValidateImages, and returns the product as stored.
func (s *Service) SetProductImages(ctx context.Context, u *account.User, id uuid.UUID, images []string) (*Product, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	p, err := s.Catalog.ProductByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, p.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "only the brand's admins edit its products")
	}
	if images == nil {
		images = []string{}
	}
	if err := ValidateImages(images); err != nil {
		return nil, err
	}
	if err := s.Catalog.SetProductImages(ctx, id, images); err != nil {
		return nil, err
	}
	return s.Catalog.ProductByID(ctx, id)
}
