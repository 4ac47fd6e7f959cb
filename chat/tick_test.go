package chat_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// batchEvents reads a v2 connection's frames until match accepts an event
// of a batch (or a frame that is not a batch), and returns every event read
// on the way, the batches' skipped counts and their last seq.
type batchReader struct {
	c       *client
	events  []map[string]any
	skipped int
	seq     uint64 // the last batch's seq
	batches int
}

func (b *batchReader) until(t *testing.T, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for {
		// wait bounds each frame, not the whole read: a reader with a
		// backlog to go through is not stuck while frames keep coming.
		f, _, err := b.c.read(wait)
		if err != nil {
			t.Fatalf("v2 reader: %v (after %d batches, %d events, seq %d)", err, b.batches, len(b.events), b.seq)
		}
		if f["type"] != "batch" {
			if match(f) {
				return f
			}
			continue
		}
		b.batches++
		b.skipped += int(num(f, "skipped"))
		if s := uint64(num(f, "seq")); s != 0 {
			if s < b.seq {
				t.Fatalf("batch seq went back from %d to %d", b.seq, s)
			}
			b.seq = s
		}
		evs, _ := f["events"].([]any)
		var hit map[string]any
		for _, e := range evs {
			ev := e.(map[string]any)
			if s := seqOf(ev); s != 0 && s > b.seq {
				t.Fatalf("event seq %d above its batch's %d", s, b.seq)
			}
			b.events = append(b.events, ev)
			if hit == nil && match(ev) {
				hit = ev
			}
		}
		if hit != nil {
			return hit
		}
	}
}

// joinUsers makes n users, prefix-0 to prefix-(n-1), and joins each to the
// room (welcome read): the chatters of the tick and lane tests.
func (w *world) joinUsers(prefix string, n int) []*client {
	cs := make([]*client, 0, n)
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		w.addUser(name)
		c, _ := w.join(name)
		cs = append(cs, c)
	}
	return cs
}

func (b *batchReader) count(typ string) int {
	n := 0
	for _, e := range b.events {
		if e["type"] == typ {
			n++
		}
	}
	return n
}

// A v2 viewer gets the room's events in batch frames: the same events, in
// the same order, as a v1 viewer gets one frame each, with fewer frames than
// events when chat comes fast; a resume replays in one batch, then resumed.
func TestBatchFramesCarryTheRoomInSequence(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	old, _ := w.join("member")
	v2c, welcome := w.joinQuery("viewer", "?v=2")
	if welcome["type"] != "welcome" {
		t.Fatalf("first frame %v", welcome)
	}
	host, _ := w.join("host")
	const n = 10 // the rate limit's burst
	for i := range n {
		host.send(map[string]any{"type": "chat", "text": fmt.Sprintf("line %d", i)})
	}
	host.send(map[string]any{"type": "pin", "offer_id": w.offer})

	var want []uint64
	for len(want) < n+1 {
		f, _, err := old.read(wait)
		if err != nil {
			t.Fatal(err)
		}
		if f["type"] == "chat" || f["type"] == "pin" {
			want = append(want, seqOf(f))
		}
	}
	b := &batchReader{c: v2c}
	b.until(t, func(f map[string]any) bool { return f["type"] == "pin" })
	var got []uint64
	for _, e := range b.events {
		if e["type"] == "chat" || e["type"] == "pin" {
			got = append(got, seqOf(e))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("v2 events %v, v1 frames %v", got, want)
	}
	if b.batches >= len(got) {
		t.Errorf("%d events came in %d batches: nothing was batched", len(got), b.batches)
	}
	if b.seq != want[len(want)-1] || b.skipped != 0 {
		t.Fatalf("last batch seq %d skipped %d; want %d, 0", b.seq, b.skipped, want[len(want)-1])
	}

	// Resume after the third event: one batch of the rest, then resumed.
	back, _, err := w.dial("viewer", fmt.Sprintf("?v=2&epoch=%s&after=%d", welcome["epoch"], want[2]))
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := back.read(wait)
	if err != nil || f["type"] != "batch" {
		t.Fatalf("first frame of a v2 resume: %v %v", f, err)
	}
	var replayed []uint64
	for _, e := range f["events"].([]any) {
		replayed = append(replayed, seqOf(e.(map[string]any)))
	}
	if fmt.Sprint(replayed) != fmt.Sprint(want[3:]) {
		t.Fatalf("replayed %v, want %v", replayed, want[3:])
	}
	if r := back.next("resumed"); num(r, "replayed") != float64(len(want)-3) {
		t.Fatalf("resumed = %v", r)
	}
}

// Past the big-room size, every viewer gets at most the cap's chat lines a
// second, the newest; the staff's lines always; the rest are counted in
// skipped, so chat received + skipped is every line sent, and a v1 viewer
// sees the same lines (the others as seq gaps).
func TestBigRoomCapsChatButNotStaffNorState(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withBigRoom(2, 1))
	v1, _ := w.join("")
	v2c, _ := w.joinQuery("", "?v=2")
	host, _ := w.join("host")
	chatters := w.joinUsers("talker", 4)
	const each = 10
	var wg sync.WaitGroup
	for _, c := range chatters {
		wg.Go(func() {
			for i := range each {
				if err := c.ws.WriteJSON(map[string]any{"type": "chat", "text": fmt.Sprintf("crowd %d", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	host.send(map[string]any{"type": "chat", "text": "from the host"})
	w.waitForSeq(uint64(len(chatters)*each + 1))
	host.send(map[string]any{"type": "pin", "offer_id": w.offer})
	pin := seqOf(host.next("pin"))

	b := &batchReader{c: v2c}
	b.until(t, func(f map[string]any) bool { return f["type"] == "pin" })
	var hostLines, crowd int
	for _, e := range b.events {
		if e["type"] != "chat" {
			continue
		}
		if e["staff"] == true {
			hostLines++
		} else {
			crowd++
		}
	}
	sent := len(chatters)*each + 1
	if hostLines != 1 {
		t.Fatalf("the host's line reached the v2 viewer %d times, want 1", hostLines)
	}
	if crowd+hostLines+b.skipped != sent {
		t.Fatalf("chat %d + skipped %d != %d sent", crowd+hostLines, b.skipped, sent)
	}
	if crowd >= len(chatters)*each || b.skipped == 0 {
		t.Fatalf("the cap left out nothing: %d of %d crowd lines, skipped %d", crowd, len(chatters)*each, b.skipped)
	}
	// The v1 viewer got the same lines, and the pin.
	var v1chat int
	for {
		f, _, err := v1.read(wait)
		if err != nil {
			t.Fatal(err)
		}
		if f["type"] == "chat" {
			v1chat++
		}
		if f["type"] == "pin" && seqOf(f) == pin {
			break
		}
	}
	if v1chat != crowd+hostLines {
		t.Fatalf("v1 viewer got %d lines, v2 %d", v1chat, crowd+hostLines)
	}
}

// A v2 viewer who stops reading while chat floods keeps every state event
// and its own results, and what it misses of the chat is exactly what its
// batches count as skipped: nothing is lost without a count.
//
// Determinism: the count is exact however slow the machine, because every
// chat line the room numbered reaches the viewer or is counted (lines shed
// as too late included); the server waits a minute, not 10 s, for the
// socket that does not read, and the host reads in the background, so a
// flood that takes long to number drops nobody.
func TestSlowV2ReaderCountsWhatItSkips(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withSmallSendBuffers(), withWriteWait(time.Minute))
	host, _ := w.join("host")
	host.background()
	const chatters, each = 60, 10
	cs := w.joinUsers("flood", chatters)
	slow := w.dialSlowQuery("viewer", "?v=2")
	f, _, err := slow.read(wait)
	if err != nil || f["type"] != "welcome" {
		t.Fatalf("welcome: %v %v", f, err)
	}
	base := uint64(num(f, "seq"))
	text := strings.Repeat("€", 500) // 1500 bytes
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			for range each {
				if err := c.ws.WriteJSON(map[string]any{"type": "chat", "text": text}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	w.waitForSeq(base + chatters*each)
	time.Sleep(300 * time.Millisecond) // older than chatLag: the waiting ticks go lean
	slow.send(map[string]any{"type": "reserve", "id": "during", "offer_id": w.offer})
	host.send(map[string]any{"type": "pin", "offer_id": w.offer}) // the test's only pin: the marker

	slow.unthrottle()
	b := &batchReader{c: slow}
	var reserved, pinned, stock bool
	b.until(t, func(f map[string]any) bool {
		switch {
		case f["type"] == "reservation":
			reserved = true
		case f["type"] == "pin":
			pinned = true
		case f["type"] == "stock":
			stock = true
		}
		return reserved && pinned && stock
	})
	chat := b.count("chat")
	sent := chatters * each
	if chat+b.skipped != sent {
		t.Fatalf("chat %d + skipped %d = %d, want %d sent", chat, b.skipped, chat+b.skipped, sent)
	}
	if b.skipped == 0 {
		t.Fatalf("the slow reader got all %d messages: nothing was sampled", chat)
	}
	t.Logf("slow v2 reader: %d chat lines, %d skipped, %d batches", chat, b.skipped, b.batches)
}

// Viewers joining while chat flows never get an event twice nor one from
// before their welcome, in either protocol version (the tick a viewer joins
// in may hold events its welcome already counts).
func TestJoinDuringTicksSeesEachEventOnce(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	talkers := w.joinUsers("talker", 4)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range talkers {
		wg.Go(func() {
			tk := time.NewTicker(210 * time.Millisecond) // under the rate limit
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				if c.ws.WriteJSON(map[string]any{"type": "chat", "text": "go"}) != nil {
					return
				}
			}
		})
	}
	type joined struct {
		c    *client
		v2   bool
		from uint64
	}
	var js []joined
	for i := range 16 {
		q := ""
		if i%2 == 1 {
			q = "?v=2"
		}
		c, welcome := w.joinQuery("", q)
		js = append(js, joined{c, q != "", uint64(num(welcome, "seq"))})
		time.Sleep(15 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	host, _ := w.join("host")
	host.send(map[string]any{"type": "pin", "offer_id": w.offer})
	marker := seqOf(host.next("pin"))
	for i, j := range js {
		last := j.from
		check := func(f map[string]any) bool {
			s := seqOf(f)
			if s == 0 {
				return false
			}
			if s <= last {
				t.Fatalf("viewer %d (v2 %v, welcome seq %d): seq %d after %d", i, j.v2, j.from, s, last)
			}
			last = s
			return s == marker
		}
		if j.v2 {
			(&batchReader{c: j.c}).until(t, check)
		} else {
			j.c.until(check, "the marker")
		}
	}
}

// slowEpochBus holds Recent (where a room learns its epoch and history, its
// first bus call after subscribing) until released.
type slowEpochBus struct {
	chat.Bus
	entered chan struct{}
	release chan struct{}
}

func (b *slowEpochBus) Recent(ctx context.Context, channel string, limit int) (string, [][]byte, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.Bus.Recent(ctx, channel, limit)
}

// Opening a room waits for the bus and the store without the hub's lock:
// the rest of the node (other rooms, the tick, order updates) goes on, and
// a second joiner of the same room waits for the first's opening.
func TestOpeningARoomHoldsNoHubLock(t *testing.T) {
	bus := &slowEpochBus{Bus: memory.NewBus(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	w := newWorld(t, bus)
	var once sync.Once
	release := func() { once.Do(func() { close(bus.release) }) }
	t.Cleanup(release) // before the server closes: a failure must not hang it
	joined := make(chan map[string]any, 2)
	for range 2 {
		go func() {
			c, _, err := w.dial("viewer", "")
			if err != nil {
				joined <- map[string]any{"error": err.Error()}
				return
			}
			f, _, err := c.read(wait)
			if err != nil {
				f = map[string]any{"error": err.Error()}
			}
			joined <- f
		}()
	}
	select {
	case <-bus.entered:
	case <-time.After(wait):
		t.Fatal("the room never asked the bus for its epoch")
	}
	done := make(chan struct{})
	go func() {
		w.hub.Rooms() // takes the hub's lock
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("the hub's lock is held while a room opens")
	}
	release()
	for range 2 {
		if f := <-joined; f["type"] != "welcome" {
			t.Fatalf("joiner got %v", f)
		}
	}
	if rooms, conns := w.hub.Rooms(); rooms != 1 || conns != 2 {
		t.Fatalf("rooms %d, conns %d; want one room of 2", rooms, conns)
	}
}

// A viewer who keeps up gets ticks by the room's inline writes; when the
// deadline its writer last set has run out (the room was quiet longer than
// the write wait), the tick still arrives and the socket stays open.
func TestQuietViewerOutlivesTheWriteDeadline(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withWriteWait(200*time.Millisecond))
	host, _ := w.join("host")
	v2c, _ := w.joinQuery("", "?v=2")
	for i := range 3 {
		host.send(map[string]any{"type": "chat", "text": fmt.Sprintf("round %d", i)})
		b := &batchReader{c: v2c}
		b.until(t, func(f map[string]any) bool { return f["type"] == "chat" })
		time.Sleep(400 * time.Millisecond) // past the deadline of the last write
	}
	if _, conns := w.hub.Rooms(); conns != 2 {
		t.Fatalf("%d connections left, want 2", conns)
	}
}
