package sqlite

import (
	"context"
	"database/sql"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

var _ analytics.ReplayStore = AnalyticsStore{}

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
			`INSERT INTO replay_holds (reservation_id, show_id) VALUES `+valueRows(len(ids), 2)+
				` ON CONFLICT (reservation_id) DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

// replayQ are the replay figures' queries, spelled once for SQLite.
var replayQ = dialect.Replay()

// ReplayFigures reads the shows' replay plays and distinct viewers, and the
// counted orders of holds made from their replays, from one snapshot.
func (db AnalyticsStore) ReplayFigures(ctx context.Context, showIDs []uuid.UUID) (*analytics.ReplayFigures, error) {
	f := &analytics.ReplayFigures{GMV: []analytics.Money{}}
	shows := jsonList(sqlstore.IDs(showIDs))
	err := db.read(ctx, "replay figures", func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, replayQ.Plays, shows).Scan(&f.Views, &f.Viewers, &f.Holds); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, replayQ.Orders, shows).Scan(&f.Orders, &f.Units, &f.Buyers); err != nil {
			return err
		}
		gmv, err := queryAll(ctx, tx, func(r row) (*analytics.Money, error) {
			var m analytics.Money
			return &m, r.Scan(&m.Currency, &m.Minor)
		}, replayQ.GMV, shows)
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
