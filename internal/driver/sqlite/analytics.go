package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

var _ analytics.Store = AnalyticsStore{}

// AnalyticsStore keeps the recorders' counters of shows and reads them
// back with the ledger's sales figures.
type AnalyticsStore struct{ *conn }

// ApplyAnalytics adds one recorder batch in one transaction, once: a batch
// at or below the node's last applied Seq is a retry and changes nothing.
// Deltas of shows that no longer exist are dropped, so one deleted show
// cannot hold up every other show's figures.
func (db AnalyticsStore) ApplyAnalytics(ctx context.Context, b *analytics.Batch) error {
	at := micros(now())
	return db.write(ctx, "apply analytics", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`INSERT INTO analytics_nodes (node, last_seq, updated_at) VALUES ($1, $2, $3)
			 ON CONFLICT (node) DO UPDATE SET last_seq = excluded.last_seq, updated_at = excluded.updated_at
			 WHERE analytics_nodes.last_seq < excluded.last_seq`, b.Node, b.Seq, at)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // applied already
		}
		for i := range b.Shows {
			d := &b.Shows[i]
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM shows WHERE id = $1`, d.ShowID).Scan(&exists); err != nil {
				return err
			}
			if exists == 0 {
				continue
			}
			if err := applyShowDelta(ctx, tx, b.Node, d, at); err != nil {
				return err
			}
		}
		return nil
	})
}

// viewerChunk bounds the rows of one multi-row insert (3 parameters a row).
const viewerChunk = 300

// insertViewerKeys keeps each of a show's viewer keys once in table
// (show_viewers, show_replay_viewers), first seen at.
func insertViewerKeys(ctx context.Context, tx *sql.Tx, table string, showID uuid.UUID, keys []string, at int64) error {
	for part := range chunks(keys, viewerChunk) {
		args := make([]any, 0, 3*len(part))
		for _, k := range part {
			args = append(args, showID, k, at)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO `+table+` (show_id, viewer_key, first_seen) VALUES `+valueRows(len(part), 3)+
				` ON CONFLICT (show_id, viewer_key) DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

func applyShowDelta(ctx context.Context, tx *sql.Tx, node string, d *analytics.ShowDelta, at int64) error {
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO show_analytics (show_id, joins, chats, reactions, watch_ms, replay_views, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (show_id) DO UPDATE SET joins = joins + excluded.joins, chats = chats + excluded.chats,
		   reactions = reactions + excluded.reactions, watch_ms = watch_ms + excluded.watch_ms,
		   replay_views = replay_views + excluded.replay_views, updated_at = excluded.updated_at`,
		d.ShowID, d.Joins, d.Chats, d.Reactions, d.WatchMillis, d.ReplayViews, at); err != nil {
		return err
	}
	if err := insertViewerKeys(ctx, tx, "show_viewers", d.ShowID, d.Viewers, at); err != nil {
		return err
	}
	for _, s := range d.Samples {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO show_viewer_samples (show_id, at, node, viewers) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (show_id, at, node) DO UPDATE SET viewers = max(viewers, excluded.viewers)`,
			d.ShowID, micros(s.At), node, s.Viewers); err != nil {
			return err
		}
	}
	for people := range chunks(d.People, viewerChunk) {
		// Flags are ORed in: a flag sent twice (a tally rebuilt after every
		// viewer left) is kept once.
		args := make([]any, 0, 4*len(people))
		for _, p := range people {
			args = append(args, d.ShowID, p.Viewer, at, int64(p.Flags))
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO show_viewers (show_id, viewer_key, first_seen, engaged) VALUES `+valueRows(len(people), 4)+
				` ON CONFLICT (show_id, viewer_key) DO UPDATE SET engaged = engaged | excluded.engaged`, args...); err != nil {
			return err
		}
	}
	for _, l := range d.Lost {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO show_lost_intents (show_id, offer_id, cause, n) VALUES ($1, $2, $3, $4)
			 ON CONFLICT (show_id, offer_id, cause) DO UPDATE SET n = n + excluded.n`,
			d.ShowID, l.OfferID, l.Cause, l.N); err != nil {
			return err
		}
	}
	for offer, n := range d.Taps {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO show_offer_taps (show_id, offer_id, taps) VALUES ($1, $2, $3)
			 ON CONFLICT (show_id, offer_id) DO UPDATE SET taps = taps + excluded.taps`,
			d.ShowID, offer, n); err != nil {
			return err
		}
	}
	return applyReplayDelta(ctx, tx, d, at)
}

// chunks yields s in pieces of at most n.
func chunks[T any](s []T, n int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// valueRows is the VALUES of n rows of width parameters each, numbered in
// order: "($1, $2), ($3, $4)" for 2 rows of 2.
func valueRows(n, width int) string {
	var b strings.Builder
	for r := range n {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteString(inList(r*width+1, width))
	}
	return b.String()
}

// ShowAnalytics returns what the recorders stored for the show, from one snapshot.
func (db AnalyticsStore) ShowAnalytics(ctx context.Context, showID uuid.UUID) (*analytics.Collected, error) {
	c := &analytics.Collected{Taps: map[uuid.UUID]int64{}, Samples: []analytics.Sample{}}
	err := db.read(ctx, "show analytics", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT joins, chats, reactions, watch_ms FROM show_analytics WHERE show_id = $1`, showID).
			Scan(&c.Joins, &c.Chats, &c.Reactions, &c.WatchMillis)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM show_viewers WHERE show_id = $1`, showID).Scan(&c.UniqueViewers); err != nil {
			return err
		}
		type tap struct {
			offer uuid.UUID
			n     int64
		}
		taps, err := queryAll(ctx, tx, func(r row) (*tap, error) {
			var t tap
			return &t, r.Scan(&t.offer, &t.n)
		}, `SELECT offer_id, taps FROM show_offer_taps WHERE show_id = $1`, showID)
		if err != nil {
			return err
		}
		for _, t := range taps {
			c.Taps[t.offer] = t.n
		}
		c.Samples, err = queryAll(ctx, tx, func(r row) (*analytics.Sample, error) {
			var s analytics.Sample
			return &s, r.Scan(asTime(&s.At), &s.Viewers)
		}, `SELECT at, sum(viewers) FROM show_viewer_samples WHERE show_id = $1 GROUP BY at ORDER BY at`, showID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ShowSales reads the show's funnel from the ledger, from one snapshot.
func (db AnalyticsStore) ShowSales(ctx context.Context, showID uuid.UUID) (*analytics.Sales, error) {
	s := &analytics.Sales{GMV: []analytics.Money{}, Offers: []analytics.OfferSales{}, Minutes: []analytics.SalesMinute{}}
	err := db.read(ctx, "show sales", func(tx *sql.Tx) error {
		var err error
		s.Offers, err = queryAll(ctx, tx, func(r row) (*analytics.OfferSales, error) {
			var o analytics.OfferSales
			return &o, r.Scan(&o.OfferID, &o.Currency, &o.Reservations, &o.ReservedUnits, &o.Orders, &o.Units, &o.GMVMinor)
		}, `SELECT f.id, f.currency, coalesce(r.n, 0), coalesce(r.units, 0), coalesce(d.n, 0), coalesce(d.units, 0), coalesce(d.gmv, 0)
		    FROM offers f
		    LEFT JOIN (SELECT offer_id, count(*) AS n, sum(quantity) AS units FROM reservations WHERE show_id = $1 GROUP BY offer_id) r
		      ON r.offer_id = f.id
		    LEFT JOIN (SELECT offer_id, count(*) AS n, sum(quantity) AS units, sum(total_minor) AS gmv FROM orders
		               WHERE show_id = $2 AND state IN `+sqlstore.CountedOrders+` GROUP BY offer_id) d
		      ON d.offer_id = f.id
		    WHERE f.show_id = $3 ORDER BY f.id`, showID, showID, showID)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx,
			`SELECT count(DISTINCT o.user_id), count(DISTINCT v.viewer_key) FROM orders o
			 LEFT JOIN show_viewers v ON v.show_id = o.show_id AND v.viewer_key = 'u:' || o.user_id
			 WHERE o.show_id = $1 AND o.state IN `+sqlstore.CountedOrders, showID).Scan(&s.Buyers, &s.ViewerBuyers); err != nil {
			return err
		}
		type minute struct {
			m                      int64
			kind, currency         string
			count, units, gmvMinor int64
		}
		rows, err := queryAll(ctx, tx, func(r row) (*minute, error) {
			var m minute
			return &m, r.Scan(&m.m, &m.kind, &m.currency, &m.count, &m.units, &m.gmvMinor)
		}, `SELECT created_at / 60000000 AS m, 'r', currency, count(*), sum(quantity), 0 FROM reservations
		    WHERE show_id = $1 GROUP BY m, currency
		    UNION ALL
		    SELECT created_at / 60000000 AS m, 'o', currency, count(*), sum(quantity), sum(total_minor) FROM orders
		    WHERE show_id = $2 AND state IN `+sqlstore.CountedOrders+` GROUP BY m, currency
		    ORDER BY 1, 2, 3`, showID, showID)
		if err != nil {
			return err
		}
		for _, m := range rows {
			s.AddMinute(time.Unix(m.m*60, 0).UTC(), m.kind == "o", m.currency, m.count, m.units, m.gmvMinor)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Total()
	return s, nil
}
