// Package directorytest is the contract test suite for stream.Directory.
// Every implementation runs the same suite, so a single node and a cluster
// agree on which nodes live and which node is the origin of a show.
package directorytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/stream"
)

const (
	// long is a TTL that no test outlives: entries given it must stay.
	long = time.Minute
	// short is a TTL that tests let pass (through Advance) to see entries go.
	short = 100 * time.Millisecond
)

// Backend is one directory backend as two nodes see it.
type Backend struct {
	// Node1 and Node2 share the backend, as two nodes of a cluster would.
	// An implementation with only one node (the in-process directory) may
	// give the same directory twice.
	Node1, Node2 stream.Directory
	// Advance lets at least d pass for the backend's TTLs: a fake clock
	// moves, a real backend sleeps.
	Advance func(d time.Duration)
}

// Factory returns a fresh backend that no other call sees, registering its
// cleanups on t.
type Factory func(t *testing.T) Backend

// Run runs the contract suite, calling newBackend once per subtest.
func Run(t *testing.T, newBackend Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"HeartbeatListsNodes", testHeartbeatLists},
		{"HeartbeatRefreshes", testHeartbeatRefreshes},
		{"DeadNodeExpires", testDeadNodeExpires},
		{"ClaimAndLookUp", testClaimAndLookUp},
		{"ClaimConflict", testClaimConflict},
		{"ClaimExpires", testClaimExpires},
		{"OriginOfDeadNode", testOriginOfDeadNode},
		{"ReleaseOnlyOwnClaim", testRelease},
		{"ShowsIsolated", testShowsIsolated},
		{"ClaimRaceOneWinner", testClaimRace},
		{"InvalidInputChangesNothing", testInvalid},
		{"CancelledContext", testCancelled},
		{"RelayBreadthFirst", testRelayBreadthFirst},
		{"RelayKeep", testRelayKeep},
		{"RelayAvoidAndDeadParent", testRelayAvoid},
		{"RelayNoCycle", testRelayNoCycle},
		{"RelayLeaveAndExpire", testRelayLeave},
		{"RelayRaceKeepsFanout", testRelayRace},
		{"RelayInvalidInput", testRelayInvalid},
		{"RelayFanoutKept", testRelayFanoutKept},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newBackend(t)) })
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// node returns a node as a heartbeat would describe it. StartedAt carries
// nanoseconds and a non-UTC zone, which a store must keep as the same instant.
func node(id string) stream.Node {
	return stream.Node{
		ID:        id,
		URL:       "http://10.0.0.1:8080/" + id,
		StartedAt: time.Date(2026, 11, 23, 18, 0, 0, 123456789, time.FixedZone("CET", 3600)),
	}
}

func heartbeat(t *testing.T, ctx context.Context, d stream.Directory, n stream.Node, ttl time.Duration) {
	t.Helper()
	if err := d.Heartbeat(ctx, n, ttl); err != nil {
		t.Fatalf("Heartbeat(%s, %v): %v", n.ID, ttl, err)
	}
}

func claim(t *testing.T, ctx context.Context, d stream.Directory, show uuid.UUID, nodeID string, ttl time.Duration) {
	t.Helper()
	if err := d.ClaimOrigin(ctx, show, nodeID, ttl); err != nil {
		t.Fatalf("ClaimOrigin(%s, %s): %v", show, nodeID, err)
	}
}

// twoNodes lists node-a through the first client and node-b through the
// second, each for long.
func twoNodes(t *testing.T, ctx context.Context, b Backend) (a, c stream.Node) {
	t.Helper()
	a, c = node("node-a"), node("node-b")
	heartbeat(t, ctx, b.Node1, a, long)
	heartbeat(t, ctx, b.Node2, c, long)
	return a, c
}

func sameNode(a, b stream.Node) bool {
	return a.ID == b.ID && a.URL == b.URL && a.StartedAt.Equal(b.StartedAt)
}

// expectNodes checks that d lists exactly want, in any order.
func expectNodes(t *testing.T, ctx context.Context, d stream.Directory, want ...stream.Node) {
	t.Helper()
	got, err := d.Nodes(ctx)
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Nodes = %v, want %v", got, want)
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g stream.Node) bool { return sameNode(g, w) }) {
			t.Fatalf("Nodes = %v, want %v", got, want)
		}
	}
}

// expectOrigin checks that d names want as the origin of show.
func expectOrigin(t *testing.T, ctx context.Context, d stream.Directory, show uuid.UUID, want stream.Node) {
	t.Helper()
	got, ok, err := d.Origin(ctx, show)
	if err != nil || !ok || !sameNode(got, want) {
		t.Fatalf("Origin(%s) = %v, %v, %v; want %v", show, got, ok, err, want)
	}
}

func expectNoOrigin(t *testing.T, ctx context.Context, d stream.Directory, show uuid.UUID) {
	t.Helper()
	got, ok, err := d.Origin(ctx, show)
	if err != nil || ok {
		t.Fatalf("Origin(%s) = %v, %v, %v; want none", show, got, ok, err)
	}
}

func expectConflict(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, apperr.E(apperr.Conflict)) {
		t.Fatalf("%s: got %v, want a conflict error", what, err)
	}
}

func testHeartbeatLists(t *testing.T, b Backend) {
	ctx := testCtx(t)
	expectNodes(t, ctx, b.Node1)
	a, c := twoNodes(t, ctx, b)
	expectNodes(t, ctx, b.Node1, a, c)
	expectNodes(t, ctx, b.Node2, a, c)
}

func testHeartbeatRefreshes(t *testing.T, b Backend) {
	ctx := testCtx(t)
	a := node("node-a")
	heartbeat(t, ctx, b.Node1, a, short)
	// A refresh with a longer TTL keeps the node past the first one, and a
	// changed URL replaces the old one: still one entry per node.
	a.URL = "http://10.0.0.9:8080"
	heartbeat(t, ctx, b.Node1, a, long)
	b.Advance(3 * short)
	expectNodes(t, ctx, b.Node2, a)
}

func testDeadNodeExpires(t *testing.T, b Backend) {
	ctx := testCtx(t)
	alive, dead := node("alive"), node("dead")
	heartbeat(t, ctx, b.Node1, alive, long)
	// The short heartbeat comes last: a shared store must not cut the
	// longer entry's life to the latest TTL.
	heartbeat(t, ctx, b.Node2, dead, short)
	expectNodes(t, ctx, b.Node1, alive, dead)
	b.Advance(3 * short)
	expectNodes(t, ctx, b.Node1, alive)
	expectNodes(t, ctx, b.Node2, alive)
	// A node that comes back is listed again.
	heartbeat(t, ctx, b.Node2, dead, long)
	expectNodes(t, ctx, b.Node1, alive, dead)
}

func testClaimAndLookUp(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := uuid.New()
	a := node("node-a")
	heartbeat(t, ctx, b.Node1, a, long)
	expectNoOrigin(t, ctx, b.Node2, show)
	claim(t, ctx, b.Node1, show, a.ID, long)
	expectOrigin(t, ctx, b.Node2, show, a)
	expectOrigin(t, ctx, b.Node1, show, a)
}

func testClaimConflict(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := uuid.New()
	a, c := twoNodes(t, ctx, b)
	claim(t, ctx, b.Node1, show, a.ID, long)
	err := b.Node2.ClaimOrigin(ctx, show, c.ID, long)
	expectConflict(t, err, "a second node's claim")
	if msg := apperr.MessageOf(err); !strings.Contains(msg, a.ID) {
		t.Errorf("conflict message %q does not name the holder %s", msg, a.ID)
	}
	expectOrigin(t, ctx, b.Node2, show, a)
	// The holder refreshes its claim: a short first claim renewed with a
	// long TTL outlives the short one.
	show2 := uuid.New()
	claim(t, ctx, b.Node1, show2, a.ID, short)
	claim(t, ctx, b.Node1, show2, a.ID, long)
	b.Advance(3 * short)
	expectOrigin(t, ctx, b.Node2, show2, a)
	expectConflict(t, b.Node2.ClaimOrigin(ctx, show2, c.ID, long), "a claim on a refreshed show")
}

func testClaimExpires(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := uuid.New()
	a, c := twoNodes(t, ctx, b)
	claim(t, ctx, b.Node1, show, a.ID, short)
	b.Advance(3 * short)
	// The holder stopped refreshing (it crashed, say): the show is free.
	expectNoOrigin(t, ctx, b.Node2, show)
	claim(t, ctx, b.Node2, show, c.ID, long)
	expectOrigin(t, ctx, b.Node1, show, c)
}

func testOriginOfDeadNode(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := uuid.New()
	a := node("node-a")
	heartbeat(t, ctx, b.Node1, a, short)
	claim(t, ctx, b.Node1, show, a.ID, long)
	expectOrigin(t, ctx, b.Node2, show, a)
	b.Advance(3 * short)
	// The claim has not expired, but its node has: nobody can pull from it.
	expectNoOrigin(t, ctx, b.Node2, show)
	// A claim names a node; without a heartbeat the node is unknown.
	ghost := uuid.New()
	claim(t, ctx, b.Node1, ghost, "never-heard-of", long)
	expectNoOrigin(t, ctx, b.Node2, ghost)
}

func testRelease(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := uuid.New()
	a, c := twoNodes(t, ctx, b)
	claim(t, ctx, b.Node1, show, a.ID, long)
	if err := b.Node2.ReleaseOrigin(ctx, show, c.ID); err != nil {
		t.Fatalf("ReleaseOrigin by a non-holder: %v", err)
	}
	expectOrigin(t, ctx, b.Node2, show, a)
	if err := b.Node1.ReleaseOrigin(ctx, show, a.ID); err != nil {
		t.Fatalf("ReleaseOrigin by the holder: %v", err)
	}
	expectNoOrigin(t, ctx, b.Node2, show)
	// Releasing again, or a show never claimed, is not an error.
	if err := b.Node1.ReleaseOrigin(ctx, show, a.ID); err != nil {
		t.Fatalf("second ReleaseOrigin: %v", err)
	}
	if err := b.Node1.ReleaseOrigin(ctx, uuid.New(), a.ID); err != nil {
		t.Fatalf("ReleaseOrigin of an unclaimed show: %v", err)
	}
	claim(t, ctx, b.Node2, show, c.ID, long)
	expectOrigin(t, ctx, b.Node1, show, c)
}

func testShowsIsolated(t *testing.T, b Backend) {
	ctx := testCtx(t)
	s1, s2 := uuid.New(), uuid.New()
	a, c := twoNodes(t, ctx, b)
	claim(t, ctx, b.Node1, s1, a.ID, long)
	claim(t, ctx, b.Node2, s2, c.ID, long)
	expectOrigin(t, ctx, b.Node1, s1, a)
	expectOrigin(t, ctx, b.Node1, s2, c)
	if err := b.Node1.ReleaseOrigin(ctx, s1, a.ID); err != nil {
		t.Fatal(err)
	}
	expectNoOrigin(t, ctx, b.Node2, s1)
	expectOrigin(t, ctx, b.Node2, s2, c)
}

// testClaimRace has many nodes, spread over both directories, claim one show
// at once: exactly one wins, every other gets a conflict, and the directory
// names the winner.
func testClaimRace(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := uuid.New()
	const claimers = 32
	nodes := make([]stream.Node, claimers)
	for i := range nodes {
		nodes[i] = node(fmt.Sprintf("racer-%02d", i))
		heartbeat(t, ctx, b.Node1, nodes[i], long)
	}
	errs := make([]error, claimers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range claimers {
		d := b.Node1
		if i%2 == 1 {
			d = b.Node2
		}
		wg.Go(func() {
			<-start
			errs[i] = d.ClaimOrigin(ctx, show, nodes[i].ID, long)
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("both %s and %s won the claim", nodes[winner].ID, nodes[i].ID)
		case err == nil:
			winner = i
		default:
			expectConflict(t, err, nodes[i].ID+"'s claim")
		}
	}
	if winner < 0 {
		t.Fatal("no claimer won")
	}
	expectOrigin(t, ctx, b.Node1, show, nodes[winner])
	expectOrigin(t, ctx, b.Node2, show, nodes[winner])
}

func testInvalid(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := uuid.New()
	a := node("node-a")
	heartbeat(t, ctx, b.Node1, a, long)
	claim(t, ctx, b.Node1, show, a.ID, long)

	bad := []struct {
		what string
		err  error
	}{
		{"heartbeat without an id", b.Node1.Heartbeat(ctx, stream.Node{URL: "http://x"}, long)},
		{"heartbeat with a zero ttl", b.Node1.Heartbeat(ctx, node("zero"), 0)},
		{"heartbeat with a negative ttl", b.Node1.Heartbeat(ctx, node("negative"), -time.Second)},
		{"heartbeat with a sub-millisecond ttl", b.Node1.Heartbeat(ctx, node("tiny"), time.Microsecond)},
		{"claim without a node", b.Node1.ClaimOrigin(ctx, uuid.New(), "", long)},
		{"claim of the nil show", b.Node1.ClaimOrigin(ctx, uuid.Nil, a.ID, long)},
		{"claim with a zero ttl", b.Node1.ClaimOrigin(ctx, show, a.ID, 0)},
		{"release without a node", b.Node1.ReleaseOrigin(ctx, show, "")},
	}
	for _, tc := range bad {
		if !errors.Is(tc.err, apperr.E(apperr.Invalid)) {
			t.Errorf("%s: got %v, want an invalid-input error", tc.what, tc.err)
		}
	}
	expectNodes(t, ctx, b.Node2, a)
	expectOrigin(t, ctx, b.Node2, show, a)
	if _, _, err := b.Node1.Origin(ctx, uuid.Nil); !errors.Is(err, apperr.E(apperr.Invalid)) {
		t.Errorf("Origin(uuid.Nil): got %v, want an invalid-input error", err)
	}
}

func testCancelled(t *testing.T, b Backend) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	show := uuid.New()
	checks := []struct {
		what string
		err  error
	}{
		{"Heartbeat", b.Node1.Heartbeat(ctx, node("n"), long)},
		{"ClaimOrigin", b.Node1.ClaimOrigin(ctx, show, "n", long)},
		{"ReleaseOrigin", b.Node1.ReleaseOrigin(ctx, show, "n")},
	}
	_, err := b.Node1.Nodes(ctx)
	checks = append(checks, struct {
		what string
		err  error
	}{"Nodes", err})
	_, _, err = b.Node1.Origin(ctx, show)
	checks = append(checks, struct {
		what string
		err  error
	}{"Origin", err})
	for _, c := range checks {
		if !errors.Is(c.err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want context.Canceled", c.what, c.err)
		}
	}
	// Nothing was written.
	expectNodes(t, testCtx(t), b.Node2)
	expectNoOrigin(t, testCtx(t), b.Node2, show)
}

// ---- relay trees ----

// relayNode is a node feeding at most fanout others.
func relayNode(id string, fanout int) stream.Node {
	n := node(id)
	n.RelayFanout = fanout
	return n
}

// place asks d for a place for nodeID and checks it got want at depth.
func place(t *testing.T, ctx context.Context, d stream.Directory, show uuid.UUID, req stream.RelayRequest, want string, depth int) {
	t.Helper()
	got, err := d.PlaceRelay(ctx, show, req, long)
	if err != nil {
		t.Fatalf("PlaceRelay(%s, %+v): %v", show, req, err)
	}
	if got.Parent.ID != want || got.Depth != depth {
		t.Fatalf("PlaceRelay(%+v) = %s at depth %d; want %s at depth %d", req, got.Parent.ID, got.Depth, want, depth)
	}
	if want != "" && got.Parent.URL != node(want).URL {
		t.Fatalf("PlaceRelay(%+v): parent URL %q, want the node's own %q", req, got.Parent.URL, node(want).URL)
	}
}

func expectTree(t *testing.T, ctx context.Context, d stream.Directory, show uuid.UUID, want map[string]string) {
	t.Helper()
	got, err := d.RelayTree(ctx, show)
	if err != nil {
		t.Fatalf("RelayTree: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("RelayTree = %v, want %v", got, want)
	}
	for c, p := range want {
		if got[c] != p {
			t.Fatalf("RelayTree = %v, want %v", got, want)
		}
	}
}

func expectCode(t *testing.T, err error, code apperr.Code, what string) {
	t.Helper()
	if !errors.Is(err, apperr.E(code)) {
		t.Fatalf("%s: got %v, want a %v error", what, err, code)
	}
}

// liveShow heartbeats the nodes (fanout 2 each, unless given) and makes
// "origin" the origin of a new show.
func liveShow(t *testing.T, ctx context.Context, b Backend, ids ...string) uuid.UUID {
	t.Helper()
	show := uuid.New()
	heartbeat(t, ctx, b.Node1, relayNode("origin", 2), long)
	for _, id := range ids {
		heartbeat(t, ctx, b.Node2, relayNode(id, 2), long)
	}
	claim(t, ctx, b.Node1, show, "origin", long)
	return show
}

// testRelayBreadthFirst: the origin fills first, then its children in
// order, so the tree stays as shallow as the fanout allows.
func testRelayBreadthFirst(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := liveShow(t, ctx, b, "a", "b", "c", "d", "e", "f", "g")
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "a"}, "origin", 1)
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "b"}, "origin", 1)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "c"}, "a", 2)
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "d"}, "a", 2)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "e"}, "b", 2)
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "f"}, "b", 2)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "g"}, "c", 3)
	expectTree(t, ctx, b.Node2, show, map[string]string{"a": "origin", "b": "origin", "c": "a", "d": "a", "e": "b", "f": "b", "g": "c"})
	// Another show has a tree of its own.
	other := uuid.New()
	claim(t, ctx, b.Node1, other, "origin", long)
	place(t, ctx, b.Node1, other, stream.RelayRequest{Node: "g"}, "origin", 1)
	expectTree(t, ctx, b.Node2, other, map[string]string{"g": "origin"})
	// A node with a fanout of its own: the origin feeding one.
	narrow := uuid.New()
	heartbeat(t, ctx, b.Node1, relayNode("solo", 1), long)
	claim(t, ctx, b.Node1, narrow, "solo", long)
	place(t, ctx, b.Node1, narrow, stream.RelayRequest{Node: "a"}, "solo", 1)
	place(t, ctx, b.Node2, narrow, stream.RelayRequest{Node: "b"}, "a", 2)
}

// testRelayKeep: a heartbeat keeps a node under its parent, even a full
// one, and fails once the parent no longer leads to the origin.
func testRelayKeep(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := liveShow(t, ctx, b, "a", "b", "c")
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "a"}, "origin", 1)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "b"}, "origin", 1)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "c"}, "a", 2)
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "a", Keep: "origin"}, "origin", 1)
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "c", Keep: "a"}, "a", 2)
	// b leaves the tree: c cannot claim to hang under it.
	if err := b.Node1.LeaveRelay(ctx, show, "b"); err != nil {
		t.Fatal(err)
	}
	_, err := b.Node2.PlaceRelay(ctx, show, stream.RelayRequest{Node: "c", Keep: "b"}, long)
	expectConflict(t, err, "keeping a parent outside the tree")
	// Nor may a node keep a parent below itself.
	_, err = b.Node2.PlaceRelay(ctx, show, stream.RelayRequest{Node: "a", Keep: "c"}, long)
	expectConflict(t, err, "keeping its own child as parent")
	expectTree(t, ctx, b.Node1, show, map[string]string{"a": "origin", "c": "a"})
}

// testRelayAvoid: a node that cannot reach its parent names it and is put
// elsewhere; a dead relay's subtree is no place for anyone.
func testRelayAvoid(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := liveShow(t, ctx, b, "a", "b", "c")
	heartbeat(t, ctx, b.Node2, relayNode("dying", 2), short)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "dying"}, "origin", 1)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "a"}, "origin", 1)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "b"}, "a", 2)
	// c would go under a; it failed to pull from a.
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "c", Avoid: []string{"a"}}, "dying", 2)
	b.Advance(3 * short)
	// "dying" is gone: its slot under the origin is free, its child must move.
	_, err := b.Node1.PlaceRelay(ctx, show, stream.RelayRequest{Node: "c", Keep: "dying"}, long)
	expectConflict(t, err, "keeping a dead parent")
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "c", Avoid: []string{"dying"}}, "origin", 1)
	// Avoiding every node that has room: none.
	_, err = b.Node2.PlaceRelay(ctx, show, stream.RelayRequest{Node: "x", Avoid: []string{"a", "b", "c"}}, long)
	expectCode(t, err, apperr.Unavailable, "placing with every parent avoided")
}

// testRelayNoCycle: a node is never placed under its own subtree, even
// when only its subtree has room.
func testRelayNoCycle(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := uuid.New()
	// origin → b → a → c; only a and c feed more than one.
	heartbeat(t, ctx, b.Node1, relayNode("origin", 1), long)
	heartbeat(t, ctx, b.Node1, relayNode("b", 1), long)
	heartbeat(t, ctx, b.Node2, relayNode("a", 2), long)
	heartbeat(t, ctx, b.Node2, relayNode("c", 2), long)
	claim(t, ctx, b.Node1, show, "origin", long)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "b"}, "origin", 1)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "a"}, "b", 2)
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "c"}, "a", 3)
	// a re-attaches: its own place under b is free again.
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "a"}, "b", 2)
	// Without b, only a's own child c has room: no place.
	_, err := b.Node2.PlaceRelay(ctx, show, stream.RelayRequest{Node: "a", Avoid: []string{"b"}}, long)
	expectCode(t, err, apperr.Unavailable, "placing a node with only its descendants left")
	expectTree(t, ctx, b.Node1, show, map[string]string{"a": "b", "b": "origin", "c": "a"})
	// The origin has no place in its own tree; a show without one has no tree.
	_, err = b.Node1.PlaceRelay(ctx, show, stream.RelayRequest{Node: "origin"}, long)
	expectCode(t, err, apperr.Invalid, "placing the origin")
	_, err = b.Node1.PlaceRelay(ctx, uuid.New(), stream.RelayRequest{Node: "a"}, long)
	expectCode(t, err, apperr.NotFound, "placing under a show with no origin")
}

// testRelayLeave: leaving frees the parent's slot; links not refreshed expire.
func testRelayLeave(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := liveShow(t, ctx, b, "a", "b", "c")
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "a"}, "origin", 1)
	if _, err := b.Node1.PlaceRelay(ctx, show, stream.RelayRequest{Node: "b"}, short); err != nil {
		t.Fatal(err)
	}
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "c"}, "a", 2)
	if err := b.Node2.LeaveRelay(ctx, show, "a"); err != nil {
		t.Fatal(err)
	}
	// Leaving twice, or a show without a tree, is no error.
	if err := b.Node2.LeaveRelay(ctx, show, "a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Node2.LeaveRelay(ctx, uuid.New(), "a"); err != nil {
		t.Fatal(err)
	}
	expectTree(t, ctx, b.Node1, show, map[string]string{"b": "origin", "c": "a"})
	b.Advance(3 * short)
	expectTree(t, ctx, b.Node1, show, map[string]string{"c": "a"})
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "a"}, "origin", 1)
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "b"}, "origin", 1)
}

// testRelayRace has many nodes, over both directories, attach at once: no
// parent gets more children than its fanout, every node leads to the
// origin, and the tree is as shallow as breadth-first placement makes it.
func testRelayRace(t *testing.T, b Backend) {
	ctx := testCtx(t)
	const n, fanout = 30, 3
	show := uuid.New()
	heartbeat(t, ctx, b.Node1, relayNode("origin", fanout), long)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("edge-%02d", i)
		heartbeat(t, ctx, b.Node2, relayNode(ids[i], fanout), long)
	}
	claim(t, ctx, b.Node1, show, "origin", long)
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		d := b.Node1
		if i%2 == 1 {
			d = b.Node2
		}
		wg.Go(func() {
			<-start
			_, errs[i] = d.PlaceRelay(ctx, show, stream.RelayRequest{Node: ids[i]}, long)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("%s: %v", ids[i], err)
		}
	}
	tree, err := b.Node1.RelayTree(ctx, show)
	if err != nil {
		t.Fatal(err)
	}
	if len(tree) != n {
		t.Fatalf("the tree has %d links, want %d", len(tree), n)
	}
	kids := map[string]int{}
	for _, p := range tree {
		kids[p]++
	}
	for p, k := range kids {
		if k > fanout {
			t.Errorf("%s feeds %d nodes, over its fanout of %d", p, k, fanout)
		}
	}
	// 3 + 9 + 27 places within three hops: 30 nodes need no fourth.
	for _, id := range ids {
		depth, cur := 0, id
		for cur != "origin" {
			depth++
			next, ok := tree[cur]
			if !ok || depth > n {
				t.Fatalf("%s does not lead to the origin: %v", id, tree)
			}
			cur = next
		}
		if depth > 3 {
			t.Errorf("%s is %d hops from the origin; breadth-first placement needs at most 3", id, depth)
		}
	}
}

func testRelayInvalid(t *testing.T, b Backend) {
	ctx := testCtx(t)
	show := liveShow(t, ctx, b, "a")
	place(t, ctx, b.Node1, show, stream.RelayRequest{Node: "a"}, "origin", 1)
	bad := []struct {
		what string
		err  error
	}{
		{"place without a node", func() error {
			_, err := b.Node1.PlaceRelay(ctx, show, stream.RelayRequest{}, long)
			return err
		}()},
		{"place in the nil show", func() error {
			_, err := b.Node1.PlaceRelay(ctx, uuid.Nil, stream.RelayRequest{Node: "a"}, long)
			return err
		}()},
		{"place with a zero ttl", func() error {
			_, err := b.Node1.PlaceRelay(ctx, show, stream.RelayRequest{Node: "a"}, 0)
			return err
		}()},
		{"leave without a node", b.Node1.LeaveRelay(ctx, show, "")},
		{"tree of the nil show", func() error {
			_, err := b.Node1.RelayTree(ctx, uuid.Nil)
			return err
		}()},
	}
	for _, tc := range bad {
		if !errors.Is(tc.err, apperr.E(apperr.Invalid)) {
			t.Errorf("%s: got %v, want an invalid-input error", tc.what, tc.err)
		}
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Node1.PlaceRelay(cancelled, show, stream.RelayRequest{Node: "b"}, long); !errors.Is(err, context.Canceled) {
		t.Errorf("PlaceRelay with a cancelled context: %v", err)
	}
	if err := b.Node1.LeaveRelay(cancelled, show, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("LeaveRelay with a cancelled context: %v", err)
	}
	if _, err := b.Node1.RelayTree(cancelled, show); !errors.Is(err, context.Canceled) {
		t.Errorf("RelayTree with a cancelled context: %v", err)
	}
	expectTree(t, ctx, b.Node2, show, map[string]string{"a": "origin"})
}

// testRelayFanoutKept: a node's fanout comes back with it, and a node that
// gives none (an older node) feeds one.
func testRelayFanoutKept(t *testing.T, b Backend) {
	ctx := testCtx(t)
	heartbeat(t, ctx, b.Node1, relayNode("wide", 3), long)
	nodes, err := b.Node2.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].RelayFanout != 3 {
		t.Fatalf("Nodes = %+v, %v; want wide with a fanout of 3", nodes, err)
	}
	show := uuid.New()
	heartbeat(t, ctx, b.Node1, node("old"), long) // RelayFanout 0
	claim(t, ctx, b.Node1, show, "old", long)
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "wide"}, "old", 1)
	place(t, ctx, b.Node2, show, stream.RelayRequest{Node: "x"}, "wide", 2)
}
