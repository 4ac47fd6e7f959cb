package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

var _ analytics.ReplayStore = (*DB)(nil)

// queueReplayDelta queues a batch's replay viewers of one show (each kept
// once) and the holds made from its replay (each kept once); its plays go
// with the other counters in applyShowDelta. Keys come sorted from the
// recorder, so two nodes lock the same rows in one order.
func queueReplayDelta(batch *pgx.Batch, d *analytics.ShowDelta, at time.Time) {
	if len(d.ReplayViewers) > 0 {
		batch.Queue(
			`INSERT INTO show_replay_viewers (show_id, viewer_key, first_seen)
			 SELECT $1, k, $3 FROM unnest($2::text[]) AS k
			 ON CONFLICT (show_id, viewer_key) DO NOTHING`, d.ShowID, d.ReplayViewers, at)
	}
	if len(d.ReplayHolds) > 0 {
		batch.Queue(
			`INSERT INTO replay_holds (reservation_id, show_id)
			 SELECT r, $1 FROM unnest($2::uuid[]) AS r
			 ON CONFLICT (reservation_id) DO NOTHING`, d.ShowID, d.ReplayHolds)
	}
}

// ReplayFigures reads the shows' replay plays and distinct viewers, and the
// counted orders of holds made from their replays, from one snapshot.
func (db *DB) ReplayFigures(ctx context.Context, showIDs []uuid.UUID) (*analytics.ReplayFigures, error) {
	f := &analytics.ReplayFigures{GMV: []analytics.Money{}}
	ids := showIDs
	if ids == nil {
		ids = []uuid.UUID{}
	}
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx,
			`SELECT (SELECT coalesce(sum(replay_views), 0)::bigint FROM show_analytics WHERE show_id = ANY($1)),
			        (SELECT count(DISTINCT viewer_key) FROM show_replay_viewers WHERE show_id = ANY($1)),
			        (SELECT count(*) FROM replay_holds WHERE show_id = ANY($1))`, ids).
			Scan(&f.Views, &f.Viewers, &f.Holds); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx,
			`SELECT count(*), coalesce(sum(o.quantity), 0)::bigint, count(DISTINCT o.user_id) FROM orders o
			 JOIN replay_holds h ON h.reservation_id = o.reservation_id
			 WHERE h.show_id = ANY($1) AND o.state IN `+countedOrders, ids).
			Scan(&f.Orders, &f.Units, &f.Buyers); err != nil {
			return err
		}
		rows, err := tx.Query(ctx,
			`SELECT o.currency, sum(o.total_minor)::bigint FROM orders o
			 JOIN replay_holds h ON h.reservation_id = o.reservation_id
			 WHERE h.show_id = ANY($1) AND o.state IN `+countedOrders+`
			 GROUP BY o.currency ORDER BY o.currency`, ids)
		if err != nil {
			return err
		}
		var m analytics.Money
		_, err = pgx.ForEachRow(rows, []any{&m.Currency, &m.Minor}, func() error {
			f.GMV = append(f.GMV, m)
			return nil
		})
		return err
	})
	if err != nil {
		return nil, storeErr("replay figures", err)
	}
	return f, nil
}
