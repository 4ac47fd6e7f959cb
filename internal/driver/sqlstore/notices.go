package sqlstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// NoticeStore tells a brand's followers about its shows
// (show.FollowerNotices). The follows themselves are FollowStore.
type NoticeStore struct{ db *Conn }

// NoticeFollowers stores a notice for every follower of the show's brand,
// once per show and kind (see show.FollowerNotices). The show's row is
// locked first (on SQLite the write transaction holds the file), so two
// admins pressing at once send it once.
func (s NoticeStore) NoticeFollowers(ctx context.Context, showID uuid.UUID, kind, text string, at time.Time) (int, error) {
	var told int64
	d := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		var brandID uuid.UUID
		err := tx.QueryRow(ctx, `SELECT brand_id FROM shows WHERE id = $1`+d.Lock, showID).Scan(&brandID)
		if err != nil {
			return NotFound(err, "show")
		}
		var sent bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notices WHERE show_id = $1 AND kind = $2)`, showID, kind).Scan(&sent); err != nil {
			return err
		}
		if sent {
			return apperr.Errorf(apperr.Conflict, "the followers were already told about this show")
		}
		told, err = tx.Exec(ctx,
			`INSERT INTO notices (id, user_id, show_id, kind, text, created_at)
			 SELECT `+d.NewID+`, user_id, $1, $2, $3, $4 FROM brand_follows WHERE brand_id = $5 ORDER BY user_id`,
			showID, kind, text, d.Time(at), brandID)
		return err
	})
	if err != nil {
		return 0, s.db.Errs.Wrap("notice followers", err)
	}
	return int(told), nil
}
