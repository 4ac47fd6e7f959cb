package sqlstore

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/images"
)

// ImageStore keeps uploaded images.
type ImageStore struct{ db *Conn }

// PutImage stores im and its variants in one transaction; an image already
// stored under im.ID is left as it is. An image of no brand (an avatar) is
// stored with a NULL brand.
func (s ImageStore) PutImage(ctx context.Context, im *images.Image, variants []images.Variant) error {
	return s.db.Errs.Wrap("put image", s.db.Tx(ctx, func(tx Querier) error {
		brandID := uuid.NullUUID{UUID: im.BrandID, Valid: im.BrandID != uuid.Nil}
		n, err := tx.Exec(ctx, `INSERT INTO images (id, brand_id, user_id, width, height, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
			im.ID, brandID, im.UserID, im.Width, im.Height, s.db.Dialect.Time(im.CreatedAt))
		if err != nil || n == 0 {
			return err // already stored: its variants are too
		}
		for _, v := range variants {
			if _, err := tx.Exec(ctx, `INSERT INTO image_variants (image_id, width, height, content_type, data)
				VALUES ($1, $2, $3, $4, $5)`, im.ID, v.Width, v.Height, v.ContentType, v.Data); err != nil {
				return err
			}
		}
		return nil
	}))
}

// ImageByID returns an image with the widths of its variants. An image and
// its variants are written in one transaction and never change, so two
// reads see them whole.
func (s ImageStore) ImageByID(ctx context.Context, id string) (*images.Image, error) {
	var (
		im      images.Image
		brandID uuid.NullUUID
	)
	err := s.db.Read.QueryRow(ctx, `SELECT id, brand_id, user_id, width, height, created_at FROM images WHERE id = $1`, id).
		Scan(&im.ID, &brandID, &im.UserID, &im.Width, &im.Height, s.db.Scan.Time(&im.CreatedAt))
	if err != nil {
		return nil, s.db.Errs.Wrap("image by id", NotFound(err, "image"))
	}
	im.BrandID = brandID.UUID
	widths, err := QueryAll(ctx, s.db.Read, func(r Row) (*int, error) {
		var w int
		return &w, r.Scan(&w)
	}, `SELECT width FROM image_variants WHERE image_id = $1 ORDER BY width`, id)
	if err != nil {
		return nil, s.db.Errs.Wrap("image by id", err)
	}
	if len(widths) > 0 {
		im.Widths = widths
	}
	return &im, nil
}

// Variant returns the smallest variant of image id at least width wide, or
// the widest when none is.
func (s ImageStore) Variant(ctx context.Context, id string, width int) (*images.Variant, error) {
	v := images.Variant{ImageID: id}
	err := s.db.Read.QueryRow(ctx, `SELECT width, height, content_type, data FROM image_variants
		WHERE image_id = $1 ORDER BY width < $2, CASE WHEN width >= $2 THEN width ELSE -width END LIMIT 1`, id, width).
		Scan(&v.Width, &v.Height, &v.ContentType, &v.Data)
	if err != nil {
		return nil, s.db.Errs.Wrap("image variant", NotFound(err, "image"))
	}
	return &v, nil
}
