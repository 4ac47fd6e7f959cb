package sqlite

import (
	"context"
	"database/sql"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

var _ analytics.ReplayStore = (*DB)(nil)

// applyReplayDelta adds a batch's replay figures of one show: its plays,
// its replay viewers (each kept once) and the holds made from its replay
// (each kept once), in the batch's transaction.
func applyReplayDelta(ctx context.Context, tx *sql.Tx, d *analytics.ShowDelta, at int64) error {
	if d.ReplayViews != 0 {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO show_analytics (show_id, replay_views, updated_at) VALUES (?, ?, ?)
			 ON CONFLICT (show_id) DO UPDATE SET replay_views = replay_views + excluded.replay_views, updated_at = excluded.updated_at`,
			d.ShowID, d.ReplayViews, at); err != nil {
			return err
		}
	}
	for keys := range chunks(d.ReplayViewers, viewerChunk) {
		args := make([]any, 0, 3*len(keys))
		for _, k := range keys {
			args = append(args, d.ShowID, k, at)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO show_replay_viewers (show_id, viewer_key, first_seen) VALUES `+placeholders(len(keys), "(?, ?, ?)")+
				` ON CONFLICT (show_id, viewer_key) DO NOTHING`, args...); err != nil {
			return err
		}
	}
	for ids := range chunks(d.ReplayHolds, viewerChunk) {
		args := make([]any, 0, 2*len(ids))
		for _, id := range ids {
			args = append(args, id, d.ShowID)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO replay_holds (reservation_id, show_id) VALUES `+placeholders(len(ids), "(?, ?)")+
				` ON CONFLICT (reservation_id) DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

// ReplayFigures reads the shows' replay plays and distinct viewers, and the
// counted orders of holds made from their replays, from one snapshot.
func (db *DB) ReplayFigures(ctx context.Context, showIDs []uuid.UUID) (*analytics.ReplayFigures, error) {
	f := &analytics.ReplayFigures{GMV: []analytics.Money{}}
	in := someOf(len(showIDs))
	ids := anys(showIDs)
	err := db.read(ctx, "replay figures", func(tx *sql.Tx) error {
		args := append(append(append([]any{}, ids...), ids...), ids...)
		if err := tx.QueryRowContext(ctx,
			`SELECT (SELECT coalesce(sum(replay_views), 0) FROM show_analytics WHERE show_id IN `+in+`),
			        (SELECT count(DISTINCT viewer_key) FROM show_replay_viewers WHERE show_id IN `+in+`),
			        (SELECT count(*) FROM replay_holds WHERE show_id IN `+in+`)`, args...).
			Scan(&f.Views, &f.Viewers, &f.Holds); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*), coalesce(sum(o.quantity), 0), count(DISTINCT o.user_id) FROM orders o
			 JOIN replay_holds h ON h.reservation_id = o.reservation_id
			 WHERE h.show_id IN `+in+` AND o.state IN `+countedOrders, ids...).
			Scan(&f.Orders, &f.Units, &f.Buyers); err != nil {
			return err
		}
		gmv, err := queryAll(ctx, tx, func(r row) (*analytics.Money, error) {
			var m analytics.Money
			return &m, r.Scan(&m.Currency, &m.Minor)
		}, `SELECT o.currency, sum(o.total_minor) FROM orders o
		    JOIN replay_holds h ON h.reservation_id = o.reservation_id
		    WHERE h.show_id IN `+in+` AND o.state IN `+countedOrders+`
		    GROUP BY o.currency ORDER BY o.currency`, ids...)
		if err != nil {
			return err
		}
		f.GMV = append(f.GMV, gmv...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}
