package stream

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Node is one running server as the others see it.
type Node struct {
	ID string `json:"id"`
	// URL is where other nodes reach this node's HTTP listener (for the
	// relay between nodes), e.g. http://10.0.0.5:8080.
	URL       string    `json:"url"`
	StartedAt time.Time `json:"started_at"`
}

// Directory is the cluster's shared memory of which nodes are alive and
// which node is the origin of each live show. Entries carry a TTL and are
// refreshed by heartbeat, so a node that dies without cleaning up disappears
// on its own. The in-process driver (internal/memory) serves one node; the
// Redis driver (internal/redis) serves a cluster.
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
}
