// Package chat is the live-room gateway: rooms per show, the websocket
// protocol (PROTOCOL.md), sequence numbers, history and resume, moderation,
// rate limits, reaction aggregation, and the delivery of commerce events
// (pins, flash drops, stock, sold out, a viewer's own results).
//
// A room's events are numbered by the Bus, which every node shares, so a
// viewer may resume on any node. Each event is encoded once per room and
// written to every viewer from per-connection queues; a slow viewer sheds
// chat and reactions, never its own results, and is disconnected with a
// reason when it cannot keep up with the rest.
//
// Joins, leaves, chat, reactions and product card taps are reported to a
// Recorder (the show's analytics), which must only touch memory.
//
// The package owns the Bus and Recorder interfaces; it never imports a bus,
// a store driver or the analytics package.
package chat
