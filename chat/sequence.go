package chat

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"
)

// The room's numbered events: each bus message is checked against the
// room's numbering (a repeat, a gap, a new epoch), entered into its history
// and state, and handed to the current tick.

// entry is one sequenced event in a room's history, encoded once.
type entry struct {
	seq  uint64
	data []byte
	pm   frame
	ev   roomEvent
}

// receive handles one bus message: a numbered room event, or (unnumbered)
// another node's reaction counts.
func (r *Room) receive(msg []byte) {
	seq, payload, err := Unframe(msg)
	if err != nil {
		r.fanout(msg, laneChat) // another node's reaction counts
		return
	}
	var ev roomEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		r.hub.log().Warn("undecodable room event", "show", r.showID, "err", err)
		return
	}
	data := withSeq(seq, payload)
	pm := textFrame(data)
	// Chat that waited too long behind an overloaded node is shed for the
	// whole room: late chat is noise, and skipping it lets the room catch up.
	// It stays in history for welcomes and resumes.
	ln := laneOf(ev.Type)
	shed := ln == laneChat && ev.At != nil && time.Since(*ev.At) > staleChat
	if shed {
		r.hub.metrics.dropped()
	}
	// A shed line still rides the tick, left out of every form like capped
	// chat: a v2 viewer's batch counts it as skipped, so nothing is left
	// out without a count, however late the line came.
	item := tickItem{seq: seq, data: data, pm: pm, lane: ln, staff: ev.Staff, capped: shed}
	if !r.record(seq, data, pm, ev, item, true) {
		return // already seen
	}
	if ln == laneState {
		r.flushSoon()
	}
}

// record enters a numbered event into the room's history and state, and
// into the current tick when deliver; false: the event was seen before.
// The lock is released by defer, so a panic on an event's content (which
// receiveGuarded recovers) cannot leave the room locked for good.
func (r *Room) record(seq uint64, data []byte, pm frame, ev roomEvent, item tickItem, deliver bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		restarted bool
		epoch     string
	)
	if seq <= r.last {
		// Seen before, or numbered anew below where the old numbering had
		// got to (its first events, 1 included, may have been lost on the
		// way): the epoch tells. Seeing an event twice is rare.
		epoch = r.busEpochLocked()
		// Seq 1 again under the same epoch is a repeat: a room that opened
		// from the bus's history hears its first events a second time.
		restarted = epoch != r.epoch && (epoch != "" || seq == 1)
	}
	switch {
	case restarted:
		// The numbering restarted (a Redis that lost its data): a new epoch.
		r.keepHistoryLocked()
		if epoch != "" {
			r.epoch = epoch
		}
		r.history = r.history[:0]
		r.fillLater(r.epoch, 0, seq)
		// What viewers were told they had ("up to r.last") counted in the
		// old numbering: kept, it would hide every new event numbered below it.
		for c := range r.conns {
			c.tickMu.Lock()
			c.skipThrough = 0
			c.tickMu.Unlock()
		}
		go r.resync()
	case seq <= r.last:
		return false
	case r.last != 0 && seq != r.last+1:
		// The bus dropped something on the way here: history no longer
		// reaches back without a hole, so resumes before this get a snapshot,
		// and the room reads what the lost events may have changed.
		r.keepHistoryLocked()
		r.history = r.history[:0]
		r.fillLater(r.epoch, r.last, seq)
		go r.resync()
	}
	r.last = seq
	r.history = append(r.history, entry{seq: seq, data: data, pm: pm, ev: ev})
	if n := len(r.history) - r.hub.history(); n > 0 {
		r.history = slices.Delete(r.history, 0, n)
	}
	r.applyLocked(&ev)
	if deliver {
		r.pending = append(r.pending, item)
	}
	return true
}

// historyFrom turns a bus's recent messages (chat.Bus.Recent: framed,
// oldest first, without a hole) into a room's history and its last number.
// A message that does not decode cuts the history: only what follows it
// runs without a hole.
func historyFrom(msgs [][]byte, log *slog.Logger) ([]entry, uint64) {
	history := make([]entry, 0, len(msgs))
	var last uint64
	for _, msg := range msgs {
		seq, payload, err := Unframe(msg)
		var ev roomEvent
		if err == nil {
			err = json.Unmarshal(payload, &ev)
		}
		if err != nil || (last != 0 && seq != last+1) {
			log.Warn("a room's history on the bus ends early", "seq", seq, "err", err)
			history = history[:0]
			last = 0
			continue
		}
		data := withSeq(seq, payload)
		history = append(history, entry{seq: seq, data: data, pm: textFrame(data), ev: ev})
		last = seq
		if ev.Type == EvModeration && ev.Action == ActDelete {
			// As applyLocked does: a line deleted within the history is
			// gone from the welcomes it gives.
			// The history runs without a hole, so the target's place is
			// its distance from the first entry.
			if i := int(ev.Target) - int(history[0].seq); ev.Target >= history[0].seq && i < len(history) && history[i].ev.Type == EvChat {
				history[i].ev.Type = "deleted"
			}
		}
	}
	return history, last
}

// busEpochLocked reads the numbering's epoch from the bus; "" when the bus
// cannot say.
func (r *Room) busEpochLocked() string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	epoch, err := r.hub.Bus.Epoch(ctx, r.channel)
	if err != nil {
		return ""
	}
	return epoch
}

// staleChat is how old a chat message may be when it reaches this node and
// still be shown.
const staleChat = 2 * time.Second

// missedLocked returns the events after seq "after", if the history still
// reaches back that far in the same epoch.
func (r *Room) missedLocked(epoch string, after uint64) ([]entry, bool) {
	if epoch != r.epoch || after > r.last {
		return nil, false
	}
	if after == r.last {
		return nil, true
	}
	if len(r.history) == 0 || r.history[0].seq > after+1 {
		return nil, false
	}
	i, _ := slices.BinarySearchFunc(r.history, after+1, func(e entry, s uint64) int { return int(e.seq - s) })
	return slices.Clone(r.history[i:]), true
}
