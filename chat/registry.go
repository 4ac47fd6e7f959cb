package chat

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// registry holds this node's open rooms, one per show, and opens each once
// however many viewers arrive together.
type registry struct {
	mu    sync.Mutex
	rooms map[uuid.UUID]*Room
	// opening holds the rooms being opened: the bus and store calls that
	// open one run without mu, and a second joiner waits for the first.
	opening map[uuid.UUID]*opening
}

// opening is a room being opened; done is closed when r or err is set.
type opening struct {
	done chan struct{}
	r    *Room
	err  error
}

func newRegistry() *registry {
	return &registry{rooms: map[uuid.UUID]*Room{}, opening: map[uuid.UUID]*opening{}}
}

// room returns the show's room on this node, opening it with open on first
// use. The registry's lock is not held across open: other rooms keep
// opening and ticking.
func (g *registry) room(ctx context.Context, showID uuid.UUID, open func(context.Context) (*Room, error)) (*Room, error) {
	g.mu.Lock()
	if r, ok := g.rooms[showID]; ok {
		g.mu.Unlock()
		return r, nil
	}
	if op, ok := g.opening[showID]; ok {
		g.mu.Unlock()
		select {
		case <-op.done:
			return op.r, op.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	op := &opening{done: make(chan struct{})}
	g.opening[showID] = op
	g.mu.Unlock()

	op.r, op.err = open(ctx)
	g.mu.Lock()
	delete(g.opening, showID)
	if op.err == nil {
		g.rooms[showID] = op.r
	}
	g.mu.Unlock()
	close(op.done)
	return op.r, op.err
}

// open returns the show's room if this node has it open, else nil.
func (g *registry) open(showID uuid.UUID) *Room {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rooms[showID]
}

func (g *registry) snapshot() []*Room {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*Room, 0, len(g.rooms))
	for _, r := range g.rooms {
		out = append(out, r)
	}
	return out
}

// closeIdle closes rooms nobody has watched on this node for a minute.
func (g *registry) closeIdle() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, r := range g.rooms {
		r.mu.Lock()
		idle := len(r.conns) == 0 && !r.idleAt.IsZero() && time.Since(r.idleAt) > time.Minute
		r.mu.Unlock()
		if idle {
			r.cancel()
			_ = r.sub.Close()
			delete(g.rooms, id)
		}
	}
}

// closeAll ends every connection with "going away" (a graceful shutdown).
func (g *registry) closeAll() {
	for _, r := range g.snapshot() {
		r.mu.Lock()
		for c := range r.conns {
			c.stop(websocket.CloseGoingAway, "server shutting down; reconnect")
		}
		r.mu.Unlock()
		r.cancel()
		_ = r.sub.Close()
	}
}

// count reports how many rooms and connections this node has.
func (g *registry) count() (rooms, conns int) {
	for _, r := range g.snapshot() {
		rooms++
		r.mu.Lock()
		conns += len(r.conns)
		r.mu.Unlock()
	}
	return rooms, conns
}
