package sqlite

import "testing"

// TestReplayAnalyticsMigration: version 16 adds the replay viewers and
// replay holds tables and the replay views column, and takes them away
// going down.
func TestReplayAnalyticsMigration(t *testing.T) {
	migrationRoundTrip(t, 16, 3, `SELECT
		(SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('show_replay_viewers', 'replay_holds'))
		+ (SELECT count(*) FROM pragma_table_info('show_analytics') WHERE name = 'replay_views')`)
}
