// Package bustest is the contract test suite for chat.Bus. Every
// implementation runs the same suite so the embedded and cluster modes behave
// alike.
package bustest

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/chat"
)

// timeout bounds every wait. It is a deadline against hangs, never a speed
// requirement.
const timeout = 5 * time.Second

// Factory returns two buses that share one backend, as two nodes of a cluster
// would: what one publishes, the other's subscribers receive. Each call must
// return a backend no other call sees, and register cleanups on t. An
// implementation with only one node (the in-process bus) may return the same
// bus twice.
type Factory func(t *testing.T) (node1, node2 chat.Bus)

// Run runs the contract suite, calling newPair once per subtest.
func Run(t *testing.T, newPair Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newPair Factory)
	}{
		{"PublishSubscribeInOrder", testInOrder},
		{"MultipleSubscribers", testMultipleSubscribers},
		{"ChannelsIsolated", testChannelsIsolated},
		{"NoEarlierMessages", testNoEarlierMessages},
		{"SubscriptionCloseIdempotent", testSubscriptionClose},
		{"ContextCancelEndsSubscription", testContextCancel},
		{"SubscribeWithDoneContext", testSubscribeDoneContext},
		{"BusCloseEndsSubscriptions", testBusClose},
		{"CrossNode", testCrossNode},
		{"ConcurrentPublishers", testConcurrentPublishers},
		{"PublisherMayReuseBuffer", testReuseBuffer},
		{"Ping", testPing},
		{"LargeAndEmptyMessages", testSizes},
		{"AppendNumbersInOrder", testAppendInOrder},
		{"ConcurrentAppendsInSequenceOrder", testConcurrentAppends},
		{"AppendSequencePerChannel", testAppendPerChannel},
		{"Epoch", testEpoch},
		{"Recent", testRecent},
		{"PresenceSumsNodes", testPresenceSum},
		{"PresenceDropsStaleNodes", testPresenceStale},
		{"PresenceRejectsInvalid", testPresenceInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newPair) })
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 4*timeout)
	t.Cleanup(cancel)
	return ctx
}

func subscribe(t *testing.T, ctx context.Context, b chat.Bus, channel string) chat.Subscription {
	t.Helper()
	sub, err := b.Subscribe(ctx, channel)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", channel, err)
	}
	t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func publish(t *testing.T, ctx context.Context, b chat.Bus, channel string, msg []byte) {
	t.Helper()
	if err := b.Publish(ctx, channel, msg); err != nil {
		t.Fatalf("Publish(%q): %v", channel, err)
	}
}

// next waits for the next message on sub.
func next(t *testing.T, sub chat.Subscription) []byte {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if !ok {
			t.Fatal("subscription closed while waiting for a message")
		}
		return m
	case <-time.After(timeout):
		t.Fatalf("no message within %v", timeout)
		return nil
	}
}

// expect waits for the next message on sub and checks it equals want.
func expect(t *testing.T, sub chat.Subscription, want string) {
	t.Helper()
	if got := next(t, sub); string(got) != want {
		t.Fatalf("got message %q, want %q", got, want)
	}
}

// waitClosed drains sub until its channel is closed.
func waitClosed(t *testing.T, sub chat.Subscription) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-sub.C():
			if !ok {
				return
			}
		case <-deadline:
			t.Fatalf("C() not closed within %v", timeout)
		}
	}
}

func testInOrder(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	sub := subscribe(t, ctx, b, "room:1")
	const n = 200
	for i := range n {
		publish(t, ctx, b, "room:1", []byte("m"+strconv.Itoa(i)))
	}
	for i := range n {
		expect(t, sub, "m"+strconv.Itoa(i))
	}
}

func testMultipleSubscribers(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	subs := make([]chat.Subscription, 3)
	for i := range subs {
		subs[i] = subscribe(t, ctx, b, "room:multi")
	}
	const n = 50
	for i := range n {
		publish(t, ctx, b, "room:multi", []byte("m"+strconv.Itoa(i)))
	}
	for _, sub := range subs {
		for i := range n {
			expect(t, sub, "m"+strconv.Itoa(i))
		}
	}
}

func testChannelsIsolated(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	// Names that share a prefix must still be distinct channels.
	a := subscribe(t, ctx, b, "room:a")
	ax := subscribe(t, ctx, b, "room:a:x")

	publish(t, ctx, b, "room:a", []byte("for a"))
	publish(t, ctx, b, "room:a:x", []byte("for a:x"))
	publish(t, ctx, b, "room:a", []byte("a done"))
	publish(t, ctx, b, "room:unwatched", []byte("nobody"))
	publish(t, ctx, b, "room:a:x", []byte("a:x done"))

	expect(t, a, "for a")
	expect(t, a, "a done")
	expect(t, ax, "for a:x")
	expect(t, ax, "a:x done")

	// Everything published has been delivered by now (per-channel order), so
	// anything still queued crossed channels.
	for name, sub := range map[string]chat.Subscription{"room:a": a, "room:a:x": ax} {
		select {
		case m := <-sub.C():
			t.Errorf("%s got stray message %q", name, m)
		default:
		}
	}
}

func testNoEarlierMessages(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	// Publish has handed these to every current subscriber (there are none)
	// by the time it returns, so none of them may reach the late subscriber.
	for i := range 10 {
		publish(t, ctx, b, "room:late", []byte("before"+strconv.Itoa(i)))
	}
	sub := subscribe(t, ctx, b, "room:late")
	publish(t, ctx, b, "room:late", []byte("after"))
	expect(t, sub, "after")
}

func testSubscriptionClose(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	sub := subscribe(t, ctx, b, "room:close")
	other := subscribe(t, ctx, b, "room:close")

	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, sub)
	if err := sub.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// The bus and the channel's other subscribers carry on.
	publish(t, ctx, b, "room:close", []byte("still here"))
	expect(t, other, "still here")
}

func testContextCancel(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	subCtx, cancel := context.WithCancel(ctx)
	sub := subscribe(t, subCtx, b, "room:ctx")
	other := subscribe(t, ctx, b, "room:ctx")

	publish(t, ctx, b, "room:ctx", []byte("one"))
	expect(t, sub, "one")
	cancel()
	waitClosed(t, sub)
	if err := sub.Close(); err != nil {
		t.Fatalf("Close after cancel: %v", err)
	}

	publish(t, ctx, b, "room:ctx", []byte("two"))
	expect(t, other, "one")
	expect(t, other, "two")
}

func testSubscribeDoneContext(t *testing.T, newPair Factory) {
	b, _ := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sub, err := b.Subscribe(ctx, "room:done")
	if err == nil {
		_ = sub.Close()
		t.Fatal("Subscribe with a done context succeeded")
	}
}

func testBusClose(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	sub := subscribe(t, ctx, b, "room:busclose")
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitClosed(t, sub)
	if err := sub.Close(); err != nil {
		t.Fatalf("subscription Close after bus Close: %v", err)
	}
	if err := b.Publish(ctx, "room:busclose", []byte("x")); err == nil {
		t.Error("Publish after Close succeeded")
	}
	if s, err := b.Subscribe(ctx, "room:busclose"); err == nil {
		_ = s.Close()
		t.Error("Subscribe after Close succeeded")
	}
	if _, _, err := b.Append(ctx, "room:busclose", []byte("x")); err == nil {
		t.Error("Append after Close succeeded")
	}
	if _, err := b.Epoch(ctx, "room:busclose"); err == nil {
		t.Error("Epoch after Close succeeded")
	}
	if _, err := b.Presence(ctx, "room:busclose", "node", 1, time.Minute); err == nil {
		t.Error("Presence after Close succeeded")
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func testCrossNode(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	sub1 := subscribe(t, ctx, n1, "room:cross")
	sub2 := subscribe(t, ctx, n2, "room:cross")

	publish(t, ctx, n1, "room:cross", []byte("from 1"))
	expect(t, sub1, "from 1")
	expect(t, sub2, "from 1")

	publish(t, ctx, n2, "room:cross", []byte("from 2"))
	expect(t, sub1, "from 2")
	expect(t, sub2, "from 2")
}

func testConcurrentPublishers(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	sub := subscribe(t, ctx, n1, "room:race")

	// Few enough that no implementation's buffer fills: at-most-once delivery
	// is allowed to drop only for a subscriber that falls behind.
	const publishers, each = 8, 50
	errs := make(chan error, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := n1
			if p%2 == 1 {
				b = n2
			}
			for i := range each {
				if err := b.Publish(ctx, "room:race", fmt.Appendf(nil, "%d/%d", p, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Publish: %v", err)
	}

	// Order holds per publisher, not across them.
	nextSeq := make([]int, publishers)
	for range publishers * each {
		m := string(next(t, sub))
		ps, is, ok := strings.Cut(m, "/")
		p, err1 := strconv.Atoi(ps)
		i, err2 := strconv.Atoi(is)
		if !ok || err1 != nil || err2 != nil || p < 0 || p >= publishers {
			t.Fatalf("malformed message %q", m)
		}
		if i != nextSeq[p] {
			t.Fatalf("publisher %d: got message %d, want %d", p, i, nextSeq[p])
		}
		nextSeq[p]++
	}
}

func testReuseBuffer(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	b, _ := newPair(t)
	sub := subscribe(t, ctx, b, "room:reuse")
	buf := []byte("first")
	publish(t, ctx, b, "room:reuse", buf)
	copy(buf, "XXXXX")
	publish(t, ctx, b, "room:reuse", buf)
	expect(t, sub, "first")
	expect(t, sub, "XXXXX")
}

func testPing(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	for _, b := range []chat.Bus{n1, n2} {
		if err := b.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
}

func testSizes(t *testing.T, newPair Factory) {
	ctx := testCtx(t)
	n1, n2 := newPair(t)
	sub := subscribe(t, ctx, n2, "room:big")

	big := make([]byte, 64<<10)
	_, _ = rand.Read(big) // arbitrary bytes, including NUL and invalid UTF-8
	publish(t, ctx, n1, "room:big", big)
	publish(t, ctx, n1, "room:big", []byte{})
	publish(t, ctx, n1, "room:big", []byte("end"))

	if got := next(t, sub); !bytes.Equal(got, big) {
		t.Fatalf("64 KiB message changed in transit: got %d bytes", len(got))
	}
	if got := next(t, sub); len(got) != 0 {
		t.Fatalf("empty message arrived as %d bytes", len(got))
	}
	expect(t, sub, "end")
}
