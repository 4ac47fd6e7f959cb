package postgres

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

var _ analytics.Store = AnalyticsStore{}

// AnalyticsStore keeps the recorders' counters of shows and reads them
// back with the ledger's sales figures.
type AnalyticsStore struct{ *conn }

// ApplyAnalytics adds one recorder batch in one transaction, once: a batch
// at or below the node's last applied Seq is a retry and changes nothing.
// Concurrent batches of several nodes only add to the same rows, and each
// node's viewer samples are rows of their own. Deltas of shows that no
// longer exist are dropped, so one deleted show cannot hold up the others.
func (db AnalyticsStore) ApplyAnalytics(ctx context.Context, b *analytics.Batch) error {
	at := time.Now().UTC().Truncate(time.Microsecond)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx,
			`INSERT INTO analytics_nodes (node, last_seq, updated_at) VALUES ($1, $2, $3)
			 ON CONFLICT (node) DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = EXCLUDED.updated_at
			 WHERE analytics_nodes.last_seq < EXCLUDED.last_seq`, b.Node, b.Seq, at)
		if err != nil || tag.RowsAffected() == 0 {
			return err // applied already
		}
		ids := make([]uuid.UUID, len(b.Shows))
		for i, d := range b.Shows {
			ids[i] = d.ShowID
		}
		rows, err := tx.Query(ctx, `SELECT id FROM shows WHERE id = ANY($1)`, ids)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			return err
		}
		exists := make(map[uuid.UUID]bool, len(found))
		for _, id := range found {
			exists[id] = true
		}
		// Every node writes the same shows' rows; the batch is sorted by
		// show, so two nodes' transactions lock them in one order.
		for i := range b.Shows {
			if d := &b.Shows[i]; exists[d.ShowID] {
				if err := applyShowDelta(ctx, tx, b.Node, d, at); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return storeErr("apply analytics", err)
}

func applyShowDelta(ctx context.Context, tx pgx.Tx, node string, d *analytics.ShowDelta, at time.Time) error {
	batch := &pgx.Batch{}
	batch.Queue(
		`INSERT INTO show_analytics AS a (show_id, joins, chats, reactions, watch_ms, replay_views, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (show_id) DO UPDATE SET joins = a.joins + EXCLUDED.joins, chats = a.chats + EXCLUDED.chats,
		   reactions = a.reactions + EXCLUDED.reactions, watch_ms = a.watch_ms + EXCLUDED.watch_ms,
		   replay_views = a.replay_views + EXCLUDED.replay_views, updated_at = EXCLUDED.updated_at`,
		d.ShowID, d.Joins, d.Chats, d.Reactions, d.WatchMillis, d.ReplayViews, at)
	if len(d.Viewers) > 0 {
		batch.Queue(
			`INSERT INTO show_viewers (show_id, viewer_key, first_seen)
			 SELECT $1, k, $3 FROM unnest($2::text[]) AS k
			 ON CONFLICT (show_id, viewer_key) DO NOTHING`, d.ShowID, d.Viewers, at)
	}
	if len(d.Samples) > 0 {
		ats := make([]time.Time, len(d.Samples))
		counts := make([]int64, len(d.Samples))
		for i, s := range d.Samples {
			ats[i], counts[i] = s.At.UTC(), s.Viewers
		}
		batch.Queue(
			`INSERT INTO show_viewer_samples AS s (show_id, at, node, viewers)
			 SELECT $1, t, $2, n FROM unnest($3::timestamptz[], $4::bigint[]) AS u (t, n)
			 ON CONFLICT (show_id, at, node) DO UPDATE SET viewers = GREATEST(s.viewers, EXCLUDED.viewers)`,
			d.ShowID, node, ats, counts)
	}
	if len(d.Taps) > 0 {
		offers := make([]uuid.UUID, 0, len(d.Taps))
		taps := make([]int64, 0, len(d.Taps))
		for o := range d.Taps {
			offers = append(offers, o)
		}
		// Ascending keys, here and for viewers (sorted by the recorder):
		// two nodes inserting the same rows lock them in the same order.
		slices.SortFunc(offers, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
		for _, o := range offers {
			taps = append(taps, d.Taps[o])
		}
		batch.Queue(
			`INSERT INTO show_offer_taps AS t (show_id, offer_id, taps)
			 SELECT $1, o, n FROM unnest($2::uuid[], $3::bigint[]) AS u (o, n)
			 ON CONFLICT (show_id, offer_id) DO UPDATE SET taps = t.taps + EXCLUDED.taps`,
			d.ShowID, offers, taps)
	}
	if len(d.People) > 0 {
		// Flags are ORed in: a flag sent twice (a tally rebuilt after every
		// viewer left) is kept once.
		keys := make([]string, len(d.People))
		flags := make([]int32, len(d.People))
		for i, p := range d.People {
			keys[i], flags[i] = p.Viewer, int32(p.Flags)
		}
		batch.Queue(
			`INSERT INTO show_viewers AS v (show_id, viewer_key, first_seen, engaged)
			 SELECT $1, k, $4, f FROM unnest($2::text[], $3::integer[]) AS u (k, f)
			 ON CONFLICT (show_id, viewer_key) DO UPDATE SET engaged = v.engaged | EXCLUDED.engaged`,
			d.ShowID, keys, flags, at)
	}
	if len(d.Lost) > 0 {
		offers := make([]uuid.UUID, len(d.Lost))
		causes := make([]string, len(d.Lost))
		counts := make([]int64, len(d.Lost))
		for i, l := range d.Lost {
			offers[i], causes[i], counts[i] = l.OfferID, l.Cause, l.N
		}
		batch.Queue(
			`INSERT INTO show_lost_intents AS l (show_id, offer_id, cause, n)
			 SELECT $1, o, c, n FROM unnest($2::uuid[], $3::text[], $4::bigint[]) AS u (o, c, n)
			 ON CONFLICT (show_id, offer_id, cause) DO UPDATE SET n = l.n + EXCLUDED.n`,
			d.ShowID, offers, causes, counts)
	}
	queueReplayDelta(batch, d, at)
	return tx.SendBatch(ctx, batch).Close()
}

// ShowAnalytics returns what the recorders stored for the show, from one snapshot.
func (db AnalyticsStore) ShowAnalytics(ctx context.Context, showID uuid.UUID) (*analytics.Collected, error) {
	c := &analytics.Collected{Taps: map[uuid.UUID]int64{}, Samples: []analytics.Sample{}}
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT joins, chats, reactions, watch_ms FROM show_analytics WHERE show_id = $1`, showID).
			Scan(&c.Joins, &c.Chats, &c.Reactions, &c.WatchMillis)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM show_viewers WHERE show_id = $1`, showID).Scan(&c.UniqueViewers); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT offer_id, taps FROM show_offer_taps WHERE show_id = $1`, showID)
		if err != nil {
			return err
		}
		var (
			offer uuid.UUID
			n     int64
		)
		if _, err := pgx.ForEachRow(rows, []any{&offer, &n}, func() error {
			c.Taps[offer] = n
			return nil
		}); err != nil {
			return err
		}
		rows, err = tx.Query(ctx,
			`SELECT at, sum(viewers)::bigint FROM show_viewer_samples WHERE show_id = $1 GROUP BY at ORDER BY at`, showID)
		if err != nil {
			return err
		}
		var s analytics.Sample
		_, err = pgx.ForEachRow(rows, []any{&s.At, &s.Viewers}, func() error {
			c.Samples = append(c.Samples, analytics.Sample{At: s.At.UTC(), Viewers: s.Viewers})
			return nil
		})
		return err
	})
	if err != nil {
		return nil, storeErr("show analytics", err)
	}
	return c, nil
}

// ShowSales reads the show's funnel from the ledger, from one snapshot.
func (db AnalyticsStore) ShowSales(ctx context.Context, showID uuid.UUID) (*analytics.Sales, error) {
	s := &analytics.Sales{GMV: []analytics.Money{}, Offers: []analytics.OfferSales{}, Minutes: []analytics.SalesMinute{}}
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx,
			`SELECT f.id, f.currency, coalesce(r.n, 0), coalesce(r.units, 0), coalesce(d.n, 0), coalesce(d.units, 0), coalesce(d.gmv, 0)
			 FROM offers f
			 LEFT JOIN (SELECT offer_id, count(*) AS n, sum(quantity)::bigint AS units FROM reservations
			            WHERE show_id = $1 GROUP BY offer_id) r ON r.offer_id = f.id
			 LEFT JOIN (SELECT offer_id, count(*) AS n, sum(quantity)::bigint AS units, sum(total_minor)::bigint AS gmv FROM orders
			            WHERE show_id = $1 AND state IN `+sqlstore.CountedOrders+` GROUP BY offer_id) d ON d.offer_id = f.id
			 WHERE f.show_id = $1 ORDER BY f.id::text`, showID)
		if err != nil {
			return err
		}
		var o analytics.OfferSales
		if _, err := pgx.ForEachRow(rows, []any{&o.OfferID, &o.Currency, &o.Reservations, &o.ReservedUnits, &o.Orders, &o.Units, &o.GMVMinor},
			func() error {
				s.Offers = append(s.Offers, o)
				return nil
			}); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx,
			`SELECT count(DISTINCT o.user_id), count(DISTINCT v.viewer_key) FROM orders o
			 LEFT JOIN show_viewers v ON v.show_id = o.show_id AND v.viewer_key = 'u:' || o.user_id::text
			 WHERE o.show_id = $1 AND o.state IN `+sqlstore.CountedOrders, showID).Scan(&s.Buyers, &s.ViewerBuyers); err != nil {
			return err
		}
		rows, err = tx.Query(ctx,
			`SELECT floor(extract(epoch FROM created_at) / 60)::bigint AS m, 'r', currency, count(*), sum(quantity)::bigint, 0::bigint
			 FROM reservations WHERE show_id = $1 GROUP BY m, currency
			 UNION ALL
			 SELECT floor(extract(epoch FROM created_at) / 60)::bigint AS m, 'o', currency, count(*), sum(quantity)::bigint, sum(total_minor)::bigint
			 FROM orders WHERE show_id = $1 AND state IN `+sqlstore.CountedOrders+` GROUP BY m, currency
			 ORDER BY 1, 2, 3`, showID)
		if err != nil {
			return err
		}
		var (
			m                      int64
			kind, currency         string
			count, units, gmvMinor int64
		)
		_, err = pgx.ForEachRow(rows, []any{&m, &kind, &currency, &count, &units, &gmvMinor}, func() error {
			s.AddMinute(time.Unix(m*60, 0).UTC(), kind == "o", currency, count, units, gmvMinor)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, storeErr("show sales", err)
	}
	s.Total()
	return s, nil
}
