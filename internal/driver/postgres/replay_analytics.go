package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

var _ analytics.ReplayStore = AnalyticsStore{}

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

// replayQ are the replay figures' queries, spelled once for PostgreSQL.
var replayQ = dialect.Replay()

// ReplayFigures reads the shows' replay plays and distinct viewers, and the
// counted orders of holds made from their replays, from one snapshot.
func (db AnalyticsStore) ReplayFigures(ctx context.Context, showIDs []uuid.UUID) (*analytics.ReplayFigures, error) {
	f := &analytics.ReplayFigures{GMV: []analytics.Money{}}
	shows := sqlstore.IDs(showIDs)
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, replayQ.Plays, shows).Scan(&f.Views, &f.Viewers, &f.Holds); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, replayQ.Orders, shows).Scan(&f.Orders, &f.Units, &f.Buyers); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, replayQ.GMV, shows)
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
