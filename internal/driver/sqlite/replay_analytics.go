package sqlite

import (
	"context"
	"database/sql"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

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
