package bustest

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/chat"
)

// frame is one message received from Append, split.
type frame struct {
	seq uint64
	msg []byte
}

// nextFrame waits for the next message on sub and splits it.
func nextFrame(t *testing.T, sub chat.Subscription) frame {
	t.Helper()
	m := next(t, sub)
	seq, msg, err := chat.Unframe(m)
	if err != nil {
		t.Fatalf("Unframe(%q): %v", m, err)
	}
	return frame{seq, msg}
}

func appendMsg(t *testing.T, ctx context.Context, b chat.Bus, channel string, msg []byte) uint64 {
	t.Helper()
	seq, _, err := b.Append(ctx, channel, msg)
	if err != nil {
		t.Fatalf("Append(%q): %v", channel, err)
	}
	return seq
}

func testAppendInOrder(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	subs := []chat.Subscription{
		subscribe(t, ctx, n1, "room:seq"),
		subscribe(t, ctx, n2, "room:seq"),
	}

	const n = 200
	msgs := make([][]byte, n)
	for i := range n - 2 {
		msgs[i] = []byte("m" + strconv.Itoa(i))
	}
	// Framing must keep the empty message and arbitrary bytes, spaces and
	// digits included, as they are.
	msgs[n-2] = []byte{}
	msgs[n-1] = []byte("12 \x00\xff ")
	for i, m := range msgs {
		if seq := appendMsg(t, ctx, n1, "room:seq", m); seq != uint64(i+1) {
			t.Fatalf("Append #%d returned seq %d, want %d", i+1, seq, i+1)
		}
	}
	for s, sub := range subs {
		for i, m := range msgs {
			f := nextFrame(t, sub)
			if f.seq != uint64(i+1) || !bytes.Equal(f.msg, m) {
				t.Fatalf("subscriber %d: got frame %d %q, want %d %q", s, f.seq, f.msg, i+1, m)
			}
		}
	}
}

// testConcurrentAppends appends from many goroutines on both nodes at once.
// Every subscriber, on either node, must see one total order: the sequence
// order. The test reads while appending and stays far below any buffer
// limit, so nothing may be missing either.
func testConcurrentAppends(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	const channel = "room:seqrace"
	subs := []chat.Subscription{
		subscribe(t, ctx, n1, channel),
		subscribe(t, ctx, n2, channel),
	}

	const perNode, goroutines = 200, 8 // goroutines per node
	const each = perNode / goroutines
	const total = 2 * perNode

	// Readers run alongside the appenders and only collect; checks follow.
	got := make([][]frame, len(subs))
	readErrs := make([]error, len(subs))
	var readers sync.WaitGroup
	for s, sub := range subs {
		readers.Go(func() {
			deadline := time.After(4 * timeout)
			for len(got[s]) < total {
				select {
				case m, ok := <-sub.C():
					if !ok {
						readErrs[s] = fmt.Errorf("subscription closed after %d frames", len(got[s]))
						return
					}
					seq, msg, err := chat.Unframe(m)
					if err != nil {
						readErrs[s] = fmt.Errorf("Unframe(%q): %w", m, err)
						return
					}
					got[s] = append(got[s], frame{seq, msg})
				case <-deadline:
					readErrs[s] = fmt.Errorf("got %d of %d frames within %v", len(got[s]), total, 4*timeout)
					return
				}
			}
		})
	}

	// sent maps each returned seq to the message it numbered.
	var mu sync.Mutex
	sent := make(map[uint64]string, total)
	var appendErr error
	var appenders sync.WaitGroup
	for node, b := range []chat.Bus{n1, n2} {
		for g := range goroutines {
			appenders.Go(func() {
				for i := range each {
					msg := fmt.Sprintf("%d/%d/%d", node, g, i)
					seq, _, err := b.Append(ctx, channel, []byte(msg))
					mu.Lock()
					if err != nil {
						if appendErr == nil {
							appendErr = err
						}
						mu.Unlock()
						return
					}
					if prev, dup := sent[seq]; dup {
						if appendErr == nil {
							appendErr = fmt.Errorf("seq %d given to both %q and %q", seq, prev, msg)
						}
					}
					sent[seq] = msg
					mu.Unlock()
				}
			})
		}
	}
	appenders.Wait()
	if appendErr != nil {
		// Close the subscriptions so the readers stop at once.
		for _, sub := range subs {
			_ = sub.Close()
		}
		readers.Wait()
		t.Fatalf("Append: %v", appendErr)
	}
	for seq := uint64(1); seq <= total; seq++ {
		if _, ok := sent[seq]; !ok {
			t.Fatalf("Append never returned seq %d (of %d appends)", seq, total)
		}
	}

	readers.Wait()
	for s := range subs {
		var last uint64
		for _, f := range got[s] {
			if f.seq <= last {
				t.Fatalf("subscriber %d: seq %d after %d", s, f.seq, last)
			}
			if f.seq != last+1 {
				t.Fatalf("subscriber %d: seq %d after %d, want %d (missing or out of order)", s, f.seq, last, last+1)
			}
			if want := sent[f.seq]; string(f.msg) != want {
				t.Fatalf("subscriber %d: seq %d carries %q, but Append numbered %q with it", s, f.seq, f.msg, want)
			}
			last = f.seq
		}
		if readErrs[s] != nil {
			t.Fatalf("subscriber %d: %v", s, readErrs[s])
		}
	}
}

func testAppendPerChannel(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	subX := subscribe(t, ctx, n2, "room:x")
	subXY := subscribe(t, ctx, n2, "room:x:y")

	// One numbering per channel, shared by the nodes; a name that extends
	// another is still its own channel.
	steps := []struct {
		bus     chat.Bus
		channel string
		want    uint64
	}{
		{n1, "room:x", 1},
		{n2, "room:x", 2},
		{n1, "room:x:y", 1},
		{n2, "room:x", 3},
		{n2, "room:x:y", 2},
	}
	for _, st := range steps {
		if seq := appendMsg(t, ctx, st.bus, st.channel, []byte(st.channel)); seq != st.want {
			t.Fatalf("Append(%q) = %d, want %d", st.channel, seq, st.want)
		}
	}
	// Publish neither takes a number nor disturbs the numbering.
	publish(t, ctx, n1, "room:x", []byte("plain"))
	if seq := appendMsg(t, ctx, n1, "room:x", []byte("room:x")); seq != 4 {
		t.Fatalf("Append after Publish = %d, want 4", seq)
	}

	for _, want := range []uint64{1, 2, 3} {
		if f := nextFrame(t, subX); f.seq != want || string(f.msg) != "room:x" {
			t.Fatalf("room:x: got frame %d %q, want %d", f.seq, f.msg, want)
		}
	}
	expect(t, subX, "plain")
	if f := nextFrame(t, subX); f.seq != 4 {
		t.Fatalf("room:x: got frame %d, want 4", f.seq)
	}
	for _, want := range []uint64{1, 2} {
		if f := nextFrame(t, subXY); f.seq != want || string(f.msg) != "room:x:y" {
			t.Fatalf("room:x:y: got frame %d %q, want %d", f.seq, f.msg, want)
		}
	}
}

func testEpoch(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	epoch := func(b chat.Bus, channel string) string {
		t.Helper()
		e, err := b.Epoch(ctx, channel)
		if err != nil {
			t.Fatalf("Epoch(%q): %v", channel, err)
		}
		if e == "" {
			t.Fatalf("Epoch(%q) is empty", channel)
		}
		return e
	}

	// Asked before any Append, and after: the numbering is the same one.
	e := epoch(n1, "room:e")
	appendMsg(t, ctx, n1, "room:e", []byte("x"))
	for range 3 {
		for _, b := range []chat.Bus{n1, n2} {
			if got := epoch(b, "room:e"); got != e {
				t.Fatalf("Epoch(room:e) changed from %q to %q", e, got)
			}
		}
	}

	// Append names the numbering it numbered in, on either node.
	for _, b := range []chat.Bus{n1, n2} {
		if _, got, err := b.Append(ctx, "room:e", []byte("y")); err != nil || got != e {
			t.Fatalf("Append(room:e) epoch = %q, %v; want %q", got, err, e)
		}
	}

	// A channel first seen through Append has one epoch on both nodes too.
	_, appended, err := n2.Append(ctx, "room:f", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	f := epoch(n1, "room:f")
	if appended != f {
		t.Fatalf("Append(room:f) named epoch %q, Epoch says %q", appended, f)
	}
	if got := epoch(n2, "room:f"); got != f {
		t.Fatalf("Epoch(room:f) is %q on node 1, %q on node 2", f, got)
	}
	if f == e {
		t.Fatalf("room:e and room:f share epoch %q", e)
	}
	if g := epoch(n2, "room:g"); g == e || g == f {
		t.Fatalf("room:g shares epoch %q with another channel", g)
	}
}

func presence(t *testing.T, b chat.Bus, channel, node string, n int, ttl time.Duration) int {
	t.Helper()
	total, err := b.Presence(testCtx(t), channel, node, n, ttl)
	if err != nil {
		t.Fatalf("Presence(%q, %q, %d): %v", channel, node, n, err)
	}
	return total
}

func testPresenceSum(t *testing.T, newPair Factory) {
	n1, n2 := newPair(t)
	// Long enough that no record goes stale during the test.
	const ttl = time.Hour
	steps := []struct {
		bus     chat.Bus
		channel string
		node    string
		n, want int
	}{
		{n1, "room:p", "a", 3, 3},
		{n2, "room:p", "b", 4, 7},
		{n1, "room:p", "a", 5, 9},   // a new count replaces the node's old one
		{n2, "room:q", "a", 1, 1},   // channels are counted apart
		{n2, "room:p", "b", 0, 5},   // a node with no viewers adds nothing
		{n1, "room:p", "a", 0, 0},   // …even when it is the last one
		{n1, "room:r", "a", 0, 0},   // a first report may be zero
		{n2, "room:p", "b", 2, 2},   // and a node may come back
		{n1, "room:q", "b", 10, 11}, // room:q still has a's record
	}
	for i, st := range steps {
		if got := presence(t, st.bus, st.channel, st.node, st.n, ttl); got != st.want {
			t.Fatalf("step %d: Presence(%q, %q, %d) = %d, want %d", i, st.channel, st.node, st.n, got, st.want)
		}
	}
}

func testPresenceStale(t *testing.T, newPair Factory) {
	n1, n2 := newPair(t)
	const short = 300 * time.Millisecond
	// The ttl judges the records at the call that passes it. Both calls
	// here pass one long enough that b is certainly still fresh (and a
	// Redis key certainly still there).
	presence(t, n2, "room:stale", "b", 4, time.Hour)
	if got := presence(t, n1, "room:stale", "a", 5, time.Hour); got != 9 {
		t.Fatalf("Presence = %d, want 9 with both nodes", got)
	}
	// b stops reporting; a keeps reporting. b must drop out once its record
	// is older than the ttl, and a must stay.
	deadline := time.Now().Add(timeout)
	for {
		got := presence(t, n1, "room:stale", "a", 5, short)
		if got == 5 {
			break
		}
		if got != 9 {
			t.Fatalf("Presence = %d, want 9 (b fresh) or 5 (b stale)", got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("node b still counted %v after its last report with ttl %v", timeout, short)
		}
		time.Sleep(short / 6)
	}
	// A stale node that reports again counts again.
	if got := presence(t, n2, "room:stale", "b", 1, time.Hour); got != 6 {
		t.Fatalf("Presence = %d after b came back, want 6", got)
	}
}

func testPresenceInvalid(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	if _, err := b.Presence(ctx, "room:bad", "a", -1, time.Minute); err == nil {
		t.Error("Presence accepted a negative count")
	}
	if _, err := b.Presence(ctx, "room:bad", "a", 1, 0); err == nil {
		t.Error("Presence accepted a zero ttl")
	}
}

// testRecent: a node that has not followed a channel reads its last
// appended messages, framed as subscribers got them, oldest first, at most
// as many as asked for and at most chat.BusHistory, under the channel's epoch.
func testRecent(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	recent := func(b chat.Bus, channel string, limit int) (string, [][]byte) {
		t.Helper()
		e, msgs, err := b.Recent(ctx, channel, limit)
		if err != nil {
			t.Fatalf("Recent(%q, %d): %v", channel, limit, err)
		}
		return e, msgs
	}

	// Nothing appended yet: an epoch (the one Append will number in) and
	// no messages.
	e, msgs := recent(n2, "room:r", 10)
	if e == "" || len(msgs) != 0 {
		t.Fatalf("Recent before any Append = %q, %q", e, msgs)
	}
	total := chat.BusHistory + 5
	for i := 1; i <= total; i++ {
		appendMsg(t, ctx, n1, "room:r", []byte("m"+strconv.Itoa(i)))
	}
	check := func(msgs [][]byte, first, last int) {
		t.Helper()
		if len(msgs) != last-first+1 {
			t.Fatalf("got %d messages, want %d (%d to %d)", len(msgs), last-first+1, first, last)
		}
		for i, m := range msgs {
			n := first + i
			if want := chat.Frame(uint64(n), []byte("m"+strconv.Itoa(n))); !bytes.Equal(m, want) {
				t.Fatalf("message %d = %q, want %q", i, m, want)
			}
		}
	}
	for _, b := range []chat.Bus{n1, n2} {
		got, msgs := recent(b, "room:r", 3)
		if got != e {
			t.Fatalf("Recent named epoch %q, want %q", got, e)
		}
		check(msgs, total-2, total)
		_, msgs = recent(b, "room:r", total)
		check(msgs, total-chat.BusHistory+1, total)
	}
	// Other channels keep their own.
	if _, msgs := recent(n2, "room:other", 10); len(msgs) != 0 {
		t.Fatalf("another channel's history = %q", msgs)
	}
	// Unnumbered messages are not history.
	if err := n1.Publish(ctx, "room:r", []byte("reactions")); err != nil {
		t.Fatal(err)
	}
	_, msgs = recent(n2, "room:r", 1)
	check(msgs, total, total)
}
