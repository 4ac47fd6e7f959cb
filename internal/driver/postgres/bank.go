package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

var _ analytics.BankStore = (*DB)(nil)

// BrandShows lists the brand's shows starting in [from, to), cancelled ones
// left out, by start time: the latest analytics.MaxBankShows of them.
func (db *DB) BrandShows(ctx context.Context, brandID uuid.UUID, from, to time.Time) ([]analytics.ShowRef, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT * FROM (
		   SELECT id, title, starts_at, ends_at, state FROM shows
		   WHERE brand_id = $1 AND starts_at >= $2 AND starts_at < $3 AND state != 'cancelled'
		   ORDER BY starts_at DESC, id DESC LIMIT $4) s
		 ORDER BY starts_at, id`, brandID, pgTime(from), pgTime(to), analytics.MaxBankShows)
	list, err := collect(rows, err, func(r sqlstore.Row) (*analytics.ShowRef, error) {
		var s analytics.ShowRef
		if err := r.Scan(&s.ID, &s.Title, &s.StartsAt, &s.EndsAt, &s.State); err != nil {
			return nil, err
		}
		s.StartsAt, s.EndsAt = s.StartsAt.UTC(), s.EndsAt.UTC()
		return &s, nil
	})
	return list, storeErr("brand shows", err)
}

// Funnel counts the scope's people by the furthest step each reached, in
// one statement: every source names people by viewer key and a step
// number, and each person counts once, at their highest step.
func (db *DB) Funnel(ctx context.Context, s analytics.FunnelScope) (*analytics.FunnelCounts, error) {
	f := &analytics.FunnelCounts{}
	ids := s.Shows
	if ids == nil {
		ids = []uuid.UUID{}
	}
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`WITH p (person, lvl) AS (
			   SELECT viewer_key, CASE WHEN engaged & 8 != 0 THEN 3 WHEN engaged != 0 THEN 2 ELSE 1 END
			     FROM show_viewers WHERE show_id = ANY($1)
			   UNION ALL SELECT viewer_key, 1 FROM show_replay_viewers WHERE show_id = ANY($1)
			   UNION ALL SELECT 'u:' || user_id::text, 2 FROM show_subscriptions WHERE show_id = ANY($1)
			   UNION ALL SELECT 'u:' || user_id::text, 2 FROM brand_follows WHERE brand_id = $2 AND created_at >= $3 AND created_at < $4
			   UNION ALL SELECT 'u:' || user_id::text, 4 FROM reservations WHERE show_id = ANY($1)
			   UNION ALL SELECT 'u:' || user_id::text, 5 FROM orders WHERE show_id = ANY($1) AND state IN `+countedOrders+`
			 ), m AS (SELECT person, max(lvl) AS lvl FROM p GROUP BY person)
			 SELECT lvl, count(*), count(*) FILTER (WHERE lvl IN (3, 4) AND person NOT IN (
			     SELECT 'u:' || user_id::text FROM orders WHERE brand_id = $2 AND state IN `+countedOrders+` AND created_at < $5))
			 FROM m GROUP BY lvl`,
			ids, s.BrandID, pgTime(s.FollowFrom), pgTime(s.FollowTo), pgTime(s.Until))
		if err != nil {
			return err
		}
		var lvl, n, notBought int64
		if _, err := pgx.ForEachRow(rows, []any{&lvl, &n, &notBought}, func() error {
			addLevel(f, lvl, n)
			f.TappedNotBought += notBought
			return nil
		}); err != nil {
			return err
		}
		return tx.QueryRow(ctx,
			`SELECT count(*) FROM (
			   SELECT user_id FROM orders WHERE brand_id = $1 AND state IN `+countedOrders+` AND created_at < $2
			   GROUP BY user_id HAVING count(DISTINCT show_id) >= 2) r
			 WHERE r.user_id IN (SELECT user_id FROM orders WHERE show_id = ANY($3) AND state IN `+countedOrders+`)`,
			s.BrandID, pgTime(s.Until), ids).Scan(&f.BoughtAgain)
	})
	if err != nil {
		return nil, storeErr("funnel", err)
	}
	return f, nil
}

// addLevel counts n people whose furthest step is lvl (1 reached … 5
// bought) in every step up to it.
func addLevel(f *analytics.FunnelCounts, lvl, n int64) {
	for i, c := range []*int64{&f.Reached, &f.Engaged, &f.Tapped, &f.Held, &f.Bought} {
		if int64(i) < lvl {
			*c += n
		}
	}
}

// LostIntents lists the shows' lost intents by show, offer and cause, with
// the offer's product name and SKU code.
func (db *DB) LostIntents(ctx context.Context, showIDs []uuid.UUID) ([]analytics.LostRow, error) {
	if showIDs == nil {
		showIDs = []uuid.UUID{}
	}
	rows, err := db.pool.Query(ctx,
		`SELECT l.show_id, l.offer_id, coalesce(p.name || ' · ' || k.code, ''), l.cause, l.n
		 FROM show_lost_intents l
		 LEFT JOIN offers f ON f.id = l.offer_id
		 LEFT JOIN skus k ON k.id = f.sku_id
		 LEFT JOIN products p ON p.id = k.product_id
		 WHERE l.show_id = ANY($1) AND l.n > 0
		 ORDER BY l.show_id, l.offer_id, l.cause`, showIDs)
	list, err := collect(rows, err, func(r sqlstore.Row) (*analytics.LostRow, error) {
		var l analytics.LostRow
		return &l, r.Scan(&l.ShowID, &l.OfferID, &l.Offer, &l.Cause, &l.N)
	})
	return list, storeErr("lost intents", err)
}

// Audience counts the brand's followers, the members among them, and its
// repeat buyers, as they stood just before at.
func (db *DB) Audience(ctx context.Context, brandID uuid.UUID, at time.Time) (*analytics.AudienceCounts, error) {
	a := &analytics.AudienceCounts{}
	err := db.pool.QueryRow(ctx,
		`SELECT
		   (SELECT count(*) FROM brand_follows WHERE brand_id = $1 AND created_at < $2),
		   (SELECT count(*) FROM brand_follows f JOIN user_roles r ON r.user_id = f.user_id AND r.role = 'member'
		     WHERE f.brand_id = $1 AND f.created_at < $2),
		   (SELECT count(*) FROM (SELECT user_id FROM orders WHERE brand_id = $1 AND state IN `+countedOrders+` AND created_at < $2
		     GROUP BY user_id HAVING count(DISTINCT show_id) >= 2) r)`,
		brandID, pgTime(at)).Scan(&a.Followers, &a.Members, &a.RepeatBuyers)
	if err != nil {
		return nil, storeErr("audience", err)
	}
	return a, nil
}
