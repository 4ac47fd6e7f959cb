package sqlstore

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/brand"
)

// BrandStore keeps brands.
type BrandStore struct{ db *Conn }

// CreateBrand inserts b. A slug already taken is a Conflict.
func (s BrandStore) CreateBrand(ctx context.Context, b *brand.Brand) error {
	d := s.db.Dialect
	_, err := s.db.Exec(ctx, `INSERT INTO brands (`+BrandCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		b.ID, b.Slug, b.Name, b.Story, b.LogoURL, b.Website, b.Flagship, d.Time(b.CreatedAt), d.Time(b.UpdatedAt))
	return s.db.Errs.Wrap("create brand", err)
}

// BrandByID returns the brand with the given ID.
func (s BrandStore) BrandByID(ctx context.Context, id uuid.UUID) (*brand.Brand, error) {
	return readOne(ctx, s.db, "brand by id", "brand", s.db.Scan.Brand,
		`SELECT `+BrandCols+` FROM brands WHERE id = $1`, id)
}

// BrandBySlug returns the brand with the given slug.
func (s BrandStore) BrandBySlug(ctx context.Context, slug string) (*brand.Brand, error) {
	return readOne(ctx, s.db, "brand by slug", "brand", s.db.Scan.Brand,
		`SELECT `+BrandCols+` FROM brands WHERE slug = $1`, slug)
}

// ListBrands lists every brand, oldest first.
func (s BrandStore) ListBrands(ctx context.Context) ([]brand.Brand, error) {
	brands, err := QueryAll(ctx, s.db.Read, s.db.Scan.Brand, `SELECT `+BrandCols+` FROM brands ORDER BY created_at, seq`)
	if err != nil {
		return nil, s.db.Errs.Wrap("list brands", err)
	}
	return brands, nil
}

// UpdateBrand writes every field of b but ID and CreatedAt.
func (s BrandStore) UpdateBrand(ctx context.Context, b *brand.Brand) error {
	return s.db.Errs.Wrap("update brand", s.db.ExecOne(ctx, "brand",
		`UPDATE brands SET slug = $1, name = $2, story = $3, logo_url = $4, website = $5, flagship = $6, updated_at = $7
		 WHERE id = $8`,
		b.Slug, b.Name, b.Story, b.LogoURL, b.Website, b.Flagship, s.db.Dialect.Time(b.UpdatedAt), b.ID))
}
