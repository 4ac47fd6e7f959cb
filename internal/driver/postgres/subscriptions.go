package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/show"
)

// SubscriptionStore keeps "notify me" subscriptions to upcoming shows.
type SubscriptionStore struct{ *conn }

// Subscribe records a "notify me" subscription; a repeat changes nothing.
func (db SubscriptionStore) Subscribe(ctx context.Context, showID, userID uuid.UUID, at time.Time) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO show_subscriptions (show_id, user_id, created_at) VALUES ($1, $2, $3)
		 ON CONFLICT (show_id, user_id) DO NOTHING`, showID, userID, at)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation
		if pe.ConstraintName == "show_subscriptions_show_fkey" {
			return apperr.Wrap(apperr.NotFound, err, "show not found")
		}
		return apperr.Wrap(apperr.NotFound, err, "user not found")
	}
	return storeErr("subscribe", err)
}

// Unsubscribe forgets a subscription; none is not an error.
func (db SubscriptionStore) Unsubscribe(ctx context.Context, showID, userID uuid.UUID) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM show_subscriptions WHERE show_id = $1 AND user_id = $2`, showID, userID)
	return storeErr("unsubscribe", err)
}

// Subscribed lists the shows the user subscribed to, by start time.
func (db SubscriptionStore) Subscribed(ctx context.Context, userID uuid.UUID) ([]show.Show, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT `+showCols+` FROM show_subscriptions x JOIN shows s ON s.id = x.show_id
		 WHERE x.user_id = $1 ORDER BY s.starts_at, s.id`, userID)
	shows, err := collect(rows, err, scan.Show)
	if err != nil {
		return nil, storeErr("subscribed shows", err)
	}
	return shows, nil
}

// IsSubscribed reports whether the user subscribed to the show.
func (db SubscriptionStore) IsSubscribed(ctx context.Context, showID, userID uuid.UUID) (bool, error) {
	var ok bool
	err := db.pool.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM show_subscriptions WHERE show_id = $1 AND user_id = $2)`, showID, userID).Scan(&ok)
	return ok, storeErr("is subscribed", err)
}

// Notices lists the user's notices, newest first.
func (db SubscriptionStore) Notices(ctx context.Context, userID uuid.UUID, limit int) ([]show.Notice, error) {
	_, limit = sqlstore.Page(0, limit)
	rows, err := db.pool.Query(ctx,
		`SELECT id, user_id, show_id, kind, text, created_at FROM notices
		 WHERE user_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2`, userID, limit)
	list, err := collect(rows, err, func(r sqlstore.Row) (*show.Notice, error) {
		var n show.Notice
		if err := r.Scan(&n.ID, &n.UserID, &n.ShowID, &n.Kind, &n.Text, &n.CreatedAt); err != nil {
			return nil, err
		}
		n.CreatedAt = n.CreatedAt.UTC()
		return &n, nil
	})
	if err != nil {
		return nil, storeErr("notices", err)
	}
	return list, nil
}
