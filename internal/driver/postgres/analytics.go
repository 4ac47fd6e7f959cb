package postgres

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

// AnalyticsStore applies the recorders' batches of counters of shows; they
// are read back by sqlstore.AnalyticsReader.
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
