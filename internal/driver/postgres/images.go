package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/images"
)

// ImageStore keeps uploaded images.
type ImageStore struct{ *conn }

// PutImage stores im and its variants in one transaction; an image already
// stored under im.ID is left as it is.
func (db ImageStore) PutImage(ctx context.Context, im *images.Image, variants []images.Variant) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO images (id, brand_id, user_id, width, height, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
			im.ID, nullBrand(im.BrandID), im.UserID, im.Width, im.Height, im.CreatedAt)
		if err != nil || tag.RowsAffected() == 0 {
			return err // already stored: its variants are too
		}
		for _, v := range variants {
			if _, err := tx.Exec(ctx, `INSERT INTO image_variants (image_id, width, height, content_type, data)
				VALUES ($1, $2, $3, $4, $5)`, im.ID, v.Width, v.Height, v.ContentType, v.Data); err != nil {
				return err
			}
		}
		return nil
	})
	return storeErr("put image", err)
}

// ImageByID returns an image with the widths of its variants.
func (db ImageStore) ImageByID(ctx context.Context, id string) (*images.Image, error) {
	var (
		im      images.Image
		brandID *uuid.UUID
	)
	err := db.pool.QueryRow(ctx, `SELECT i.id, i.brand_id, i.user_id, i.width, i.height, i.created_at,
			array(SELECT v.width FROM image_variants v WHERE v.image_id = i.id ORDER BY v.width)
		FROM images i WHERE i.id = $1`, id).
		Scan(&im.ID, &brandID, &im.UserID, &im.Width, &im.Height, &im.CreatedAt, &im.Widths)
	if err != nil {
		return nil, notFound("image by id", "image", err)
	}
	im.CreatedAt = im.CreatedAt.UTC()
	if brandID != nil {
		im.BrandID = *brandID
	}
	return &im, nil
}

// Variant returns the smallest variant of image id at least width wide, or
// the widest when none is.
func (db ImageStore) Variant(ctx context.Context, id string, width int) (*images.Variant, error) {
	v := images.Variant{ImageID: id}
	err := db.pool.QueryRow(ctx, `SELECT width, height, content_type, data FROM image_variants
		WHERE image_id = $1 ORDER BY width < $2, CASE WHEN width >= $2 THEN width ELSE -width END LIMIT 1`, id, width).
		Scan(&v.Width, &v.Height, &v.ContentType, &v.Data)
	if err != nil {
		return nil, notFound("image variant", "image", err)
	}
	return &v, nil
}

// nullBrand stores an image of no brand (an avatar) with a NULL brand.
func nullBrand(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}
