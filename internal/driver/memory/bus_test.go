package memory

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/chat/bustest"
)

func TestBusContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) (chat.Bus, chat.Bus) {
		b := NewBus()
		t.Cleanup(func() { _ = b.Close() })
		// One process is one node: the second node is the same bus.
		return b, b
	})
}

func TestSlowSubscriberDropsInsteadOfBlocking(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b := NewBus()
	defer b.Close()

	slow, err := b.Subscribe(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := b.Subscribe(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}

	const extra = 100
	const n = subscriptionBuffer + extra
	// The fast subscriber reads each message before the next is published,
	// so only the slow one can overflow. If it blocked the publisher, or the
	// fast subscriber behind it, the deadline below would fire.
	done := make(chan error, 1)
	go func() {
		for i := range n {
			want := strconv.Itoa(i)
			if err := b.Publish(ctx, "room", []byte(want)); err != nil {
				done <- err
				return
			}
			if m, ok := <-fast.C(); !ok || string(m) != want {
				done <- fmt.Errorf("fast subscriber got %q (open %v), want %s", m, ok, want)
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("publisher or fast subscriber blocked by a slow subscriber")
	}

	if got := b.Dropped(); got != extra {
		t.Errorf("Dropped() = %d, want %d", got, extra)
	}
	// The slow subscriber keeps the oldest messages, in order.
	for i := range subscriptionBuffer {
		if m := <-slow.C(); string(m) != strconv.Itoa(i) {
			t.Fatalf("slow subscriber: got %q, want %d", m, i)
		}
	}
}

// TestIdleHistoryIsForgotten: a channel's history goes a day after its last
// message (its numbering stays), and one appended to again starts a new
// history that Recent reads in order.
func TestIdleHistoryIsForgotten(t *testing.T) {
	ctx := context.Background()
	b := NewBus()
	for i := range 3 {
		if _, _, err := b.Append(ctx, "room:idle", []byte{'a' + byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	b.seqMu.Lock()
	b.forgetIdleLocked(time.Now().Add(historyTTL + time.Minute))
	b.seqMu.Unlock()
	if _, msgs, err := b.Recent(ctx, "room:idle", 10); err != nil || len(msgs) != 0 {
		t.Fatalf("Recent after a day idle = %q, %v; want nothing", msgs, err)
	}
	seq, _, err := b.Append(ctx, "room:idle", []byte("d"))
	if err != nil || seq != 4 {
		t.Fatalf("Append = %d, %v; want 4: the numbering stays", seq, err)
	}
	if _, msgs, err := b.Recent(ctx, "room:idle", 10); err != nil || len(msgs) != 1 || string(msgs[0]) != "4 d" {
		t.Fatalf("Recent = %q, %v; want only 4 d", msgs, err)
	}
	// A fresh channel sweeps, a busy one keeps its history.
	if _, err := b.Epoch(ctx, "room:new"); err != nil {
		t.Fatal(err)
	}
	if _, msgs, _ := b.Recent(ctx, "room:idle", 10); len(msgs) != 1 {
		t.Fatalf("a channel appended to just now lost its history: %q", msgs)
	}
}
