package chat

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
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

// OrderChanged tells the buyer's sockets in the show's room about their
// order, on this node at once and on every other node through the bus.
func (h *Hub) OrderChanged(o *checkout.Order) {
	h.init()
	h.queueBought(o)
	h.sendOwn(o.ShowID, o.UserID, mustJSON(map[string]any{"type": "order", "order": o}))
}

// sendOwn delivers frame to the user's sockets in the show's room on every
// node. This node's are served directly, so a bus that is down costs only
// the other nodes' copies (GET /api/orders has the truth).
func (h *Hub) sendOwn(showID, userID uuid.UUID, frame []byte) {
	h.deliverOwn(showID, userID, frame)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	msg := mustJSON(ownMsg{Node: h.Node, Show: showID, User: userID, Frame: frame})
	if err := h.Bus.Publish(ctx, ownChannel, msg); err != nil {
		h.log().Warn("telling other nodes of a viewer's result", "show", showID, "err", err)
	}
}

// deliverOwn hands frame to the user's sockets in the show's room on this
// node, if it has it open.
func (h *Hub) deliverOwn(showID, userID uuid.UUID, frame []byte) {
	h.mu.Lock()
	r := h.rooms[showID]
	h.mu.Unlock()
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

// receiveOwn handles a result another node sent.
func (h *Hub) receiveOwn(b []byte) {
	defer h.guard.Recover("chat_own")
	var m ownMsg
	if err := json.Unmarshal(b, &m); err != nil || m.User == uuid.Nil || len(m.Frame) == 0 {
		h.log().Warn("undecodable result on the bus", "err", err)
		return
	}
	if m.Node == h.Node {
		return // delivered when it was sent
	}
	h.deliverOwn(m.Show, m.User, m.Frame)
}

// hearOwn makes sure this node hears the results other nodes send. It is
// called as a room opens, before the room's first viewer is welcomed: a
// node without rooms has no socket to hand a result to, and a viewer who
// got a welcome is sure to get their orders. The subscription lasts until
// the hub shuts down (stopOwn); one the bus ended is made again by the next
// room to open.
func (h *Hub) hearOwn() error {
	h.ownMu.Lock()
	defer h.ownMu.Unlock()
	if h.ownSub != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	sub, err := h.Bus.Subscribe(ctx, ownChannel)
	if err != nil {
		cancel()
		return err
	}
	h.ownSub, h.ownStop = sub, cancel
	go func() {
		for b := range sub.C() {
			h.receiveOwn(b)
		}
		h.ownMu.Lock()
		if h.ownSub == sub {
			h.ownSub = nil
		}
		h.ownMu.Unlock()
	}()
	return nil
}

// stopOwn ends the subscription to other nodes' results (a shutdown).
func (h *Hub) stopOwn() {
	h.ownMu.Lock()
	defer h.ownMu.Unlock()
	if h.ownSub != nil {
		_ = h.ownSub.Close()
		h.ownStop()
		h.ownSub = nil
	}
}
