package postgres

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// BrandStore keeps brands and their admins.
type BrandStore struct{ *conn }

// CreateBrand inserts b. A slug already taken is a Conflict.
func (db BrandStore) CreateBrand(ctx context.Context, b *brand.Brand) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO brands (`+sqlstore.BrandCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		b.ID, b.Slug, b.Name, b.Story, b.LogoURL, b.Website, b.Flagship, b.CreatedAt, b.UpdatedAt)
	return storeErr("create brand", err)
}

// BrandByID returns the brand with the given ID.
func (db BrandStore) BrandByID(ctx context.Context, id uuid.UUID) (*brand.Brand, error) {
	b, err := scan.Brand(db.pool.QueryRow(ctx, `SELECT `+sqlstore.BrandCols+` FROM brands WHERE id = $1`, id))
	if err != nil {
		return nil, notFound("brand by id", "brand", err)
	}
	return b, nil
}

// BrandBySlug returns the brand with the given slug.
func (db BrandStore) BrandBySlug(ctx context.Context, slug string) (*brand.Brand, error) {
	b, err := scan.Brand(db.pool.QueryRow(ctx, `SELECT `+sqlstore.BrandCols+` FROM brands WHERE slug = $1`, slug))
	if err != nil {
		return nil, notFound("brand by slug", "brand", err)
	}
	return b, nil
}

// ListBrands lists every brand, oldest first.
func (db BrandStore) ListBrands(ctx context.Context) ([]brand.Brand, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.BrandCols+` FROM brands ORDER BY created_at, seq`)
	brands, err := collect(rows, err, scan.Brand)
	if err != nil {
		return nil, storeErr("list brands", err)
	}
	return brands, nil
}

// UpdateBrand writes every field of b but ID and CreatedAt.
func (db BrandStore) UpdateBrand(ctx context.Context, b *brand.Brand) error {
	tag, err := db.pool.Exec(ctx,
		`UPDATE brands SET slug = $2, name = $3, story = $4, logo_url = $5, website = $6, flagship = $7, updated_at = $8
		 WHERE id = $1`,
		b.ID, b.Slug, b.Name, b.Story, b.LogoURL, b.Website, b.Flagship, b.UpdatedAt)
	if err != nil {
		return storeErr("update brand", err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.NotFound, "brand not found")
	}
	return nil
}
