package chat_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// Many chatters at once: every client sees every message once, in one
// order, with strictly increasing sequence numbers.
func TestSequenceStrictlyIncreasingForEveryClient(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	const chatters, each = 6, 10 // each is the rate limit's burst: none refused
	names := []string{"reader-anon", "member"}
	clients := []*client{}
	anon, _ := w.join("")
	reader, _ := w.join("member")
	clients = append(clients, anon, reader)
	var senders []*client
	for i := range chatters {
		name := fmt.Sprintf("chatter-%d", i)
		w.addUser(name)
		c, _ := w.join(name)
		senders = append(senders, c)
		clients = append(clients, c)
		names = append(names, name)
	}

	type seen struct {
		seqs []uint64
		ids  map[uint64]string
		err  error
	}
	results := make([]seen, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			r := seen{ids: map[uint64]string{}}
			for len(r.seqs) < chatters*each {
				f, _, err := c.read(wait)
				if err != nil {
					r.err = err
					break
				}
				if f["type"] == "chat" {
					r.seqs = append(r.seqs, seqOf(f))
					r.ids[seqOf(f)] = f["id"].(string)
				}
			}
			results[i] = r
		})
	}
	var send sync.WaitGroup
	for i, c := range senders {
		send.Go(func() {
			for j := range each {
				if err := c.ws.WriteJSON(map[string]any{"type": "chat", "text": fmt.Sprintf("from %d #%d", i, j)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	send.Wait()
	wg.Wait()

	for i, r := range results {
		if r.err != nil {
			t.Fatalf("%s: %v after %d messages", names[i], r.err, len(r.seqs))
		}
		for j := 1; j < len(r.seqs); j++ {
			if r.seqs[j] <= r.seqs[j-1] {
				t.Fatalf("%s: seq %d after %d (duplicate or out of order): %v", names[i], r.seqs[j], r.seqs[j-1], r.seqs)
			}
		}
		// Every client saw the same messages under the same numbers.
		for seq, id := range r.ids {
			if results[0].ids[seq] != id {
				t.Fatalf("%s: seq %d is message %s, %s saw %s", names[i], seq, id, names[0], results[0].ids[seq])
			}
		}
	}
}

// sequenced returns the sequenced frames among fs.
func sequenced(fs []map[string]any) []map[string]any {
	var out []map[string]any
	for _, f := range fs {
		if seqOf(f) != 0 {
			out = append(out, f)
		}
	}
	return out
}

// collect reads frames up to and including the first of type typ.
func (c *client) collect(typ string) (before []map[string]any, last map[string]any) {
	c.t.Helper()
	for {
		f := c.until(func(map[string]any) bool { return true }, "a "+typ+" frame")
		if f["type"] == typ {
			return before, f
		}
		before = append(before, f)
	}
}

// checkReplay asserts frames are exactly the sequenced events after..after+n, in order.
func checkReplay(t *testing.T, frames []map[string]any, after uint64, n int) {
	t.Helper()
	got := sequenced(frames)
	if len(got) != n {
		t.Fatalf("replayed %d events, want %d: %v", len(got), n, got)
	}
	for i, f := range got {
		if seqOf(f) != after+1+uint64(i) {
			t.Fatalf("replayed event %d has seq %d, want %d: %v", i, seqOf(f), after+1+uint64(i), got)
		}
	}
}

func TestResume(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	host, _ := w.join("host")
	talker, _ := w.join("member")
	c, welcome := w.join("viewer")
	epoch, _ := welcome["epoch"].(string)
	if epoch == "" || welcome["reset"] != false {
		t.Fatalf("welcome = %v", welcome)
	}
	for i := range 3 {
		talker.send(map[string]any{"type": "chat", "text": fmt.Sprintf("before %d", i)})
	}
	var after uint64
	for range 3 {
		after = seqOf(c.next("chat"))
	}
	c.ws.Close()
	host.until(func(f map[string]any) bool { return f["text"] == "before 2" }, "the last message read")

	// What the viewer misses: four messages and a pin.
	for i := range 4 {
		talker.send(map[string]any{"type": "chat", "text": fmt.Sprintf("missed %d", i)})
	}
	// Frames from two connections are not ordered: pin once the chat is in.
	host.until(func(f map[string]any) bool { return f["text"] == "missed 3" }, "the last missed message")
	host.send(map[string]any{"type": "pin", "offer_id": w.offer})
	last := seqOf(host.next("pin")) // by now every room event is in history

	checkResumed := func(t *testing.T, frames []map[string]any, resumed map[string]any) {
		t.Helper()
		checkReplay(t, frames, after, 5)
		got := sequenced(frames)
		for i := range 4 {
			if got[i]["type"] != "chat" || got[i]["text"] != fmt.Sprintf("missed %d", i) {
				t.Fatalf("replayed %d = %v", i, got[i])
			}
		}
		if got[4]["type"] != "pin" || obj(got[4], "offer")["id"] != w.offer.String() {
			t.Fatalf("replayed pin = %v", got[4])
		}
		if resumed["epoch"] != epoch || uint64(num(resumed, "seq")) != last || num(resumed, "replayed") != 5 {
			t.Fatalf("resumed = %v (last seq %d)", resumed, last)
		}
	}

	t.Run("URL", func(t *testing.T) {
		r, _, err := w.dial("viewer", fmt.Sprintf("?epoch=%s&after=%d", epoch, after))
		if err != nil {
			t.Fatal(err)
		}
		frames, resumed := r.collect("resumed")
		checkResumed(t, frames, resumed)
		// Live events follow.
		talker.send(map[string]any{"type": "chat", "text": "live"})
		if f := r.next("chat"); f["text"] != "live" || seqOf(f) != last+1 {
			t.Fatalf("after resuming: %v", f)
		}
		last++
	})

	t.Run("Frame", func(t *testing.T) {
		r, _ := w.join("viewer")
		r.send(map[string]any{"type": "resume", "epoch": epoch, "after": after})
		frames, resumed := r.collect("resumed")
		var replay []map[string]any
		for _, f := range frames {
			if f["type"] != "viewers" {
				replay = append(replay, f)
			}
		}
		if len(replay) != 6 { // the five missed events and the one sent live in URL
			t.Fatalf("replayed %v", replay)
		}
		checkReplay(t, replay, after, 6)
		if uint64(num(resumed, "seq")) != last || num(resumed, "replayed") != 6 {
			t.Fatalf("resumed = %v", resumed)
		}
	})

	t.Run("UpToDate", func(t *testing.T) {
		r, _, err := w.dial("viewer", fmt.Sprintf("?epoch=%s&after=%d", epoch, last))
		if err != nil {
			t.Fatal(err)
		}
		frames, resumed := r.collect("resumed")
		if len(sequenced(frames)) != 0 || num(resumed, "replayed") != 0 {
			t.Fatalf("nothing was missed, got %v then %v", frames, resumed)
		}
	})

	for name, query := range map[string]string{
		"WrongEpoch":  fmt.Sprintf("?epoch=%s&after=%d", "not-the-epoch", after),
		"AfterFuture": fmt.Sprintf("?epoch=%s&after=%d", epoch, last+100),
	} {
		t.Run(name, func(t *testing.T) {
			r, _, err := w.dial("viewer", query)
			if err != nil {
				t.Fatal(err)
			}
			frames, welcome := r.collect("welcome")
			if len(sequenced(frames)) != 0 || welcome["reset"] != true || welcome["epoch"] != epoch || uint64(num(welcome, "seq")) != last {
				t.Fatalf("want a fresh snapshot, got %v then %v", frames, welcome)
			}
			// The same by frame.
			r.send(map[string]any{"type": "resume", "epoch": "not-the-epoch", "after": after})
			if welcome := r.next("welcome"); welcome["reset"] != true {
				t.Fatalf("resume frame with a wrong epoch: %v", welcome)
			}
		})
	}
}

// pinFlood has the host pin n times, in batches small enough that no reader
// in watchers falls behind by more than a batch; it returns the last seq.
func pinFlood(t *testing.T, offer any, host *client, n, batch int, watchers ...*reader) uint64 {
	t.Helper()
	var last uint64
	for sent := 0; sent < n; {
		k := min(batch, n-sent)
		for range k {
			host.send(map[string]any{"type": "pin", "offer_id": offer})
		}
		sent += k
		for range k {
			last = seqOf(host.next("pin"))
		}
		for _, r := range watchers {
			r.waitSeq(t, last)
		}
	}
	return last
}

func TestResumeOlderThanHistory(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withHistory(10))
	host, welcome := w.join("host")
	epoch := welcome["epoch"].(string)
	last := pinFlood(t, w.offer, host, 30, 10)
	if last != 30 {
		t.Fatalf("last seq %d, want 30", last)
	}
	// History holds 21..30: resuming after 20 replays ten; after 19 or 5 is too old.
	r, _, err := w.dial("viewer", fmt.Sprintf("?epoch=%s&after=20", epoch))
	if err != nil {
		t.Fatal(err)
	}
	frames, resumed := r.collect("resumed")
	checkReplay(t, frames, 20, 10)
	if num(resumed, "replayed") != 10 {
		t.Fatalf("resumed = %v", resumed)
	}
	for _, after := range []int{19, 5} {
		r, _, err := w.dial("viewer", fmt.Sprintf("?epoch=%s&after=%d", epoch, after))
		if err != nil {
			t.Fatal(err)
		}
		frames, welcome := r.collect("welcome")
		if len(sequenced(frames)) != 0 || welcome["reset"] != true || num(welcome, "seq") != 30 {
			t.Fatalf("after=%d: want a fresh snapshot, got %v then %v", after, frames, welcome)
		}
		if obj(welcome, "pinned")["id"] != w.offer.String() {
			t.Fatalf("the snapshot lacks the pinned offer: %v", welcome)
		}
	}
}

// A resume that misses more than a connection's queue holds gets a fresh
// snapshot; it is not disconnected as "too slow" before it read anything.
func TestResumeLongGapGetsSnapshot(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	host, welcome := w.join("host")
	epoch := welcome["epoch"].(string)
	last := pinFlood(t, w.offer, host, 400, 50)
	r, _, err := w.dial("viewer", fmt.Sprintf("?epoch=%s&after=0", epoch))
	if err != nil {
		t.Fatal(err)
	}
	f := r.until(func(f map[string]any) bool { return f["type"] == "welcome" || f["type"] == "resumed" }, "welcome or resumed")
	if f["type"] != "welcome" || f["reset"] != true || uint64(num(f, "seq")) != last {
		t.Fatalf("400 missed events: want a fresh snapshot, got %v", f)
	}
	// Still connected and following the room.
	host.send(map[string]any{"type": "pin"})
	if p := r.next("pin"); seqOf(p) != last+1 || p["offer"] != nil {
		t.Fatalf("unpin = %v", p)
	}
}
