package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/stream"
)

// Directory is the in-process stream.Directory of the embedded mode: one
// node, which is the origin of every show it publishes. It keeps the TTL
// rules of the Redis directory so both modes behave alike.
type Directory struct {
	// Now is the clock the TTLs are measured on; nil means time.Now. Tests
	// set it before first use to let time pass without sleeping.
	Now func() time.Time

	mu      sync.Mutex
	nodes   map[string]nodeEntry
	origins map[uuid.UUID]originEntry
	// trees holds each show's relay links, child id → its link.
	trees map[uuid.UUID]map[string]linkEntry
}

type linkEntry struct {
	parent  string
	expires time.Time
}

type nodeEntry struct {
	node    stream.Node
	expires time.Time
}

type originEntry struct {
	nodeID  string
	expires time.Time
}

var _ stream.Directory = (*Directory)(nil)

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{
		nodes:   make(map[string]nodeEntry),
		origins: make(map[uuid.UUID]originEntry),
		trees:   make(map[uuid.UUID]map[string]linkEntry),
	}
}

// checkTTL refuses TTLs that Redis could not honour either (PX counts whole
// milliseconds), so both directories accept the same input.
func checkTTL(ttl time.Duration) error {
	if ttl < time.Millisecond {
		return apperr.Errorf(apperr.Invalid, "ttl must be at least 1ms, not %v", ttl)
	}
	return nil
}

func checkClaim(show uuid.UUID, nodeID string, ttl time.Duration) error {
	if show == uuid.Nil {
		return apperr.Errorf(apperr.Invalid, "show id is required")
	}
	if nodeID == "" {
		return apperr.Errorf(apperr.Invalid, "node id is required")
	}
	return checkTTL(ttl)
}

func (d *Directory) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Heartbeat registers n, or refreshes it, until ttl from now.
func (d *Directory) Heartbeat(ctx context.Context, n stream.Node, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: directory heartbeat: %w", err)
	}
	if n.ID == "" {
		return apperr.Errorf(apperr.Invalid, "node id is required")
	}
	if err := checkTTL(ttl); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	// Heartbeats come every few seconds: a good moment to forget the dead,
	// so that nothing grows with nodes and shows long gone.
	d.sweep(now)
	d.nodes[n.ID] = nodeEntry{node: n, expires: now.Add(ttl)}
	return nil
}

// sweep deletes expired entries. d.mu is held.
func (d *Directory) sweep(now time.Time) {
	for id, e := range d.nodes {
		if !now.Before(e.expires) {
			delete(d.nodes, id)
		}
	}
	for show, o := range d.origins {
		if !now.Before(o.expires) {
			delete(d.origins, show)
		}
	}
	for show, links := range d.trees {
		for child, l := range links {
			if !now.Before(l.expires) {
				delete(links, child)
			}
		}
		if len(links) == 0 {
			delete(d.trees, show)
		}
	}
}

// Nodes lists the nodes whose heartbeat has not expired, in no set order.
func (d *Directory) Nodes(ctx context.Context) ([]stream.Node, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: directory nodes: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	out := make([]stream.Node, 0, len(d.nodes))
	for _, e := range d.nodes {
		if now.Before(e.expires) {
			out = append(out, e.node)
		}
	}
	return out, nil
}

// ClaimOrigin records nodeID as the origin of show until ttl from now, unless
// another node holds an unexpired claim.
func (d *Directory) ClaimOrigin(ctx context.Context, show uuid.UUID, nodeID string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: directory claim: %w", err)
	}
	if err := checkClaim(show, nodeID, ttl); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if o, ok := d.origins[show]; ok && o.nodeID != nodeID && now.Before(o.expires) {
		return apperr.Errorf(apperr.Conflict, "show %s is already published from node %s", show, o.nodeID)
	}
	d.origins[show] = originEntry{nodeID: nodeID, expires: now.Add(ttl)}
	return nil
}

// Origin returns the node holding show's claim, if both the claim and the
// node's heartbeat are unexpired.
func (d *Directory) Origin(ctx context.Context, show uuid.UUID) (stream.Node, bool, error) {
	if err := ctx.Err(); err != nil {
		return stream.Node{}, false, fmt.Errorf("memory: directory origin: %w", err)
	}
	if show == uuid.Nil {
		return stream.Node{}, false, apperr.Errorf(apperr.Invalid, "show id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	o, ok := d.origins[show]
	if !ok || !now.Before(o.expires) {
		return stream.Node{}, false, nil
	}
	n, ok := d.nodes[o.nodeID]
	if !ok || !now.Before(n.expires) {
		return stream.Node{}, false, nil
	}
	return n.node, true, nil
}

// ReleaseOrigin drops nodeID's claim on show; another node's claim stays.
func (d *Directory) ReleaseOrigin(ctx context.Context, show uuid.UUID, nodeID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: directory release: %w", err)
	}
	if nodeID == "" {
		return apperr.Errorf(apperr.Invalid, "node id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if o, ok := d.origins[show]; ok && o.nodeID == nodeID {
		delete(d.origins, show)
	}
	return nil
}

// PlaceRelay attaches req.Node to show's relay tree (stream.PlaceInTree),
// under the lock, so concurrent placements see each other.
func (d *Directory) PlaceRelay(ctx context.Context, show uuid.UUID, req stream.RelayRequest, ttl time.Duration) (stream.Placement, error) {
	if err := ctx.Err(); err != nil {
		return stream.Placement{}, fmt.Errorf("memory: directory place relay: %w", err)
	}
	if err := checkClaim(show, req.Node, ttl); err != nil {
		return stream.Placement{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	o, ok := d.origins[show]
	if !ok || !now.Before(o.expires) {
		return stream.Placement{}, apperr.Errorf(apperr.NotFound, "show %s has no origin", show)
	}
	fanout := make(map[string]int, len(d.nodes))
	for id, e := range d.nodes {
		if now.Before(e.expires) {
			fanout[id] = e.node.RelayFanout
		}
	}
	links := d.trees[show]
	parents := make(map[string]string, len(links))
	for child, l := range links {
		if now.Before(l.expires) {
			parents[child] = l.parent
		}
	}
	parent, depth, err := stream.PlaceInTree(o.nodeID, parents, fanout, req)
	if err != nil {
		return stream.Placement{}, err
	}
	if links == nil {
		links = make(map[string]linkEntry)
		d.trees[show] = links
	}
	links[req.Node] = linkEntry{parent: parent, expires: now.Add(ttl)}
	return stream.Placement{Parent: d.nodes[parent].node, Depth: depth}, nil
}

// LeaveRelay drops node's link in show's tree.
func (d *Directory) LeaveRelay(ctx context.Context, show uuid.UUID, node string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: directory leave relay: %w", err)
	}
	if node == "" {
		return apperr.Errorf(apperr.Invalid, "node id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if links := d.trees[show]; links != nil {
		delete(links, node)
		if len(links) == 0 {
			delete(d.trees, show)
		}
	}
	return nil
}

// RelayTree returns show's unexpired links, child → parent.
func (d *Directory) RelayTree(ctx context.Context, show uuid.UUID) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: directory relay tree: %w", err)
	}
	if show == uuid.Nil {
		return nil, apperr.Errorf(apperr.Invalid, "show id is required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	out := map[string]string{}
	for child, l := range d.trees[show] {
		if now.Before(l.expires) {
			out[child] = l.parent
		}
	}
	return out, nil
}
