package sqlstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

// CountedOrders is the order states that make sales: paid for and not undone.
const CountedOrders = `('paid', 'fulfilled')`

// The data bank's reads (analytics.BankStore).
const (
	// BrandShows lists brand $1's shows starting in [$2, $3), cancelled ones
	// left out, by start time: the latest $4 of them.
	BrandShows = `SELECT * FROM (
	      SELECT id, title, starts_at, ends_at, state FROM shows
	      WHERE brand_id = $1 AND starts_at >= $2 AND starts_at < $3 AND state != 'cancelled'
	      ORDER BY starts_at DESC, id DESC LIMIT $4) s
	    ORDER BY starts_at, id`

	// Audience counts brand $1's followers, the members among them, and its
	// repeat buyers, as they stood just before $2.
	Audience = `SELECT
	   (SELECT count(*) FROM brand_follows WHERE brand_id = $1 AND created_at < $2),
	   (SELECT count(*) FROM brand_follows f JOIN user_roles r ON r.user_id = f.user_id AND r.role = 'member'
	     WHERE f.brand_id = $1 AND f.created_at < $2),
	   (SELECT count(*) FROM (SELECT user_id FROM orders WHERE brand_id = $1 AND state IN ` + CountedOrders + ` AND created_at < $2
	     GROUP BY user_id HAVING count(DISTINCT show_id) >= 2) r)`
)

// BankQueries are the data bank's reads that take a list of shows, in the
// dialect's spelling of a list.
type BankQueries struct {
	// Funnel counts people by the furthest step each reached in the shows
	// $1, with brand $2's follows made in [$3, $4), and of those who tapped or
	// held, the ones who had never bought from the brand before $5. Every
	// source names people by viewer key and a step number (1 reached … 5
	// bought); each person counts once, at their highest step.
	Funnel string
	// BoughtAgain counts brand $1's repeat buyers before $2 who bought in
	// the shows $3.
	BoughtAgain string
	// LostIntents lists the lost intents of the shows $1 by show, offer and
	// cause, with the offer's product name and SKU code.
	LostIntents string
}

// Bank spells the data bank's list queries in d. Drivers build them once.
func (d Dialect) Bank() BankQueries {
	in := func(col string) string { return d.AnyOf(col, "$1") }
	return BankQueries{
		Funnel: `WITH p (person, lvl) AS (
		      SELECT viewer_key, CASE WHEN engaged & 8 != 0 THEN 3 WHEN engaged != 0 THEN 2 ELSE 1 END
		        FROM show_viewers WHERE ` + in("show_id") + `
		      UNION ALL SELECT viewer_key, 1 FROM show_replay_viewers WHERE ` + in("show_id") + `
		      UNION ALL SELECT 'u:' || user_id, 2 FROM show_subscriptions WHERE ` + in("show_id") + `
		      UNION ALL SELECT 'u:' || user_id, 2 FROM brand_follows WHERE brand_id = $2 AND created_at >= $3 AND created_at < $4
		      UNION ALL SELECT 'u:' || user_id, 4 FROM reservations WHERE ` + in("show_id") + `
		      UNION ALL SELECT 'u:' || user_id, 5 FROM orders WHERE ` + in("show_id") + ` AND state IN ` + CountedOrders + `
		    ), m AS (SELECT person, max(lvl) AS lvl FROM p GROUP BY person)
		    SELECT lvl, count(*), count(*) FILTER (WHERE lvl IN (3, 4) AND person NOT IN (
		        SELECT 'u:' || user_id FROM orders WHERE brand_id = $2 AND state IN ` + CountedOrders + ` AND created_at < $5))
		    FROM m GROUP BY lvl`,
		BoughtAgain: `SELECT count(*) FROM (
		   SELECT user_id FROM orders WHERE brand_id = $1 AND state IN ` + CountedOrders + ` AND created_at < $2
		   GROUP BY user_id HAVING count(DISTINCT show_id) >= 2) r
		 WHERE r.user_id IN (SELECT user_id FROM orders WHERE ` + d.AnyOf("show_id", "$3") + ` AND state IN ` + CountedOrders + `)`,
		LostIntents: `SELECT l.show_id, l.offer_id, coalesce(p.name || ' · ' || k.code, ''), l.cause, l.n
		    FROM show_lost_intents l
		    LEFT JOIN offers f ON f.id = l.offer_id
		    LEFT JOIN skus k ON k.id = f.sku_id
		    LEFT JOIN products p ON p.id = k.product_id
		    WHERE ` + in("l.show_id") + ` AND l.n > 0
		    ORDER BY l.show_id, l.offer_id, l.cause`,
	}
}

// AddLevel counts n people whose furthest step is lvl (1 reached … 5
// bought) in every step of f up to it.
func AddLevel(f *analytics.FunnelCounts, lvl, n int64) {
	for i, c := range []*int64{&f.Reached, &f.Engaged, &f.Tapped, &f.Held, &f.Bought} {
		if int64(i) < lvl {
			*c += n
		}
	}
}

// IDs is ids, or an empty list for nil: a list argument is never NULL.
func IDs(ids []uuid.UUID) []uuid.UUID {
	if ids == nil {
		return []uuid.UUID{}
	}
	return ids
}

// ReplayQueries read the replay figures of the shows $1 (analytics.ReplayStore).
type ReplayQueries struct {
	// Plays reads the plays, the distinct viewers and the holds made.
	Plays string
	// Orders reads the counted orders of those holds: count, units, buyers.
	Orders string
	// GMV reads their takings by currency.
	GMV string
}

// Replay spells the replay figures' queries in d. Drivers build them once.
func (d Dialect) Replay() ReplayQueries {
	in := func(col string) string { return d.AnyOf(col, "$1") }
	return ReplayQueries{
		Plays: `SELECT (SELECT CAST(coalesce(sum(replay_views), 0) AS bigint) FROM show_analytics WHERE ` + in("show_id") + `),
		        (SELECT count(DISTINCT viewer_key) FROM show_replay_viewers WHERE ` + in("show_id") + `),
		        (SELECT count(*) FROM replay_holds WHERE ` + in("show_id") + `)`,
		Orders: `SELECT count(*), CAST(coalesce(sum(o.quantity), 0) AS bigint), count(DISTINCT o.user_id) FROM orders o
		 JOIN replay_holds h ON h.reservation_id = o.reservation_id
		 WHERE ` + in("h.show_id") + ` AND o.state IN ` + CountedOrders,
		GMV: `SELECT o.currency, CAST(sum(o.total_minor) AS bigint) FROM orders o
		 JOIN replay_holds h ON h.reservation_id = o.reservation_id
		 WHERE ` + in("h.show_id") + ` AND o.state IN ` + CountedOrders + `
		 GROUP BY o.currency ORDER BY o.currency`,
	}
}

// BankStore reads the data bank: a brand's shows, funnel and audience
// (analytics.BankStore).
type BankStore struct {
	db *Conn
	q  BankQueries // spelled once, in db's dialect
}

var _ analytics.BankStore = BankStore{}

// BrandShows lists the brand's shows starting in [from, to), cancelled ones
// left out, by start time: the latest analytics.MaxBankShows of them.
func (s BankStore) BrandShows(ctx context.Context, brandID uuid.UUID, from, to time.Time) ([]analytics.ShowRef, error) {
	d := s.db.Dialect
	list, err := QueryAll(ctx, s.db.Read, func(r Row) (*analytics.ShowRef, error) {
		var sh analytics.ShowRef
		return &sh, r.Scan(&sh.ID, &sh.Title, s.db.Scan.Time(&sh.StartsAt), s.db.Scan.Time(&sh.EndsAt), &sh.State)
	}, BrandShows, brandID, d.Time(from), d.Time(to), analytics.MaxBankShows)
	return list, s.db.Errs.Wrap("brand shows", err)
}

// Funnel counts the scope's people by the furthest step each reached, from
// one snapshot.
func (s BankStore) Funnel(ctx context.Context, sc analytics.FunnelScope) (*analytics.FunnelCounts, error) {
	f := &analytics.FunnelCounts{}
	d := s.db.Dialect
	shows := d.List(IDs(sc.Shows))
	err := s.db.Snapshot(ctx, func(tx Querier) error {
		type level struct{ lvl, n, notBought int64 }
		rows, err := QueryAll(ctx, tx, func(r Row) (*level, error) {
			var l level
			return &l, r.Scan(&l.lvl, &l.n, &l.notBought)
		}, s.q.Funnel, shows, sc.BrandID, d.Time(sc.FollowFrom), d.Time(sc.FollowTo), d.Time(sc.Until))
		if err != nil {
			return err
		}
		for _, l := range rows {
			AddLevel(f, l.lvl, l.n)
			f.TappedNotBought += l.notBought
		}
		return tx.QueryRow(ctx, s.q.BoughtAgain, sc.BrandID, d.Time(sc.Until), shows).Scan(&f.BoughtAgain)
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("funnel", err)
	}
	return f, nil
}

// LostIntents lists the shows' lost intents by show, offer and cause, with
// the offer's product name and SKU code.
func (s BankStore) LostIntents(ctx context.Context, showIDs []uuid.UUID) ([]analytics.LostRow, error) {
	list, err := QueryAll(ctx, s.db.Read, func(r Row) (*analytics.LostRow, error) {
		var l analytics.LostRow
		return &l, r.Scan(&l.ShowID, &l.OfferID, &l.Offer, &l.Cause, &l.N)
	}, s.q.LostIntents, s.db.Dialect.List(IDs(showIDs)))
	return list, s.db.Errs.Wrap("lost intents", err)
}

// Audience counts the brand's followers, the members among them, and its
// repeat buyers, as they stood just before at.
func (s BankStore) Audience(ctx context.Context, brandID uuid.UUID, at time.Time) (*analytics.AudienceCounts, error) {
	a := &analytics.AudienceCounts{}
	err := s.db.Read.QueryRow(ctx, Audience, brandID, s.db.Dialect.Time(at)).Scan(&a.Followers, &a.Members, &a.RepeatBuyers)
	if err != nil {
		return nil, s.db.Errs.Wrap("audience", err)
	}
	return a, nil
}
