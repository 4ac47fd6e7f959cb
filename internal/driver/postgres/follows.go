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

// NoticeStore tells a brand's followers about its shows
// (show.FollowerNotices): PostgreSQL in one INSERT … SELECT, SQLite one
// notice at a time. The follows themselves are sqlstore.FollowStore.
type NoticeStore struct{ *conn }

var _ brand.Follows = (*DB)(nil)

// NoticeFollowers stores a notice for every follower of the show's brand,
// once per show and kind (see show.FollowerNotices). The show's row is
// locked first, so two admins pressing at once send it once.
func (db NoticeStore) NoticeFollowers(ctx context.Context, showID uuid.UUID, kind, text string, at time.Time) (int, error) {
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
