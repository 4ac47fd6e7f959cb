package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

var _ analytics.BankStore = (*DB)(nil)

// BrandShows lists the brand's shows starting in [from, to), cancelled ones
// left out, by start time: the latest analytics.MaxBankShows of them.
func (db *DB) BrandShows(ctx context.Context, brandID uuid.UUID, from, to time.Time) ([]analytics.ShowRef, error) {
	list, err := queryAll(ctx, db.r, func(r row) (*analytics.ShowRef, error) {
		var s analytics.ShowRef
		return &s, r.Scan(&s.ID, &s.Title, asTime(&s.StartsAt), asTime(&s.EndsAt), &s.State)
	}, `SELECT * FROM (
	      SELECT id, title, starts_at, ends_at, state FROM shows
	      WHERE brand_id = ? AND starts_at >= ? AND starts_at < ? AND state != 'cancelled'
	      ORDER BY starts_at DESC, id DESC LIMIT ?)
	    ORDER BY starts_at, id`, brandID, micros(from), micros(to), analytics.MaxBankShows)
	return list, storeErr("brand shows", err)
}

// someOf is inList for n values, and "(NULL)" (which matches nothing) for none.
func someOf(n int) string {
	if n == 0 {
		return "(NULL)"
	}
	return inList(n)
}

// Funnel counts the scope's people by the furthest step each reached, in
// one statement: every source names people by viewer key and a step
// number, and each person counts once, at their highest step.
func (db *DB) Funnel(ctx context.Context, s analytics.FunnelScope) (*analytics.FunnelCounts, error) {
	f := &analytics.FunnelCounts{}
	in := someOf(len(s.Shows))
	ids := anys(s.Shows)
	var args []any
	args = append(args, ids...)                                              // viewers
	args = append(args, ids...)                                              // replay viewers
	args = append(args, ids...)                                              // subscriptions
	args = append(args, s.BrandID, micros(s.FollowFrom), micros(s.FollowTo)) // follows
	args = append(args, ids...)                                              // holds
	args = append(args, ids...)                                              // orders
	args = append(args, s.BrandID, micros(s.Until))                          // never bought
	err := db.read(ctx, "funnel", func(tx *sql.Tx) error {
		type level struct{ lvl, n, notBought int64 }
		rows, err := queryAll(ctx, tx, func(r row) (*level, error) {
			var l level
			return &l, r.Scan(&l.lvl, &l.n, &l.notBought)
		}, `WITH p (person, lvl) AS (
		      SELECT viewer_key, CASE WHEN engaged & 8 != 0 THEN 3 WHEN engaged != 0 THEN 2 ELSE 1 END
		        FROM show_viewers WHERE show_id IN `+in+`
		      UNION ALL SELECT viewer_key, 1 FROM show_replay_viewers WHERE show_id IN `+in+`
		      UNION ALL SELECT 'u:' || user_id, 2 FROM show_subscriptions WHERE show_id IN `+in+`
		      UNION ALL SELECT 'u:' || user_id, 2 FROM brand_follows WHERE brand_id = ? AND created_at >= ? AND created_at < ?
		      UNION ALL SELECT 'u:' || user_id, 4 FROM reservations WHERE show_id IN `+in+`
		      UNION ALL SELECT 'u:' || user_id, 5 FROM orders WHERE show_id IN `+in+` AND state IN `+countedOrders+`
		    ), m AS (SELECT person, max(lvl) AS lvl FROM p GROUP BY person)
		    SELECT lvl, count(*), coalesce(sum(CASE WHEN lvl IN (3, 4) AND person NOT IN (
		        SELECT 'u:' || user_id FROM orders WHERE brand_id = ? AND state IN `+countedOrders+` AND created_at < ?)
		      THEN 1 ELSE 0 END), 0)
		    FROM m GROUP BY lvl`, args...)
		if err != nil {
			return err
		}
		for _, l := range rows {
			addLevel(f, l.lvl, l.n)
			f.TappedNotBought += l.notBought
		}
		args := append([]any{s.BrandID, micros(s.Until)}, ids...)
		return tx.QueryRowContext(ctx,
			`SELECT count(*) FROM (
			   SELECT user_id FROM orders WHERE brand_id = ? AND state IN `+countedOrders+` AND created_at < ?
			   GROUP BY user_id HAVING count(DISTINCT show_id) >= 2) r
			 WHERE r.user_id IN (SELECT user_id FROM orders WHERE show_id IN `+in+` AND state IN `+countedOrders+`)`,
			args...).Scan(&f.BoughtAgain)
	})
	if err != nil {
		return nil, err
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
	list, err := queryAll(ctx, db.r, func(r row) (*analytics.LostRow, error) {
		var l analytics.LostRow
		return &l, r.Scan(&l.ShowID, &l.OfferID, &l.Offer, &l.Cause, &l.N)
	}, `SELECT l.show_id, l.offer_id, coalesce(p.name || ' · ' || k.code, ''), l.cause, l.n
	    FROM show_lost_intents l
	    LEFT JOIN offers f ON f.id = l.offer_id
	    LEFT JOIN skus k ON k.id = f.sku_id
	    LEFT JOIN products p ON p.id = k.product_id
	    WHERE l.show_id IN `+someOf(len(showIDs))+` AND l.n > 0
	    ORDER BY l.show_id, l.offer_id, l.cause`, anys(showIDs)...)
	return list, storeErr("lost intents", err)
}

// Audience counts the brand's followers, the members among them, and its
// repeat buyers, as they stood just before at.
func (db *DB) Audience(ctx context.Context, brandID uuid.UUID, at time.Time) (*analytics.AudienceCounts, error) {
	a := &analytics.AudienceCounts{}
	err := db.r.QueryRowContext(ctx,
		`SELECT
		   (SELECT count(*) FROM brand_follows WHERE brand_id = ?1 AND created_at < ?2),
		   (SELECT count(*) FROM brand_follows f JOIN user_roles r ON r.user_id = f.user_id AND r.role = 'member'
		     WHERE f.brand_id = ?1 AND f.created_at < ?2),
		   (SELECT count(*) FROM (SELECT user_id FROM orders WHERE brand_id = ?1 AND state IN `+countedOrders+` AND created_at < ?2
		     GROUP BY user_id HAVING count(DISTINCT show_id) >= 2))`,
		brandID, micros(at)).Scan(&a.Followers, &a.Members, &a.RepeatBuyers)
	if err != nil {
		return nil, storeErr("audience", err)
	}
	return a, nil
}
