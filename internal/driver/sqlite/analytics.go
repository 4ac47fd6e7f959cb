package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

// AnalyticsStore applies the recorders' batches of counters of shows; they
// are read back by sqlstore.AnalyticsReader.
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
