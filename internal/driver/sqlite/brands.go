package sqlite

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// BrandStore keeps brands and their admins.
type BrandStore struct{ *conn }

// CreateBrand inserts b. A taken slug is a Conflict.
func (db BrandStore) CreateBrand(ctx context.Context, b *brand.Brand) error {
	_, err := db.exec(ctx, `INSERT INTO brands (`+sqlstore.BrandCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		b.ID, b.Slug, b.Name, b.Story, b.LogoURL, b.Website, b.Flagship, micros(b.CreatedAt), micros(b.UpdatedAt))
	return storeErr("create brand", err)
}

// BrandByID returns the brand with the given ID.
func (db BrandStore) BrandByID(ctx context.Context, id uuid.UUID) (*brand.Brand, error) {
	b, err := scan.Brand(db.r.QueryRowContext(ctx, `SELECT `+sqlstore.BrandCols+` FROM brands WHERE id = $1`, id))
	if err != nil {
		return nil, storeErr("brand by id", noRows(err, "brand"))
	}
	return b, nil
}

// BrandBySlug returns the brand with the given slug.
func (db BrandStore) BrandBySlug(ctx context.Context, slug string) (*brand.Brand, error) {
	b, err := scan.Brand(db.r.QueryRowContext(ctx, `SELECT `+sqlstore.BrandCols+` FROM brands WHERE slug = $1`, slug))
	if err != nil {
		return nil, storeErr("brand by slug", noRows(err, "brand"))
	}
	return b, nil
}

// ListBrands lists every brand, oldest first.
func (db BrandStore) ListBrands(ctx context.Context) ([]brand.Brand, error) {
	brands, err := queryAll(ctx, db.r, scan.Brand, `SELECT `+sqlstore.BrandCols+` FROM brands ORDER BY created_at, seq`)
	return brands, storeErr("list brands", err)
}

// UpdateBrand writes every field but ID and CreatedAt.
func (db BrandStore) UpdateBrand(ctx context.Context, b *brand.Brand) error {
	return storeErr("update brand", db.execOne(ctx, "brand",
		`UPDATE brands SET slug = $1, name = $2, story = $3, logo_url = $4, website = $5, flagship = $6, updated_at = $7
		 WHERE id = $8`,
		b.Slug, b.Name, b.Story, b.LogoURL, b.Website, b.Flagship, micros(b.UpdatedAt), b.ID))
}
