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

// NoticeStore tells a brand's followers about its shows
// (show.FollowerNotices): PostgreSQL in one INSERT … SELECT, SQLite one
// notice at a time. The follows themselves are sqlstore.FollowStore.
type NoticeStore struct{ *conn }

var _ brand.Follows = (*DB)(nil)

// NoticeFollowers stores a notice for every follower of the show's brand,
// once per show and kind (see show.FollowerNotices).
func (db NoticeStore) NoticeFollowers(ctx context.Context, showID uuid.UUID, kind, text string, at time.Time) (int, error) {
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
