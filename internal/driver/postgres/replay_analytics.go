package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

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
