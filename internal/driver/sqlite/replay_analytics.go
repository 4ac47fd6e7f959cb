package sqlite

import (
	"context"
	"database/sql"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

var _ analytics.ReplayStore = (*DB)(nil)

// applyReplayDelta adds a batch's replay viewers of one show (each kept
// once) and the holds made from its replay (each kept once), in the batch's
// transaction; its plays go with the other counters in applyShowDelta.
func applyReplayDelta(ctx context.Context, tx *sql.Tx, d *analytics.ShowDelta, at int64) error {
	if err := insertViewerKeys(ctx, tx, "show_replay_viewers", d.ShowID, d.ReplayViewers, at); err != nil {
		return err
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
