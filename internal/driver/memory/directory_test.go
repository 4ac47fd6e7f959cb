package memory

import (
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/stream"
	"github.com/pavilion-live/pavilion/stream/directorytest"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestDirectoryContract(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) directorytest.Backend {
		clock := &fakeClock{now: time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)}
		d := NewDirectory()
		d.Now = clock.Now
		// One process is one node: the second node is the same directory.
		return directorytest.Backend{Node1: d, Node2: d, Advance: clock.Advance}
	})
}

// The contract suite moves a fake clock; this runs the same suite on the
// real one, so the default clock is covered too.
func TestDirectoryContractRealClock(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) directorytest.Backend {
		d := NewDirectory()
		return directorytest.Backend{Node1: d, Node2: d, Advance: time.Sleep}
	})
}

func TestDirectorySweepsTheDead(t *testing.T) {
	clock := &fakeClock{now: time.Unix(0, 0)}
	d := NewDirectory()
	d.Now = clock.Now
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		if err := d.Heartbeat(ctx, stream.Node{ID: id}, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.ClaimOrigin(ctx, uuid.New(), "a", time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	if err := d.Heartbeat(ctx, stream.Node{ID: "d"}, time.Second); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.nodes) != 1 || len(d.origins) != 0 {
		t.Fatalf("after a heartbeat, %d nodes and %d origins remain; want only the live node", len(d.nodes), len(d.origins))
	}
}
