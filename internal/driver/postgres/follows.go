package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

// FollowStore keeps who follows which brand, and which shows their
// followers were told about.
type FollowStore struct{ *conn }

// Follow records that the user follows the brand; a repeat changes nothing.
func (db FollowStore) Follow(ctx context.Context, brandID, userID uuid.UUID, at time.Time) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO brand_follows (brand_id, user_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (brand_id, user_id) DO NOTHING`, brandID, userID, at)
	return storeErr("follow", err)
}

// Unfollow forgets a follow; none is not an error.
func (db FollowStore) Unfollow(ctx context.Context, brandID, userID uuid.UUID) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM brand_follows WHERE brand_id = $1 AND user_id = $2`, brandID, userID)
	return storeErr("unfollow", err)
}

// Following reports whether the user follows the brand.
func (db FollowStore) Following(ctx context.Context, brandID, userID uuid.UUID) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM brand_follows WHERE brand_id = $1 AND user_id = $2)`, brandID, userID).Scan(&ok)
	return ok, storeErr("following", err)
}

// Followers counts the brand's followers.
func (db FollowStore) Followers(ctx context.Context, brandID uuid.UUID) (int, error) {
	var n int
	err := db.pool.QueryRow(ctx, `SELECT count(*) FROM brand_follows WHERE brand_id = $1`, brandID).Scan(&n)
	return n, storeErr("followers", err)
}

// Followed lists the brands the user follows, the first followed first.
func (db FollowStore) Followed(ctx context.Context, userID uuid.UUID) ([]brand.Brand, error) {
	rows, err := db.pool.Query(ctx, `SELECT b.id, b.slug, b.name, b.story, b.logo_url, b.website, b.flagship, b.created_at, b.updated_at
		FROM brand_follows f JOIN brands b ON b.id = f.brand_id WHERE f.user_id = $1 ORDER BY f.created_at, b.slug`, userID)
	list, err := collect(rows, err, scan.Brand)
	return list, storeErr("followed brands", err)
}

var _ brand.Follows = (*DB)(nil)

// NoticeFollowers stores a notice for every follower of the show's brand,
// once per show and kind (see show.FollowerNotices). The show's row is
// locked first, so two admins pressing at once send it once.
func (db FollowStore) NoticeFollowers(ctx context.Context, showID uuid.UUID, kind, text string, at time.Time) (int, error) {
	var told int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var brandID uuid.UUID
		err := tx.QueryRow(ctx, `SELECT brand_id FROM shows WHERE id = $1 FOR UPDATE`, showID).Scan(&brandID)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Errorf(apperr.NotFound, "show not found")
		}
		if err != nil {
			return err
		}
		var sent bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notices WHERE show_id = $1 AND kind = $2)`, showID, kind).Scan(&sent); err != nil {
			return err
		}
		if sent {
			return apperr.Errorf(apperr.Conflict, "the followers were already told about this show")
		}
		tag, err := tx.Exec(ctx,
			`INSERT INTO notices (id, user_id, show_id, kind, text, created_at)
			 SELECT gen_random_uuid(), user_id, $1, $2, $3, $4 FROM brand_follows WHERE brand_id = $5`,
			showID, kind, text, pgTime(at), brandID)
		told = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, storeErr("notice followers", err)
	}
	return int(told), nil
}

var _ show.FollowerNotices = (*DB)(nil)
