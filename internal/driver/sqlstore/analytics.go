package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

// AnalyticsReader reads back the recorders' counters of shows with the
// ledger's sales figures and the replay figures. Applying a recorder's
// batch is each driver's: PostgreSQL sends it as one pipelined batch over
// arrays, SQLite as multi-row inserts.
type AnalyticsReader struct {
	db *Conn
	q  ReplayQueries // spelled once, in db's dialect
}

var _ analytics.ReplayStore = AnalyticsReader{}

// ShowAnalytics returns what the recorders stored for the show, from one snapshot.
func (s AnalyticsReader) ShowAnalytics(ctx context.Context, showID uuid.UUID) (*analytics.Collected, error) {
	c := &analytics.Collected{Taps: map[uuid.UUID]int64{}, Samples: []analytics.Sample{}}
	err := s.db.Snapshot(ctx, func(tx Querier) error {
		err := tx.QueryRow(ctx, `SELECT joins, chats, reactions, watch_ms FROM show_analytics WHERE show_id = $1`, showID).
			Scan(&c.Joins, &c.Chats, &c.Reactions, &c.WatchMillis)
		if err != nil && !errors.Is(err, ErrNoRows) {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM show_viewers WHERE show_id = $1`, showID).Scan(&c.UniqueViewers); err != nil {
			return err
		}
		type tap struct {
			offer uuid.UUID
			n     int64
		}
		taps, err := QueryAll(ctx, tx, func(r Row) (*tap, error) {
			var t tap
			return &t, r.Scan(&t.offer, &t.n)
		}, `SELECT offer_id, taps FROM show_offer_taps WHERE show_id = $1`, showID)
		if err != nil {
			return err
		}
		for _, t := range taps {
			c.Taps[t.offer] = t.n
		}
		c.Samples, err = QueryAll(ctx, tx, func(r Row) (*analytics.Sample, error) {
			var sm analytics.Sample
			return &sm, r.Scan(s.db.Scan.Time(&sm.At), &sm.Viewers)
		}, `SELECT at, CAST(sum(viewers) AS bigint) FROM show_viewer_samples WHERE show_id = $1 GROUP BY at ORDER BY at`, showID)
		return err
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("show analytics", err)
	}
	return c, nil
}

// ShowSales reads the show's funnel from the ledger, from one snapshot.
func (s AnalyticsReader) ShowSales(ctx context.Context, showID uuid.UUID) (*analytics.Sales, error) {
	sales := &analytics.Sales{GMV: []analytics.Money{}, Offers: []analytics.OfferSales{}, Minutes: []analytics.SalesMinute{}}
	minute := s.db.Dialect.Minute(`created_at`)
	err := s.db.Snapshot(ctx, func(tx Querier) error {
		var err error
		sales.Offers, err = QueryAll(ctx, tx, func(r Row) (*analytics.OfferSales, error) {
			var o analytics.OfferSales
			return &o, r.Scan(&o.OfferID, &o.Currency, &o.Reservations, &o.ReservedUnits, &o.Orders, &o.Units, &o.GMVMinor)
		}, `SELECT f.id, f.currency, coalesce(r.n, 0), coalesce(r.units, 0), coalesce(d.n, 0), coalesce(d.units, 0), coalesce(d.gmv, 0)
		    FROM offers f
		    LEFT JOIN (SELECT offer_id, count(*) AS n, CAST(sum(quantity) AS bigint) AS units FROM reservations
		               WHERE show_id = $1 GROUP BY offer_id) r ON r.offer_id = f.id
		    LEFT JOIN (SELECT offer_id, count(*) AS n, CAST(sum(quantity) AS bigint) AS units, CAST(sum(total_minor) AS bigint) AS gmv
		               FROM orders WHERE show_id = $1 AND state IN `+CountedOrders+` GROUP BY offer_id) d ON d.offer_id = f.id
		    WHERE f.show_id = $1 ORDER BY CAST(f.id AS text)`, showID)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx,
			`SELECT count(DISTINCT o.user_id), count(DISTINCT v.viewer_key) FROM orders o
			 LEFT JOIN show_viewers v ON v.show_id = o.show_id AND v.viewer_key = 'u:' || CAST(o.user_id AS text)
			 WHERE o.show_id = $1 AND o.state IN `+CountedOrders, showID).Scan(&sales.Buyers, &sales.ViewerBuyers); err != nil {
			return err
		}
		type row struct {
			m                      int64
			kind, currency         string
			count, units, gmvMinor int64
		}
		rows, err := QueryAll(ctx, tx, func(r Row) (*row, error) {
			var m row
			return &m, r.Scan(&m.m, &m.kind, &m.currency, &m.count, &m.units, &m.gmvMinor)
		}, `SELECT `+minute+` AS m, 'r', currency, count(*), CAST(sum(quantity) AS bigint), CAST(0 AS bigint)
		    FROM reservations WHERE show_id = $1 GROUP BY m, currency
		    UNION ALL
		    SELECT `+minute+` AS m, 'o', currency, count(*), CAST(sum(quantity) AS bigint), CAST(sum(total_minor) AS bigint)
		    FROM orders WHERE show_id = $1 AND state IN `+CountedOrders+` GROUP BY m, currency
		    ORDER BY 1, 2, 3`, showID)
		if err != nil {
			return err
		}
		for _, m := range rows {
			sales.AddMinute(time.Unix(m.m*60, 0).UTC(), m.kind == "o", m.currency, m.count, m.units, m.gmvMinor)
		}
		return nil
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("show sales", err)
	}
	sales.Total()
	return sales, nil
}

// ReplayFigures reads the shows' replay plays and distinct viewers, and the
// counted orders of holds made from their replays, from one snapshot.
func (s AnalyticsReader) ReplayFigures(ctx context.Context, showIDs []uuid.UUID) (*analytics.ReplayFigures, error) {
	f := &analytics.ReplayFigures{GMV: []analytics.Money{}}
	shows := s.db.Dialect.List(IDs(showIDs))
	err := s.db.Snapshot(ctx, func(tx Querier) error {
		if err := tx.QueryRow(ctx, s.q.Plays, shows).Scan(&f.Views, &f.Viewers, &f.Holds); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, s.q.Orders, shows).Scan(&f.Orders, &f.Units, &f.Buyers); err != nil {
			return err
		}
		gmv, err := QueryAll(ctx, tx, func(r Row) (*analytics.Money, error) {
			var m analytics.Money
			return &m, r.Scan(&m.Currency, &m.Minor)
		}, s.q.GMV, shows)
		f.GMV = append(f.GMV, gmv...)
		return err
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("replay figures", err)
	}
	return f, nil
}
