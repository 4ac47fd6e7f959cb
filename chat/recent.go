package chat

import (
	"context"
	"encoding/json"
	"slices"
	"time"
)

// The recent chat a welcome carries: history's lines, and the lines kept
// beside it (read from the archive, or saved from a history a gap emptied).

// recentChat is how many chat messages a welcome carries.
const recentChat = 50

// keptLine is a chat line a room holds outside its history.
type keptLine struct {
	epoch   string
	seq     uint64
	id      string
	data    []byte // the chat event with its seq, as viewers got it
	deleted bool
}

// keptFrom turns archived lines, newest first, into kept lines, oldest first.
func keptFrom(lines []Line) []keptLine {
	out := make([]keptLine, 0, len(lines))
	for i := len(lines) - 1; i >= 0; i-- {
		out = append(out, keptLineOf(&lines[i]))
	}
	return out
}

// keptLineOf is an archived line as the chat event viewers got.
func keptLineOf(l *Line) keptLine {
	at := l.At
	ev := roomEvent{Type: EvChat, ID: l.ID.String(), User: &Author{ID: l.Author.ID, Name: l.Author.Name}, Text: l.Text, At: &at, Staff: l.Staff}
	return keptLine{epoch: l.Epoch, seq: l.Seq, id: ev.ID, data: withSeq(l.Seq, mustJSON(ev))}
}

// fillWait is how long a room waits before it reads the chat lines its bus
// lost from the archive: their writers flush every keepEvery.
const fillWait = 3 * keepEvery

// fillLater reads, after fillWait, the chat lines of epoch numbered between
// after and before (a gap: the bus lost them on the way to this node) from
// the archive, for later welcomes. The viewers here already got newer
// events, so the lines are not sent to them: a client that saw the gap
// resumes, and its fresh welcome has them.
func (r *Room) fillLater(epoch string, after, before uint64) {
	a := r.hub.Archive
	if a == nil || before <= after+1 {
		return
	}
	time.AfterFunc(fillWait, func() {
		defer r.hub.guard.Recover("chat_timer", "show", r.showID)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		lines, err := a.LinesBetween(ctx, r.showID, epoch, after, before)
		if err != nil {
			r.hub.log().Warn("reading the chat a room missed from the archive", "show", r.showID, "err", err)
			return
		}
		r.mu.Lock()
		r.insertKeptLocked(epoch, lines)
		r.mu.Unlock()
	})
}

// insertKeptLocked puts lines of epoch, in seq order, among the kept ones:
// before any later line of the epoch, after the rest (history is newer).
func (r *Room) insertKeptLocked(epoch string, lines []Line) {
	have := map[string]bool{}
	for _, k := range r.kept {
		have[k.id] = true
	}
	for _, e := range r.history {
		have[e.ev.ID] = true
	}
	var add []keptLine
	for i := range lines {
		if k := keptLineOf(&lines[i]); !have[k.id] {
			add = append(add, k)
		}
	}
	if len(add) == 0 {
		return
	}
	last := add[len(add)-1].seq
	at := slices.IndexFunc(r.kept, func(k keptLine) bool { return k.epoch == epoch && k.seq > last })
	if at < 0 {
		at = len(r.kept)
	}
	r.kept = slices.Insert(r.kept, at, add...)
	if n := len(r.kept) - recentChat; n > 0 {
		r.kept = slices.Delete(r.kept, 0, n)
	}
}

// keepHistoryLocked moves history's chat lines into kept before history is
// emptied (a gap, a new numbering), so welcomes still show them.
func (r *Room) keepHistoryLocked() {
	for _, e := range r.history {
		if e.ev.Type == EvChat {
			r.kept = append(r.kept, keptLine{epoch: r.epoch, seq: e.seq, id: e.ev.ID, data: e.data})
		}
	}
	if n := len(r.kept) - recentChat; n > 0 {
		r.kept = slices.Delete(r.kept, 0, n)
	}
}

// recentLocked is a welcome's recent chat, oldest first: history's lines,
// then the kept ones before them.
func (r *Room) recentLocked() []json.RawMessage {
	var recent []json.RawMessage
	seen := map[string]bool{}
	for i := len(r.history) - 1; i >= 0 && len(recent) < recentChat; i-- {
		if r.history[i].ev.Type == EvChat {
			recent = append(recent, r.history[i].data)
			seen[r.history[i].ev.ID] = true
		}
	}
	for i := len(r.kept) - 1; i >= 0 && len(recent) < recentChat; i-- {
		// A line can be both archived and in history: the room opened as
		// it was on its way.
		if k := &r.kept[i]; !k.deleted && !seen[k.id] {
			recent = append(recent, k.data)
		}
	}
	slices.Reverse(recent)
	return recent
}
