// Package chat is the live-room gateway: rooms per show, the websocket
// protocol (PROTOCOL.md), sequence numbers, history and resume, moderation,
// rate limits, reaction aggregation, and the delivery of commerce events
// (pins, flash drops, stock, sold out, a viewer's own results).
//
// A room's events are numbered by the Bus, which every node shares, so a
// viewer may resume on any node. A room hands its viewers ticks (tick.go):
// the events of 20–100 ms, encoded once per protocol version and written to
// every viewer from the same buffer, inline from the room's goroutine for a
// viewer with nothing waiting, else by a writer goroutine that runs only
// while the viewer has something waiting. Commerce and state events never
// wait for the chat tick and are never shed; a viewer who falls behind
// gets the chat of old ticks left out and counted, never its own results,
// and is disconnected with a reason when even the state events pile up.
//
// Joins, leaves, chat, reactions and product card taps are reported to a
// Recorder (the show's analytics), which must only touch memory.
//
// The package owns the Bus and Recorder interfaces; it never imports a bus,
// a store driver or the analytics package.
package chat
