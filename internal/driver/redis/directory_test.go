package redis

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
	"github.com/pavilion-live/pavilion/stream"
	"github.com/pavilion-live/pavilion/stream/directorytest"
)

func TestDirectoryContract(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) directorytest.Backend {
		url, prefix := testinfra.Redis(t)
		// Two clients, two connection pools: as close to two nodes as one
		// process gets. Redis measures the TTLs on its own clock, so time
		// passes for real.
		return directorytest.Backend{
			Node1:   NewDirectory(open(t, url), prefix),
			Node2:   NewDirectory(open(t, url), prefix),
			Advance: time.Sleep,
		}
	})
}

// TestDirectoryKeysExpire checks that the directory's keys carry TTLs, so a
// cluster that stops leaves nothing in Redis.
func TestDirectoryKeysExpire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, prefix := testinfra.Redis(t)
	client := open(t, url)
	d := NewDirectory(client, prefix)
	show := uuid.New()
	if err := d.Heartbeat(ctx, stream.Node{ID: "a"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := d.ClaimOrigin(ctx, show, "a", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	keys := append(d.nodeKeys(), d.originKey(show))
	for _, k := range keys {
		pttl, err := client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		// -1 is a key without expiry, -2 a missing key.
		if pttl <= 0 || pttl > time.Minute {
			t.Errorf("PTTL %s = %v, want a TTL of at most a minute", k, pttl)
		}
	}
	// A later, shorter heartbeat does not cut the longer one's life.
	if err := d.Heartbeat(ctx, stream.Node{ID: "b"}, time.Second); err != nil {
		t.Fatal(err)
	}
	if pttl, err := client.PTTL(ctx, d.nodeKeys()[0]).Result(); err != nil || pttl <= time.Second {
		t.Errorf("PTTL after a shorter heartbeat = %v, %v; want the longer one kept", pttl, err)
	}
}

// TestDirectoryAfterRedisRestart: a restart empties the directory; nodes
// and origins come back with their next heartbeat and claim.
func TestDirectoryAfterRedisRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url, restart := testinfra.RedisServer(t)
	d := NewDirectory(open(t, url), testinfra.UniqueName("pavtest:")+":")
	show := uuid.New()
	a := stream.Node{ID: "a", URL: "http://10.0.0.1:8080"}
	if err := d.Heartbeat(ctx, a, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := d.ClaimOrigin(ctx, show, a.ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	restart()
	if _, ok, err := retry3(t, func() (stream.Node, bool, error) { return d.Origin(ctx, show) }); ok || err != nil {
		t.Fatalf("Origin after a restart = %v, %v; want none", ok, err)
	}
	retry(t, "Heartbeat", func() (struct{}, error) { return struct{}{}, d.Heartbeat(ctx, a, time.Minute) })
	retry(t, "ClaimOrigin", func() (struct{}, error) { return struct{}{}, d.ClaimOrigin(ctx, show, a.ID, time.Minute) })
	if n, ok, err := d.Origin(ctx, show); err != nil || !ok || n.ID != a.ID {
		t.Fatalf("Origin after re-claiming = %v, %v, %v; want node a", n, ok, err)
	}
}

// retry3 is retry for functions with two results.
func retry3[A, B any](t *testing.T, f func() (A, B, error)) (A, B, error) {
	t.Helper()
	var (
		a   A
		b   B
		err error
	)
	for range 20 {
		if a, b, err = f(); err == nil {
			return a, b, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return a, b, err
}
