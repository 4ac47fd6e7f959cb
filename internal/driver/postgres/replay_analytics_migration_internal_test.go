package postgres

import "testing"

// TestReplayAnalyticsMigration: version 16 adds the replay viewers and
// replay holds tables and the replay views column, and takes them away
// going down.
func TestReplayAnalyticsMigration(t *testing.T) {
	migrationRoundTrip(t, 16, 3, `SELECT
		(SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('show_replay_viewers', 'replay_holds'))
		+ (SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()
		   AND table_name = 'show_analytics' AND column_name = 'replay_views')`)
}
