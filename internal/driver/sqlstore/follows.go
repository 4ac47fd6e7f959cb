package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

// FollowStore keeps who follows which brand (brand.Follows). Telling the
// followers about a show is each driver's: PostgreSQL inserts the notices
// in one statement, SQLite one by one.
type FollowStore struct{ db *Conn }

// exists reports whether query (SELECT count(*) …) counts a row.
func exists(ctx context.Context, q Querier, query string, args ...any) (bool, error) {
	var n int
	err := q.QueryRow(ctx, query, args...).Scan(&n)
	return n > 0, err
}

// Follow records that the user follows the brand; a repeat changes nothing.
func (s FollowStore) Follow(ctx context.Context, brandID, userID uuid.UUID, at time.Time) error {
	return s.db.insertUnder(ctx, "follow", `SELECT count(*) FROM brands WHERE id = $1`, brandID, "brand",
		`INSERT INTO brand_follows (brand_id, user_id, created_at) VALUES ($1, $2, $3)
		 ON CONFLICT (brand_id, user_id) DO NOTHING`, brandID, userID, s.db.Dialect.Time(at))
}

// insertUnder runs insert in a transaction once parent (a count of the
// rows with ID $1) finds parentID: SQLite does not say which reference
// broke, so a missing parent is looked for first (NotFound "<parentThing>
// not found") and a broken reference after that is the user's.
func (c *Conn) insertUnder(ctx context.Context, op, parent string, parentID uuid.UUID, parentThing, insert string, args ...any) error {
	return c.Errs.Wrap(op, c.Tx(ctx, func(tx Querier) error {
		if ok, err := exists(ctx, tx, parent, parentID); err != nil {
			return err
		} else if !ok {
			return apperr.Errorf(apperr.NotFound, "%s not found", parentThing)
		}
		_, err := tx.Exec(ctx, insert, args...)
		return c.Errs.Ref(err, "user")
	}))
}

// Unfollow forgets a follow; none is not an error.
func (s FollowStore) Unfollow(ctx context.Context, brandID, userID uuid.UUID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM brand_follows WHERE brand_id = $1 AND user_id = $2`, brandID, userID)
	return s.db.Errs.Wrap("unfollow", err)
}

// Following reports whether the user follows the brand.
func (s FollowStore) Following(ctx context.Context, brandID, userID uuid.UUID) (bool, error) {
	ok, err := exists(ctx, s.db.Read, `SELECT count(*) FROM brand_follows WHERE brand_id = $1 AND user_id = $2`, brandID, userID)
	return ok, s.db.Errs.Wrap("following", err)
}

// Followers counts the brand's followers.
func (s FollowStore) Followers(ctx context.Context, brandID uuid.UUID) (int, error) {
	var n int
	err := s.db.Read.QueryRow(ctx, `SELECT count(*) FROM brand_follows WHERE brand_id = $1`, brandID).Scan(&n)
	return n, s.db.Errs.Wrap("followers", err)
}

// followedCols are BrandCols read through the join.
const followedCols = `b.id, b.slug, b.name, b.story, b.logo_url, b.website, b.flagship, b.created_at, b.updated_at`

// Followed lists the brands the user follows, the first followed first.
func (s FollowStore) Followed(ctx context.Context, userID uuid.UUID) ([]brand.Brand, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.Brand, `SELECT `+followedCols+` FROM brand_follows f JOIN brands b ON b.id = f.brand_id
		WHERE f.user_id = $1 ORDER BY f.created_at, b.slug`, userID)
	return list, s.db.Errs.Wrap("followed brands", err)
}

// SubscriptionStore keeps "notify me" subscriptions to upcoming shows and
// the notices they bring.
type SubscriptionStore struct{ db *Conn }

// Subscribe records a "notify me" subscription; a repeat changes nothing.
func (s SubscriptionStore) Subscribe(ctx context.Context, showID, userID uuid.UUID, at time.Time) error {
	return s.db.insertUnder(ctx, "subscribe", `SELECT count(*) FROM shows WHERE id = $1`, showID, "show",
		`INSERT INTO show_subscriptions (show_id, user_id, created_at) VALUES ($1, $2, $3)
		 ON CONFLICT (show_id, user_id) DO NOTHING`, showID, userID, s.db.Dialect.Time(at))
}

// Unsubscribe forgets a subscription; none is not an error.
func (s SubscriptionStore) Unsubscribe(ctx context.Context, showID, userID uuid.UUID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM show_subscriptions WHERE show_id = $1 AND user_id = $2`, showID, userID)
	return s.db.Errs.Wrap("unsubscribe", err)
}

// Subscribed lists the shows the user subscribed to, by start time.
func (s SubscriptionStore) Subscribed(ctx context.Context, userID uuid.UUID) ([]show.Show, error) {
	shows, err := QueryAll(ctx, s.db.Read, s.db.Scan.Show,
		`SELECT `+s.db.Dialect.ShowCols+` FROM show_subscriptions x JOIN shows s ON s.id = x.show_id
		 WHERE x.user_id = $1 ORDER BY s.starts_at, s.id`, userID)
	return shows, s.db.Errs.Wrap("subscribed shows", err)
}

// IsSubscribed reports whether the user subscribed to the show.
func (s SubscriptionStore) IsSubscribed(ctx context.Context, showID, userID uuid.UUID) (bool, error) {
	ok, err := exists(ctx, s.db.Read,
		`SELECT count(*) FROM show_subscriptions WHERE show_id = $1 AND user_id = $2`, showID, userID)
	return ok, s.db.Errs.Wrap("is subscribed", err)
}

// Notices lists the user's notices, newest first.
func (s SubscriptionStore) Notices(ctx context.Context, userID uuid.UUID, limit int) ([]show.Notice, error) {
	_, limit = Page(0, limit)
	list, err := QueryAll(ctx, s.db.Read, func(r Row) (*show.Notice, error) {
		var n show.Notice
		return &n, r.Scan(&n.ID, &n.UserID, &n.ShowID, &n.Kind, &n.Text, s.db.Scan.Time(&n.CreatedAt))
	}, `SELECT id, user_id, show_id, kind, text, created_at FROM notices
	    WHERE user_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2`, userID, limit)
	return list, s.db.Errs.Wrap("notices", err)
}

// PinStore keeps the product pinned in each show.
type PinStore struct{ db *Conn }

// SetPinned records the offer the show has pinned (uuid.Nil: none), while
// the show is scheduled or live. It holds the show's row (Dialect.Lock) as
// Transition does, so a pin never outlives the show's end.
func (s PinStore) SetPinned(ctx context.Context, showID, offerID uuid.UUID, at time.Time) error {
	return s.db.Errs.Wrap("pin", s.db.Tx(ctx, func(tx Querier) error {
		var state show.State
		if err := tx.QueryRow(ctx, `SELECT state FROM shows WHERE id = $1`+s.db.Dialect.Lock, showID).Scan(&state); err != nil {
			return NotFound(err, "show")
		}
		if offerID == uuid.Nil {
			_, err := tx.Exec(ctx, `DELETE FROM show_pins WHERE show_id = $1`, showID)
			return err
		}
		if state != show.Scheduled && state != show.Live {
			return apperr.Errorf(apperr.Conflict, "the show is %s: nothing can be pinned", state)
		}
		n, err := tx.Exec(ctx,
			`INSERT INTO show_pins (show_id, offer_id, pinned_at)
			 SELECT show_id, id, $1 FROM offers WHERE id = $2 AND show_id = $3
			 ON CONFLICT (show_id) DO UPDATE SET offer_id = excluded.offer_id, pinned_at = excluded.pinned_at`,
			s.db.Dialect.Time(at), offerID, showID)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", offerID)
		}
		return nil
	}))
}

// Pinned returns the show's pinned offer; uuid.Nil when it has none.
func (s PinStore) Pinned(ctx context.Context, showID uuid.UUID) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.db.Read.QueryRow(ctx, `SELECT offer_id FROM show_pins WHERE show_id = $1`, showID).Scan(&id)
	if errors.Is(err, ErrNoRows) {
		return uuid.Nil, nil
	}
	return id, s.db.Errs.Wrap("pinned offer", err)
}
