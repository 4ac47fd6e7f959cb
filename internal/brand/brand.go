// Package brand owns brands and their public hub profile (story, logo,
// flagship store). Catalogue and stock live in checkout; shows in show.
package brand

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Brand is a seller on Pavilion with a public hub page.
type Brand struct {
	ID        uuid.UUID `json:"id"`
	Slug      string    `json:"slug"` // unique, URL-safe
	Name      string    `json:"name"`
	Story     string    `json:"story"`
	LogoURL   string    `json:"logo_url"`
	Website   string    `json:"website"`
	Flagship  string    `json:"flagship"` // flagship store: address or description
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store persists brands. A duplicate slug is a Conflict; a missing brand NotFound.
type Store interface {
	CreateBrand(ctx context.Context, b *Brand) error
	BrandByID(ctx context.Context, id uuid.UUID) (*Brand, error)
	BrandBySlug(ctx context.Context, slug string) (*Brand, error)
	ListBrands(ctx context.Context) ([]Brand, error)
	// UpdateBrand writes every field but ID and CreatedAt.
	UpdateBrand(ctx context.Context, b *Brand) error
}
