package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/show"
)

// SubscriptionStore keeps "notify me" subscriptions to upcoming shows.
type SubscriptionStore struct{ *conn }

// Subscribe records a "notify me" subscription; a repeat changes nothing.
func (db SubscriptionStore) Subscribe(ctx context.Context, showID, userID uuid.UUID, at time.Time) error {
	return db.write(ctx, "subscribe", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM shows WHERE id = $1`, showID).Scan(&n); err != nil {
			return err
		} else if n == 0 {
			return apperr.Errorf(apperr.NotFound, "show not found")
		}
		_, err := tx.ExecContext(ctx,
			`INSERT INTO show_subscriptions (show_id, user_id, created_at) VALUES ($1, $2, $3)
			 ON CONFLICT (show_id, user_id) DO NOTHING`, showID, userID, micros(at))
		return refErr(err, "user")
	})
}

// Unsubscribe forgets a subscription; none is not an error.
func (db SubscriptionStore) Unsubscribe(ctx context.Context, showID, userID uuid.UUID) error {
	_, err := db.exec(ctx, `DELETE FROM show_subscriptions WHERE show_id = $1 AND user_id = $2`, showID, userID)
	return storeErr("unsubscribe", err)
}

// Subscribed lists the shows the user subscribed to, by start time.
func (db SubscriptionStore) Subscribed(ctx context.Context, userID uuid.UUID) ([]show.Show, error) {
	shows, err := queryAll(ctx, db.r, scan.Show,
		`SELECT `+showCols+` FROM show_subscriptions x JOIN shows s ON s.id = x.show_id
		 WHERE x.user_id = $1 ORDER BY s.starts_at, s.id`, userID)
	return shows, storeErr("subscribed shows", err)
}

// IsSubscribed reports whether the user subscribed to the show.
func (db SubscriptionStore) IsSubscribed(ctx context.Context, showID, userID uuid.UUID) (bool, error) {
	var n int
	err := db.r.QueryRowContext(ctx,
		`SELECT count(*) FROM show_subscriptions WHERE show_id = $1 AND user_id = $2`, showID, userID).Scan(&n)
	return n > 0, storeErr("is subscribed", err)
}

// Notices lists the user's notices, newest first.
func (db SubscriptionStore) Notices(ctx context.Context, userID uuid.UUID, limit int) ([]show.Notice, error) {
	_, limit = sqlstore.Page(0, limit)
	list, err := queryAll(ctx, db.r, func(r row) (*show.Notice, error) {
		var n show.Notice
		return &n, r.Scan(&n.ID, &n.UserID, &n.ShowID, &n.Kind, &n.Text, asTime(&n.CreatedAt))
	}, `SELECT id, user_id, show_id, kind, text, created_at FROM notices
	    WHERE user_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2`, userID, limit)
	return list, storeErr("notices", err)
}
