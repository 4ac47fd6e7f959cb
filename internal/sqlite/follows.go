package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
)

// Follow records that the user follows the brand; a repeat changes nothing.
func (db *DB) Follow(ctx context.Context, brandID, userID uuid.UUID, at time.Time) error {
	return db.write(ctx, "follow", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM brands WHERE id = ?`, brandID).Scan(&n); err != nil {
			return err
		} else if n == 0 {
			return apperr.Errorf(apperr.NotFound, "brand not found")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO brand_follows (brand_id, user_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT (brand_id, user_id) DO NOTHING`, brandID, userID, micros(at))
		return refErr(err, "user")
	})
}

// Unfollow forgets a follow; none is not an error.
func (db *DB) Unfollow(ctx context.Context, brandID, userID uuid.UUID) error {
	_, err := db.exec(ctx, `DELETE FROM brand_follows WHERE brand_id = ? AND user_id = ?`, brandID, userID)
	return storeErr("unfollow", err)
}

// Following reports whether the user follows the brand.
func (db *DB) Following(ctx context.Context, brandID, userID uuid.UUID) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM brand_follows WHERE brand_id = ? AND user_id = ?`, brandID, userID).Scan(&n)
	return n > 0, storeErr("following", err)
}

// Followers counts the brand's followers.
func (db *DB) Followers(ctx context.Context, brandID uuid.UUID) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM brand_follows WHERE brand_id = ?`, brandID).Scan(&n)
	return n, storeErr("followers", err)
}

// Followed lists the brands the user follows, the first followed first.
func (db *DB) Followed(ctx context.Context, userID uuid.UUID) ([]brand.Brand, error) {
	list, err := queryAll(ctx, db.r, scanBrand, `SELECT `+followedCols+` FROM brand_follows f JOIN brands b ON b.id = f.brand_id
		WHERE f.user_id = ? ORDER BY f.created_at, b.slug`, userID)
	return list, storeErr("followed brands", err)
}

// followedCols are brandCols read through the join.
const followedCols = `b.id, b.slug, b.name, b.story, b.logo_url, b.website, b.flagship, b.created_at, b.updated_at`

var _ brand.Follows = (*DB)(nil)
