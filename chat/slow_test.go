package chat_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// A viewer that stops reading while chat floods the room loses chat, never
// its own results nor the room's other events.
//
// Determinism: the server's send buffers and the slow client's receive
// buffer are fixed at a few kilobytes, so the slow client can hold at most
// the half queue of chat plus a few frames in flight; the flood is 800
// messages of ~1.7 kB, far more than that. Nothing depends on how fast the
// machine is: the server waits a minute, not 10 s, for the socket that does
// not read; the host reads in the background; the marker is the test's only
// pin; and waits run out only when nothing more comes.
func TestSlowReaderLosesChatNotItsResults(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withSmallSendBuffers(), withWriteWait(time.Minute))
	host, _ := w.join("host")
	const chatters, each = 80, 10 // each: the rate limit's burst, so none is refused
	// The chatters read nothing more: their own queues shed chat too.
	cs := w.joinUsers("flood", chatters)
	carre := demo.Offers(time.Time{})[1].ID // 50 carrés, two per customer

	slow := w.dialSlow("viewer") // reads nothing until the end
	slow.send(map[string]any{"type": "reserve", "id": "before", "offer_id": w.offer})
	base := seqOf(host.next("stock")) // the reservation's stock event: the last before the flood
	host.background()

	text := strings.Repeat("€", 500) // 1500 bytes, the longest message there is
	var wg sync.WaitGroup
	errs := make(chan error, chatters)
	for _, c := range cs {
		wg.Go(func() {
			for range each {
				if err := c.ws.WriteJSON(map[string]any{"type": "chat", "text": text}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The flood is in the room once a newcomer's snapshot counts it.
	w.waitForSeq(base + chatters*each)
	// A result asked for while the slow client's queue is full of chat.
	slow.send(map[string]any{"type": "reserve", "id": "during", "offer_id": carre, "quantity": 2})
	// And a room event after the flood, which the slow reader must not lose.
	host.send(map[string]any{"type": "pin", "offer_id": carre}) // the test's only pin

	slow.unthrottle()
	var chats int
	got := map[string]map[string]any{}
	var sawMarker bool
	for !sawMarker || got["before"] == nil || got["during"] == nil {
		f, _, err := slow.read(wait)
		if err != nil {
			t.Fatalf("slow reader: %v (after %d chats, results %v)", err, chats, got)
		}
		switch f["type"] {
		case "chat":
			chats++
		case "reservation":
			got[f["id"].(string)] = f
		case "error":
			t.Fatalf("slow reader got %v", f)
		case "pin":
			sawMarker = true
		}
	}
	for id, f := range got {
		if obj(f, "reservation")["state"] != "held" {
			t.Fatalf("%s: %v", id, f)
		}
	}
	if chats >= chatters*each {
		t.Fatalf("the slow reader got all %d messages: the flood did not fill its queue", chats)
	}
	t.Logf("slow reader kept %d of %d chat messages", chats, chatters*each)
}

// A viewer too slow for the room's non-coalescable events is disconnected
// with 4008 and a reason; everyone else carries on, and the viewer can come
// back. The server waits a minute, not 10 s, for a write to the socket that
// does not read: on a loaded machine the flood (each pin is stored) takes
// longer than 10 s, and the write deadline would drop the socket before the
// state events it cannot take do.
func TestTooSlowReaderIsDisconnected(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withSmallSendBuffers(), withWriteWait(time.Minute))
	host, _ := w.join("host")
	bystander, _ := w.join("member")
	watch := bystander.background()
	slow := w.dialSlow("viewer")

	// 1000 pins of ~330 bytes: more than the slow client's queue (256) and
	// a few kilobytes of buffers can hold.
	last := pinFlood(t, w.offer, host, 1000, 50, watch)

	slow.unthrottle()
	var pins int
	var epoch string
	var lastSeen uint64
	var ce *websocket.CloseError
	for {
		f, _, err := slow.read(wait)
		if err != nil {
			if !errors.As(err, &ce) {
				t.Fatalf("slow reader after %d pins: %v; want a close frame", pins, err)
			}
			break
		}
		if f["type"] == "welcome" {
			epoch = f["epoch"].(string)
		}
		if f["type"] == "pin" {
			pins++
		}
		lastSeen = max(lastSeen, seqOf(f))
	}
	if ce.Code != chat.CloseSlow || ce.Text == "" {
		t.Fatalf("closed with %d %q; want %d with a reason", ce.Code, ce.Text, chat.CloseSlow)
	}
	if pins >= 1000 {
		t.Fatalf("the slow reader got all %d pins", pins)
	}
	t.Logf("slow reader got %d of 1000 pins, then %d %q", pins, ce.Code, ce.Text)

	// The bystander saw everything and is still served.
	host.send(map[string]any{"type": "chat", "text": "still here"})
	if !watch.waitFor(func() bool {
		n := len(watch.frames)
		return n > 0 && watch.frames[n-1]["text"] == "still here"
	}) {
		t.Fatalf("bystander: %v", watch.err)
	}
	watch.mu.Lock()
	var seen int
	for _, f := range watch.frames {
		if f["type"] == "pin" {
			seen++
		}
	}
	watch.mu.Unlock()
	if seen != 1000 {
		t.Fatalf("bystander saw %d pins, want 1000", seen)
	}

	// The slow viewer reconnects where it stopped: too far behind for a
	// replay, it gets a fresh snapshot and follows the room again.
	back, _, err := w.dial("viewer", fmt.Sprintf("?epoch=%s&after=%d", epoch, lastSeen))
	if err != nil {
		t.Fatal(err)
	}
	f := back.until(func(f map[string]any) bool { return f["type"] == "welcome" || f["type"] == "resumed" }, "welcome or resumed")
	if f["type"] == "welcome" && (f["reset"] != true || uint64(num(f, "seq")) != last+1) {
		t.Fatalf("welcome = %v", f)
	}
	host.send(map[string]any{"type": "pin"})
	if p := back.next("pin"); seqOf(p) != last+2 {
		t.Fatalf("pin = %v, want seq %d", p, last+2)
	}
}
