package chat_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// Commerce and state events have their own lane: in a room whose chat tick
// is an hour (as a big room's is long), a pin and a stock change reach
// every viewer at once, with the chat gathered before them, while the chat
// numbered after them waits for the next tick. Nothing is shed: every line
// and every state event arrives, in sequence, in both protocol versions.
//
// Determinism: no wall-clock figure is asserted. Without the lane the pin
// (unless the room's first tick, 20 ms after it opened, comes late enough)
// and the stock change wait an hour for the tick, and the reads below fail
// after 5 s; the chat sent after the pin is sent only once the pin arrived.
func TestCommerceLaneDoesNotWaitForTheChatTick(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withTick(time.Hour))
	v2c, welcome := w.joinQuery("viewer", "?v=2")
	if welcome["type"] != "welcome" {
		t.Fatalf("first frame %v", welcome)
	}
	base := uint64(num(welcome, "seq"))
	v1, _ := w.join("member")
	host, _ := w.join("host")
	talkers := w.joinUsers("talker", 3)
	// A chat storm waits for the tick; the pin after it ends the tick.
	chatRound(talkers, "before")
	w.waitForSeq(base + 9)
	host.send(map[string]any{"type": "pin", "offer_id": w.offer})
	b := &batchReader{c: v2c}
	pin := b.until(t, func(f map[string]any) bool { return f["type"] == "pin" })
	pinSeq := seqOf(pin)
	if got := b.count("chat"); got != 9 {
		t.Fatalf("the pin came with %d of the 9 lines numbered before it", got)
	}
	if b.seq != pinSeq {
		t.Fatalf("the pin's batch ends at seq %d, the pin is %d", b.seq, pinSeq)
	}

	// Chat after the pin queues behind it; a stock change (a reservation)
	// ends the next tick, and takes it along.
	stockCarriesTheChat(t, w, b, v1, talkers, pinSeq)
}

// chatRound has each talker send three lines named after round ("before
// 0.0" …): nine lines for three talkers.
func chatRound(talkers []*client, round string) {
	for i, c := range talkers {
		for j := range 3 {
			c.send(map[string]any{"type": "chat", "text": fmt.Sprintf("%s %d.%d", round, i, j)})
		}
	}
}
