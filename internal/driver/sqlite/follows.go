package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

// FollowStore keeps who follows which brand, and which shows their
// followers were told about.
type FollowStore struct{ *conn }

// Follow records that the user follows the brand; a repeat changes nothing.
func (db FollowStore) Follow(ctx context.Context, brandID, userID uuid.UUID, at time.Time) error {
	return db.write(ctx, "follow", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM brands WHERE id = $1`, brandID).Scan(&n); err != nil {
			return err
		} else if n == 0 {
			return apperr.Errorf(apperr.NotFound, "brand not found")
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO brand_follows (brand_id, user_id, created_at) VALUES ($1, $2, $3)
			ON CONFLICT (brand_id, user_id) DO NOTHING`, brandID, userID, micros(at))
		return refErr(err, "user")
	})
}

// Unfollow forgets a follow; none is not an error.
func (db FollowStore) Unfollow(ctx context.Context, brandID, userID uuid.UUID) error {
	_, err := db.exec(ctx, `DELETE FROM brand_follows WHERE brand_id = $1 AND user_id = $2`, brandID, userID)
	return storeErr("unfollow", err)
}

// Following reports whether the user follows the brand.
func (db FollowStore) Following(ctx context.Context, brandID, userID uuid.UUID) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM brand_follows WHERE brand_id = $1 AND user_id = $2`, brandID, userID).Scan(&n)
	return n > 0, storeErr("following", err)
}

// Followers counts the brand's followers.
func (db FollowStore) Followers(ctx context.Context, brandID uuid.UUID) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM brand_follows WHERE brand_id = $1`, brandID).Scan(&n)
	return n, storeErr("followers", err)
}

// Followed lists the brands the user follows, the first followed first.
func (db FollowStore) Followed(ctx context.Context, userID uuid.UUID) ([]brand.Brand, error) {
	list, err := queryAll(ctx, db.r, scan.Brand, `SELECT `+followedCols+` FROM brand_follows f JOIN brands b ON b.id = f.brand_id
		WHERE f.user_id = $1 ORDER BY f.created_at, b.slug`, userID)
	return list, storeErr("followed brands", err)
}

// followedCols are sqlstore.BrandCols read through the join.
const followedCols = `b.id, b.slug, b.name, b.story, b.logo_url, b.website, b.flagship, b.created_at, b.updated_at`

var _ brand.Follows = (*DB)(nil)

// NoticeFollowers stores a notice for every follower of the show's brand,
// once per show and kind (see show.FollowerNotices).
func (db FollowStore) NoticeFollowers(ctx context.Context, showID uuid.UUID, kind, text string, at time.Time) (int, error) {
	var told int
	err := db.write(ctx, "notice followers", func(tx *sql.Tx) error {
		var brandID uuid.UUID
		if err := tx.QueryRowContext(ctx, `SELECT brand_id FROM shows WHERE id = $1`, showID).Scan(&brandID); err != nil {
			return noRows(err, "show")
		}
		var sent int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notices WHERE show_id = $1 AND kind = $2`, showID, kind).Scan(&sent); err != nil {
			return err
		}
		if sent > 0 {
			return apperr.Errorf(apperr.Conflict, "the followers were already told about this show")
		}
		followers, err := queryAll(ctx, tx, func(r row) (*uuid.UUID, error) {
			var u uuid.UUID
			return &u, r.Scan(&u)
		}, `SELECT user_id FROM brand_follows WHERE brand_id = $1 ORDER BY user_id`, brandID)
		if err != nil {
			return err
		}
		for _, u := range followers {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO notices (id, user_id, show_id, kind, text, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				uuid.New(), u, showID, kind, text, micros(at)); err != nil {
				return err
			}
		}
		told = len(followers)
		return nil
	})
	return told, err
}

var _ show.FollowerNotices = (*DB)(nil)
