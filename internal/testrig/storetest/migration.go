package storetest

import "testing"

// MigrationRoundTrip checks one migration of a driver: going up to version
// adds the want tables (count says how many of them exist), going down to
// version-1 takes them away, and going up again brings them back.
func MigrationRoundTrip(t *testing.T, version int64, want int, up, down func(to int64) error, count func() int) {
	t.Helper()
	for _, step := range []struct {
		up     bool
		to     int64
		tables int
	}{{true, version, want}, {false, version - 1, 0}, {true, version, want}} {
		move := down
		if step.up {
			move = up
		}
		if err := move(step.to); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != step.tables {
			t.Fatalf("at version %d: %d of the tables, want %d", step.to, got, step.tables)
		}
	}
}
