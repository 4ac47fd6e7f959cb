package stream

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Node is one running server as the others see it.
type Node struct {
	ID string `json:"id"`
	// URL is where other nodes reach this node's HTTP listener (for the
	// relay between nodes), e.g. http://10.0.0.5:8080.
	URL       string    `json:"url"`
	StartedAt time.Time `json:"started_at"`
	// RelayFanout is how many other nodes this node feeds per show (its
	// children in the show's relay tree); below 1 counts as 1.
	RelayFanout int `json:"relay_fanout,omitempty"`
}

// Directory is the cluster's shared memory of which nodes are alive and
// which node is the origin of each live show. Entries carry a TTL and are
// refreshed by heartbeat, so a node that dies without cleaning up disappears
// on its own. The in-process driver (internal/driver/memory) serves one node; the
// Redis driver (internal/driver/redis) serves a cluster.
type Directory interface {
	// Heartbeat registers n (or refreshes it) for ttl.
	Heartbeat(ctx context.Context, n Node, ttl time.Duration) error
	// Nodes lists the nodes whose heartbeat has not expired.
	Nodes(ctx context.Context) ([]Node, error)
	// ClaimOrigin records nodeID as the origin of show for ttl. It fails with
	// an apperr.Conflict error while another node holds an unexpired claim;
	// the holder calls it again to refresh.
	ClaimOrigin(ctx context.Context, show uuid.UUID, nodeID string, ttl time.Duration) error
	// Origin returns the node that publishes show; ok is false when none does.
	Origin(ctx context.Context, show uuid.UUID) (n Node, ok bool, err error)
	// ReleaseOrigin drops nodeID's claim on show; another node's claim is left alone.
	ReleaseOrigin(ctx context.Context, show uuid.UUID, nodeID string) error
	RelayDirectory
}

// RelayDirectory is the part of the Directory that keeps each show's relay
// tree: which node feeds which. The show's origin is the root; every other
// node serving the show pulls it from its parent, and may feed up to its
// own Node.RelayFanout children. Placement is one atomic step in the
// directory, so nodes attaching at once across the cluster never overfill a
// parent, and a node is never placed under itself or its own descendants
// (no cycles).
type RelayDirectory interface {
	// PlaceRelay attaches req.Node to show's tree for ttl and returns its
	// parent. With req.Keep set it refreshes the node's place under that
	// parent (a heartbeat), failing with apperr.Conflict when the parent
	// no longer leads to the origin (it left the tree, it died, or it is
	// now below req.Node). Otherwise it takes the first live node with room,
	// breadth-first from the origin, skipping req.Avoid (parents the node
	// failed to pull from) and req.Node's own subtree. No origin:
	// apperr.NotFound; no room anywhere: apperr.Unavailable.
	PlaceRelay(ctx context.Context, show uuid.UUID, req RelayRequest, ttl time.Duration) (Placement, error)
	// LeaveRelay drops node's place in show's tree (its children keep
	// theirs until they re-attach).
	LeaveRelay(ctx context.Context, show uuid.UUID, node string) error
	// RelayTree returns show's unexpired links, child id → parent id.
	RelayTree(ctx context.Context, show uuid.UUID) (map[string]string, error)
}

// RelayRequest asks for a place in a show's relay tree.
type RelayRequest struct {
	Node  string
	Keep  string
	Avoid []string
}

// Placement is where a node was put: its parent, and its depth (1 directly
// under the origin).
type Placement struct {
	Parent Node
	Depth  int
}

// DefaultRelayFanout is how many nodes one node feeds per show unless told
// otherwise. A child costs its parent one viewer's worth of egress per
// simulcast layer (all layers travel), which is small next to the viewers a
// node serves, but a relay that dies takes all its children with it for the
// seconds they need to re-attach. Four keeps both small and still reaches
// 1+4+16 = 21 nodes within two hops of the origin (85 within three).
const DefaultRelayFanout = 4

// MaxRelayDepth bounds a walk up the tree: a longer chain is corrupt.
const MaxRelayDepth = 64

// PlaceInTree is the placement rule both directory drivers follow (the
// Redis driver runs the same steps in a script). parents holds the
// unexpired links, child → parent; fanout the live nodes and their fanout
// (a node missing from it is dead). It returns the chosen parent and its
// child's depth, or an apperr error saying why there is none.
func PlaceInTree(origin string, parents map[string]string, fanout map[string]int, req RelayRequest) (parent string, depth int, err error) {
	if req.Node == origin {
		return "", 0, apperr.Errorf(apperr.Invalid, "the origin is not placed in its own tree")
	}
	avoid := make(map[string]bool, len(req.Avoid))
	for _, a := range req.Avoid {
		avoid[a] = true
	}
	usable := func(n string) bool {
		_, live := fanout[n]
		return live && !avoid[n] && n != req.Node
	}
	if req.Keep != "" {
		cur := req.Keep
		for d := 1; d <= MaxRelayDepth; d++ {
			if !usable(cur) {
				break
			}
			if cur == origin {
				return req.Keep, d, nil
			}
			next, ok := parents[cur]
			if !ok {
				break
			}
			cur = next
		}
		return "", 0, apperr.Errorf(apperr.Conflict, "node %s no longer leads to the origin", req.Keep)
	}
	kids := map[string][]string{}
	for c, p := range parents {
		if _, live := fanout[c]; live && c != req.Node {
			kids[p] = append(kids[p], c)
		}
	}
	queue := []string{origin}
	depths := map[string]int{origin: 0}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if !usable(n) {
			continue // its subtree too: a dead or avoided relay feeds nobody
		}
		cs := kids[n]
		if len(cs) < max(fanout[n], 1) {
			return n, depths[n] + 1, nil
		}
		slices.Sort(cs)
		for _, c := range cs {
			if _, seen := depths[c]; !seen {
				depths[c] = depths[n] + 1
				queue = append(queue, c)
			}
		}
	}
	return "", 0, apperr.Errorf(apperr.Unavailable, "no node serving this show has room for another relay")
}
