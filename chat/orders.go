package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// A viewer's own results that start away from their socket — an order
// placed, paid or refunded over HTTP, on whichever node the request reached
// — travel on one node-wide bus channel: every node delivers each to the
// buyer's sockets in the show's room there, and to nobody else. They are
// not room events: not numbered, never in history, never fanned out. One
// channel for the whole node, not one per user or per room, keeps the bus's
// subscriptions to one per node; a node of an older version does not
// subscribe to it, so it never sees a buyer's order.

// ownChannel carries viewers' own results between nodes.
const ownChannel = "own"

// ownMsg is a result for one user's sockets in one show's room.
type ownMsg struct {
	Node  string          `json:"node"` // the sender, which delivered it to its own sockets already
	Show  uuid.UUID       `json:"show"`
	User  uuid.UUID       `json:"user"`
	Frame json.RawMessage `json:"frame"`
}

// orderRouter routes viewers' own results (orders, refunds) to their
// sockets on this node and, through the bus, on every other node.
type orderRouter struct {
	bus   Bus
	node  string
	rooms *registry
	guard *crashguard.Guard
	log   *slog.Logger

	// sub hears the results other nodes send to this node's viewers; stop
	// ends it.
	mu   sync.Mutex
	sub  Subscription
	stop context.CancelFunc
}

// send delivers frame to the user's sockets in the show's room on every
// node. This node's are served directly, so a bus that is down costs only
// the other nodes' copies (GET /api/orders has the truth).
func (o *orderRouter) send(showID, userID uuid.UUID, frame []byte) {
	o.deliver(showID, userID, frame)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	msg := mustJSON(ownMsg{Node: o.node, Show: showID, User: userID, Frame: frame})
	if err := o.bus.Publish(ctx, ownChannel, msg); err != nil {
		o.log.Warn("telling other nodes of a viewer's result", "show", showID, "err", err)
	}
}

// deliver hands frame to the user's sockets in the show's room on this
// node, if it has it open.
func (o *orderRouter) deliver(showID, userID uuid.UUID, frame []byte) {
	r := o.rooms.open(showID)
	if r == nil {
		return
	}
	r.mu.Lock()
	conns := slices.Clone(r.byUser[userID])
	r.mu.Unlock()
	for _, c := range conns {
		c.reply(frame)
	}
}

// receive handles a result another node sent.
func (o *orderRouter) receive(b []byte) {
	defer o.guard.Recover("chat_own")
	var m ownMsg
	if err := json.Unmarshal(b, &m); err != nil || m.User == uuid.Nil || len(m.Frame) == 0 {
		o.log.Warn("undecodable result on the bus", "err", err)
		return
	}
	if m.Node == o.node {
		return // delivered when it was sent
	}
	o.deliver(m.Show, m.User, m.Frame)
}

// hear makes sure this node hears the results other nodes send. It is
// called as a room opens, before the room's first viewer is welcomed: a
// node without rooms has no socket to hand a result to, and a viewer who
// got a welcome is sure to get their orders. The subscription lasts until
// the hub shuts down (close); one the bus ended is made again by the next
// room to open.
func (o *orderRouter) hear() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sub != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := o.bus.Subscribe(ctx, ownChannel)
	if err != nil {
		cancel()
		return err
	}
	o.sub, o.stop = sub, cancel
	go func() {
		for b := range sub.C() {
			o.receive(b)
		}
		o.mu.Lock()
		if o.sub == sub {
			o.sub = nil
		}
		o.mu.Unlock()
	}()
	return nil
}

// close ends the subscription to other nodes' results (a shutdown).
func (o *orderRouter) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sub != nil {
		_ = o.sub.Close()
		o.stop()
		o.sub = nil
	}
}
