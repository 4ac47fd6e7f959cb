package sqlstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

// AnalyticsReader reads back the recorders' counters of shows with the
// ledger's sales figures and the replay figures; AnalyticsWriter applies
// the recorders' batches.
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

// AnalyticsWriter applies the recorders' batches of counters of shows; they
// are read back by AnalyticsReader.
type AnalyticsWriter struct{ db *Conn }

// ApplyAnalytics adds one recorder batch in one transaction, once: a batch
// at or below the node's last applied Seq is a retry and changes nothing.
// Concurrent batches of several nodes only add to the same rows, and each
// node's viewer samples are rows of their own. Deltas of shows that no
// longer exist are dropped, so one deleted show cannot hold up the others.
func (s AnalyticsWriter) ApplyAnalytics(ctx context.Context, b *analytics.Batch) error {
	d := s.db.Dialect
	at := d.Time(time.Now())
	err := s.db.Tx(ctx, func(tx Querier) error {
		n, err := tx.Exec(ctx,
			`INSERT INTO analytics_nodes (node, last_seq, updated_at) VALUES ($1, $2, $3)
			 ON CONFLICT (node) DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = EXCLUDED.updated_at
			 WHERE analytics_nodes.last_seq < EXCLUDED.last_seq`, b.Node, b.Seq, at)
		if err != nil || n == 0 {
			return err // applied already
		}
		ids := make([]uuid.UUID, len(b.Shows))
		for i, sd := range b.Shows {
			ids[i] = sd.ShowID
		}
		found, err := QueryAll(ctx, tx, func(r Row) (*uuid.UUID, error) {
			var id uuid.UUID
			return &id, r.Scan(&id)
		}, `SELECT id FROM shows WHERE `+d.AnyOf(`id`, `$1`), d.List(ids))
		if err != nil {
			return err
		}
		// Every node writes the same shows' rows; the batch is sorted by
		// show, so two nodes' transactions lock them in one order.
		for i := range b.Shows {
			if sd := &b.Shows[i]; slices.Contains(found, sd.ShowID) {
				if err := s.applyShowDelta(ctx, tx, b.Node, sd, at); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return s.db.Errs.Wrap("apply analytics", err)
}

// The tables u of a show's delta.
var (
	viewerKeyCols = Cols("k text")
	sampleCols    = Cols("t timestamptz, n bigint")
	tapCols       = Cols("o uuid, n bigint")
	personCols    = Cols("k text, f integer")
	lostCols      = Cols("o uuid, c text, n bigint")
	holdCols      = Cols("r uuid")
)

// applyShowDelta adds one show's delta in tx. Keys go in ascending order
// (viewers and people come sorted from the recorder, taps are sorted here),
// so two nodes inserting the same rows lock them in the same order.
func (s AnalyticsWriter) applyShowDelta(ctx context.Context, tx Querier, node string, d *analytics.ShowDelta, at any) error {
	dl := s.db.Dialect
	if _, err := tx.Exec(ctx,
		`INSERT INTO show_analytics AS a (show_id, joins, chats, reactions, watch_ms, replay_views, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (show_id) DO UPDATE SET joins = a.joins + EXCLUDED.joins, chats = a.chats + EXCLUDED.chats,
		   reactions = a.reactions + EXCLUDED.reactions, watch_ms = a.watch_ms + EXCLUDED.watch_ms,
		   replay_views = a.replay_views + EXCLUDED.replay_views, updated_at = EXCLUDED.updated_at`,
		d.ShowID, d.Joins, d.Chats, d.Reactions, d.WatchMillis, d.ReplayViews, at); err != nil {
		return err
	}
	samples := make([][]any, len(d.Samples))
	for i, sm := range d.Samples {
		samples[i] = []any{dl.Time(sm.At), sm.Viewers}
	}
	offers := make([]uuid.UUID, 0, len(d.Taps))
	for o := range d.Taps {
		offers = append(offers, o)
	}
	slices.SortFunc(offers, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	taps := make([][]any, len(offers))
	for i, o := range offers {
		taps[i] = []any{o, d.Taps[o]}
	}
	// Flags are ORed in: a flag sent twice (a tally rebuilt after every
	// viewer left) is kept once.
	people := make([][]any, len(d.People))
	for i, p := range d.People {
		people[i] = []any{p.Viewer, int64(p.Flags)}
	}
	lost := make([][]any, len(d.Lost))
	for i, l := range d.Lost {
		lost[i] = []any{l.OfferID, l.Cause, l.N}
	}
	for _, w := range []struct {
		cols []Col
		rows [][]any
		stmt string
		args []any
	}{
		{viewerKeyCols, column(d.Viewers), `INSERT INTO show_viewers (show_id, viewer_key, first_seen)
		 SELECT $1, k, $2 FROM u WHERE true ON CONFLICT (show_id, viewer_key) DO NOTHING`, []any{d.ShowID, at}},
		{sampleCols, samples, `INSERT INTO show_viewer_samples AS s (show_id, at, node, viewers)
		 SELECT $1, t, $2, n FROM u WHERE true
		 ON CONFLICT (show_id, at, node) DO UPDATE SET viewers = ` + dl.Greatest + `(s.viewers, EXCLUDED.viewers)`, []any{d.ShowID, node}},
		{tapCols, taps, `INSERT INTO show_offer_taps AS t (show_id, offer_id, taps)
		 SELECT $1, o, n FROM u WHERE true
		 ON CONFLICT (show_id, offer_id) DO UPDATE SET taps = t.taps + EXCLUDED.taps`, []any{d.ShowID}},
		{personCols, people, `INSERT INTO show_viewers AS v (show_id, viewer_key, first_seen, engaged)
		 SELECT $1, k, $2, f FROM u WHERE true
		 ON CONFLICT (show_id, viewer_key) DO UPDATE SET engaged = v.engaged | EXCLUDED.engaged`, []any{d.ShowID, at}},
		{lostCols, lost, `INSERT INTO show_lost_intents AS l (show_id, offer_id, cause, n)
		 SELECT $1, o, c, n FROM u WHERE true
		 ON CONFLICT (show_id, offer_id, cause) DO UPDATE SET n = l.n + EXCLUDED.n`, []any{d.ShowID}},
		// The replay's viewers (each kept once) and the holds made from it
		// (each kept once); its plays went with the counters above.
		{viewerKeyCols, column(d.ReplayViewers), `INSERT INTO show_replay_viewers (show_id, viewer_key, first_seen)
		 SELECT $1, k, $2 FROM u WHERE true ON CONFLICT (show_id, viewer_key) DO NOTHING`, []any{d.ShowID, at}},
		{holdCols, column(d.ReplayHolds), `INSERT INTO replay_holds (reservation_id, show_id)
		 SELECT r, $1 FROM u WHERE true ON CONFLICT (reservation_id) DO NOTHING`, []any{d.ShowID}},
	} {
		if len(w.rows) == 0 {
			continue
		}
		if _, err := dl.ExecRows(ctx, tx, w.cols, w.rows, w.stmt, w.args...); err != nil {
			return err
		}
	}
	return nil
}

// column is vs as the rows of a table of one column.
func column[T any](vs []T) [][]any {
	out := make([][]any, len(vs))
	for i, v := range vs {
		out[i] = []any{v}
	}
	return out
}
