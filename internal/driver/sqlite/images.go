package sqlite

import (
	"context"
	"database/sql"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/images"
)

// ImageStore keeps uploaded images.
type ImageStore struct{ *conn }

// PutImage stores im and its variants in one transaction; an image already
// stored under im.ID is left as it is.
func (db ImageStore) PutImage(ctx context.Context, im *images.Image, variants []images.Variant) error {
	return db.write(ctx, "put image", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO images (id, brand_id, user_id, width, height, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
			im.ID, nullBrand(im.BrandID), im.UserID, im.Width, im.Height, micros(im.CreatedAt))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // already stored: its variants are too
		}
		for _, v := range variants {
			if _, err := tx.ExecContext(ctx, `INSERT INTO image_variants (image_id, width, height, content_type, data)
				VALUES ($1, $2, $3, $4, $5)`, im.ID, v.Width, v.Height, v.ContentType, v.Data); err != nil {
				return err
			}
		}
		return nil
	})
}

// ImageByID returns an image with the widths of its variants.
func (db ImageStore) ImageByID(ctx context.Context, id string) (*images.Image, error) {
	var im images.Image
	err := db.read(ctx, "image by id", func(tx *sql.Tx) error {
		var brandID sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT id, brand_id, user_id, width, height, created_at FROM images WHERE id = $1`, id).
			Scan(&im.ID, &brandID, &im.UserID, &im.Width, &im.Height, asTime(&im.CreatedAt))
		if err != nil {
			return noRows(err, "image")
		}
		if brandID.Valid {
			if im.BrandID, err = uuid.Parse(brandID.String); err != nil {
				return err
			}
		}
		rows, err := tx.QueryContext(ctx, `SELECT width FROM image_variants WHERE image_id = $1 ORDER BY width`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var w int
			if err := rows.Scan(&w); err != nil {
				return err
			}
			im.Widths = append(im.Widths, w)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return &im, nil
}

// Variant returns the smallest variant of image id at least width wide, or
// the widest when none is.
func (db ImageStore) Variant(ctx context.Context, id string, width int) (*images.Variant, error) {
	v := images.Variant{ImageID: id}
	err := db.r.QueryRowContext(ctx, `SELECT width, height, content_type, data FROM image_variants
		WHERE image_id = $1 ORDER BY width < $2, CASE WHEN width >= $3 THEN width ELSE -width END LIMIT 1`, id, width, width).
		Scan(&v.Width, &v.Height, &v.ContentType, &v.Data)
	if err != nil {
		return nil, storeErr("image variant", noRows(err, "image"))
	}
	return &v, nil
}

// nullBrand stores an image of no brand (an avatar) with a NULL brand.
func nullBrand(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}
