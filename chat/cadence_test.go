package chat_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// In a big room each viewer is written to once per round (Hub.BigRoomCadence)
// while only chat waits, but a state event never waits for the round: with
// a round of an hour, a pin and a stock change still reach every viewer, in
// both protocol versions, with the chat numbered before them, in sequence.
//
// Determinism: no wall-clock figure is asserted. With the state event held
// behind the cadence, the reads below wait an hour for it and fail after 5 s.
func TestBigRoomStateEventIsNotHeldByTheChatCadence(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withBigRoom(2, 1000), withBigRoomCadence(time.Hour))
	v2c, _ := w.joinQuery("viewer", "?v=2")
	v1, _ := w.join("member")
	host, _ := w.join("host")
	talkers := w.joinUsers("talker", 3)
	b := &batchReader{c: v2c}
	// A first pin: once it is through, the room has counted its viewers
	// (more than BigRoom) and writes to them in turn.
	host.send(map[string]any{"type": "pin", "offer_id": w.offer})
	first := seqOf(b.until(t, func(f map[string]any) bool { return f["type"] == "pin" }))
	v1.until(func(f map[string]any) bool { return seqOf(f) == first }, "the first pin")
	b.events = nil

	chatRound(talkers, "before")
	w.waitForSeq(first + 9)
	host.send(map[string]any{"type": "pin", "offer_id": w.offer})
	pin := seqOf(b.until(t, func(f map[string]any) bool { return f["type"] == "pin" }))
	if got := b.count("chat"); got != 9 {
		t.Fatalf("the pin came with %d of the 9 lines numbered before it", got)
	}

	// Chat after the pin waits for the round; a stock change does not, and
	// takes it along.
	stockCarriesTheChat(t, w, b, v1, talkers, pin)
}

// stockCarriesTheChat: after the pin (numbered pin) a second chat round
// waits; a buyer's reservation changes the stock, which does not wait and
// takes the round along. The v2 reader b gets all 18 lines, none skipped,
// every event in sequence; the v1 viewer the same events, one frame each.
func stockCarriesTheChat(t *testing.T, w *world, b *batchReader, v1 *client, talkers []*client, pin uint64) {
	t.Helper()
	chatRound(talkers, "after")
	w.waitForSeq(pin + 9)
	buyer, _ := w.join("viewer")
	buyer.send(map[string]any{"type": "reserve", "id": "r1", "offer_id": w.offer, "quantity": 1})
	if res := buyer.next("reservation"); res["id"] != "r1" {
		t.Fatalf("reservation %v", res)
	}
	b.until(t, func(f map[string]any) bool { return f["type"] == "stock" })
	if got, skipped := b.count("chat"), b.skipped; got != 18 || skipped != 0 {
		t.Fatalf("v2 viewer: %d chat lines, %d skipped; want all 18, none skipped", got, skipped)
	}
	seqs := contiguous(t, "v2 viewer", b.events)

	var v1seqs []uint64
	v1.until(func(f map[string]any) bool {
		if s := seqOf(f); s != 0 {
			v1seqs = append(v1seqs, s)
		}
		return f["type"] == "stock"
	}, "the stock change")
	if fmt.Sprint(v1seqs) != fmt.Sprint(seqs) {
		t.Fatalf("v1 viewer got %v, v2 %v", v1seqs, seqs)
	}
}

// contiguous returns the seqs of events, failing unless each follows the one
// before it.
func contiguous(t *testing.T, who string, events []map[string]any) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, e := range events {
		if s := seqOf(e); s != 0 {
			seqs = append(seqs, s)
		}
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("%s: events out of sequence: %v", who, seqs)
		}
	}
	return seqs
}

// A big room's chat reaches every viewer by the round, with no state event
// to carry it: each viewer, v1 or v2, there from the start or joining
// mid-flow, gets every line numbered after its welcome once, in sequence,
// while other viewers keep joining and leaving (the ring's viewer list
// changes under it). Nothing is capped here (the cap is 1,000 lines a
// second): TestBigRoomCapsChatButNotStaffNorState covers the sampling.
//
// Determinism: every line is awaited by seq, with no time limit on the flow
// as a whole; a line the ring lost or handed twice fails the test.
func TestBigRoomChatArrivesByTheRound(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withBigRoom(2, 1000))
	type viewer struct {
		c    *client
		v2   bool
		from uint64
	}
	var vs []viewer
	add := func(q string) {
		c, welcome := w.joinQuery("", q)
		vs = append(vs, viewer{c, q != "", uint64(num(welcome, "seq"))})
	}
	add("")
	add("?v=2")
	talkers := w.joinUsers("talker", 4)
	const each = 10
	var wg sync.WaitGroup
	for i, c := range talkers {
		wg.Go(func() {
			for j := range each {
				if c.ws.WriteJSON(map[string]any{"type": "chat", "text": fmt.Sprintf("line %d.%d", i, j)}) != nil {
					return
				}
				time.Sleep(200 * time.Millisecond) // ten rounds' worth, under the rate limit
			}
		})
	}
	// Viewers come and go meanwhile; two stay.
	for i := range 12 {
		c, _ := w.join("")
		if i == 2 {
			add("")
		}
		if i == 5 {
			add("?v=2")
		}
		time.Sleep(15 * time.Millisecond)
		c.ws.Close()
	}
	wg.Wait()
	base := vs[0].from
	last := base + uint64(len(talkers)*each)
	w.waitForSeq(last)
	for i, v := range vs {
		if v.from >= last {
			// Joined after the last line (a slow machine): nothing to await.
			t.Logf("viewer %d joined after the flow", i)
			continue
		}
		next := v.from + 1
		check := func(f map[string]any) bool {
			s := seqOf(f)
			if s == 0 {
				return false
			}
			if s != next {
				t.Fatalf("viewer %d (v2 %v, welcome seq %d): seq %d, want %d", i, v.v2, v.from, s, next)
			}
			if f["type"] != "chat" {
				t.Fatalf("viewer %d: a %v event in a room with chat only", i, f["type"])
			}
			next++
			return s == last
		}
		if v.v2 {
			b := &batchReader{c: v.c}
			b.until(t, check)
			if b.skipped != 0 {
				t.Fatalf("viewer %d: %d lines skipped with no cap", i, b.skipped)
			}
		} else {
			v.c.until(check, "the last line")
		}
	}
}
