package chat

import (
	"context"
	"time"
)

// presence reports this node's viewers of each room to the bus and shows
// every viewer the total over all nodes. A viewer is a person (an account,
// or a browser's visitor cookie) however many sockets they hold on this
// node; one person on two nodes counts on each.
type presence struct {
	bus  Bus
	node string
}

// report counts r's viewers here, and sends its viewers the new total when
// it changed.
func (p presence) report(ctx context.Context, r *Room) {
	r.mu.Lock()
	n := len(r.people)
	r.mu.Unlock()
	total, err := p.bus.Presence(ctx, r.channel, p.node, n, 10*time.Second)
	if err != nil {
		return
	}
	r.mu.Lock()
	changed := total != r.viewers
	r.viewers = total
	r.mu.Unlock()
	if changed {
		r.fanout(mustJSON(map[string]any{"type": "viewers", "count": total}), laneState)
	}
}
