package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/chat/bustest"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// open connects to url and closes the client when the test ends.
func open(t *testing.T, url string) goredis.UniversalClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// newBus returns a bus on its own client, closed when the test ends.
func newBus(t *testing.T, url, prefix string) *Bus {
	t.Helper()
	b := NewBus(open(t, url), prefix)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestBusContract(t *testing.T) {
	bustest.Run(t, func(t *testing.T) (chat.Bus, chat.Bus) {
		url, prefix := testinfra.Redis(t)
		// Two clients, two connection pools: as close to two nodes as one
		// process gets.
		return newBus(t, url, prefix), newBus(t, url, prefix)
	})
}

func TestPrefixesIsolate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, prefix := testinfra.Redis(t)
	a := newBus(t, url, prefix+"a:")
	b := newBus(t, url, prefix+"b:")

	subA, err := a.Subscribe(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	subB, err := b.Subscribe(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}
	defer subB.Close()

	if err := a.Publish(ctx, "room", []byte("for a")); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "room", []byte("for b")); err != nil {
		t.Fatal(err)
	}
	for want, sub := range map[string]<-chan []byte{"for a": subA.C(), "for b": subB.C()} {
		select {
		case m := <-sub:
			if string(m) != want {
				t.Errorf("got %q, want %q", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q within 5s", want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, "http://example.com"); err == nil {
		t.Error("Open accepted a non-redis URL")
	}
	// Port 1 on loopback refuses at once.
	_, err := Open(ctx, "redis://127.0.0.1:1/0?max_retries=-1")
	if err == nil {
		t.Fatal("Open succeeded without a server")
	}
	if !strings.HasPrefix(err.Error(), "redis: ping") {
		t.Errorf("error %q does not say what failed", err)
	}
}

func TestSlowSubscriberDropsInsteadOfBlocking(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, prefix := testinfra.Redis(t)
	b := newBus(t, url, prefix)

	slow, err := b.Subscribe(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fast, err := b.Subscribe(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()

	const extra = 100
	const n = subscriptionBuffer + extra
	for i := range n {
		if err := b.Publish(ctx, "room", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		// Reading each message before publishing the next keeps the fast
		// subscriber from overflowing; if the slow one stalled the shared
		// path, this would time out.
		select {
		case m := <-fast.C():
			if string(m) != strconv.Itoa(i) {
				t.Fatalf("fast subscriber: got %q, want %d", m, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("fast subscriber stalled at message %d", i)
		}
	}

	// The slow subscriber's forwarder drops asynchronously; wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for b.Dropped() < extra && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := b.Dropped(); got != extra {
		t.Fatalf("Dropped() = %d, want %d", got, extra)
	}
	// It keeps the oldest messages, in order.
	for i := range subscriptionBuffer {
		if m := <-slow.C(); string(m) != strconv.Itoa(i) {
			t.Fatalf("slow subscriber: got %q, want %d", m, i)
		}
	}
}

func TestSubscriptionSurvivesRedisRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url, restart := testinfra.RedisServer(t)
	b := newBus(t, url, testinfra.UniqueName("pavtest:")+":")

	sub, err := b.Subscribe(ctx, "room")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Publishes until one message with the given tag arrives. Messages
	// published while the subscription is reconnecting are lost by design,
	// hence the retries.
	deliver := func(tag string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			// Errors are expected while the publisher's pool reconnects.
			_ = b.Publish(ctx, "room", []byte(tag+":"+strconv.Itoa(i)))
			for wait := true; wait; {
				select {
				case m, ok := <-sub.C():
					if !ok {
						t.Fatalf("subscription ended while waiting for %s", tag)
					}
					if strings.HasPrefix(string(m), tag+":") {
						return
					}
				case <-tick.C:
					wait = false
				case <-deadline:
					t.Fatalf("no %s message within 20s", tag)
				}
			}
		}
	}

	deliver("before")
	before := runID(t, ctx, b.client)
	restart()
	if runID(t, ctx, b.client) == before {
		t.Fatal("restart did not replace the server")
	}
	deliver("after")

	if err := b.Ping(ctx); err != nil {
		t.Errorf("Ping after restart: %v", err)
	}
}

// runID identifies one run of a Redis server process.
func runID(t *testing.T, ctx context.Context, client goredis.UniversalClient) string {
	t.Helper()
	var (
		info string
		err  error
	)
	// The first command after a restart may meet a dead pooled connection.
	for range 5 {
		if info, err = client.Info(ctx, "server").Result(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("INFO server: %v", err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if id, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return id
		}
	}
	t.Fatal("INFO server has no run_id")
	return ""
}

// retry runs f until it succeeds: the first commands after a Redis restart
// may meet dead pooled connections.
func retry[T any](t *testing.T, what string, f func() (T, error)) T {
	t.Helper()
	var (
		v   T
		err error
	)
	for range 20 {
		if v, err = f(); err == nil {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
	return v
}

func TestNumberingRestartsWithNewEpochAfterRedisRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url, restart := testinfra.RedisServer(t)
	b := newBus(t, url, testinfra.UniqueName("pavtest:")+":")

	// room:a is first asked for its epoch after the restart, room:b first
	// appended to: either way the new numbering gets a new epoch.
	epochs := map[string]string{}
	for _, ch := range []string{"room:a", "room:b"} {
		e, err := b.Epoch(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		epochs[ch] = e
		for want := uint64(1); want <= 3; want++ {
			if seq, _, err := b.Append(ctx, ch, []byte("before")); err != nil || seq != want {
				t.Fatalf("Append(%s) = %d, %v; want %d", ch, seq, err, want)
			}
		}
	}

	before := runID(t, ctx, b.client)
	restart()
	if runID(t, ctx, b.client) == before {
		t.Fatal("restart did not replace the server")
	}

	ea := retry(t, "Epoch(room:a)", func() (string, error) { return b.Epoch(ctx, "room:a") })
	if ea == epochs["room:a"] {
		t.Errorf("room:a kept epoch %q across a restart", ea)
	}
	type numbered struct {
		seq   uint64
		epoch string
	}
	appendAfter := func(ch string) numbered {
		return retry(t, "Append("+ch+")", func() (numbered, error) {
			seq, epoch, err := b.Append(ctx, ch, []byte("after"))
			return numbered{seq, epoch}, err
		})
	}
	if n := appendAfter("room:a"); n.seq != 1 || n.epoch != ea {
		t.Errorf("first Append(room:a) after restart = %d in %q, want 1 in %q", n.seq, n.epoch, ea)
	}
	nb := appendAfter("room:b")
	eb := retry(t, "Epoch(room:b)", func() (string, error) { return b.Epoch(ctx, "room:b") })
	if nb.seq != 1 || nb.epoch != eb {
		t.Errorf("first Append(room:b) after restart = %d in %q, want 1 in %q", nb.seq, nb.epoch, eb)
	}
	if eb == epochs["room:b"] {
		t.Errorf("room:b kept epoch %q across a restart", eb)
	}
	if again, err := b.Epoch(ctx, "room:a"); err != nil || again != ea {
		t.Errorf("Epoch(room:a) = %q, %v; want %q again", again, err, ea)
	}
}

func TestLostKeyStartsNewNumbering(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, prefix := testinfra.Redis(t)
	b := newBus(t, url, prefix)

	// The keys of one channel share a hash tag, so a cluster puts them in
	// one slot, as the script needs.
	seqKey, epochKey := prefix+"seq:{room}", prefix+"epoch:{room}"
	for _, lose := range []string{seqKey, epochKey} {
		e1, err := b.Epoch(ctx, "room")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := b.client.Exists(ctx, seqKey, epochKey).Result(); err != nil || n != 2 {
			t.Fatalf("EXISTS %s %s = %d, %v; want 2", seqKey, epochKey, n, err)
		}
		for want := uint64(1); want <= 2; want++ {
			if seq, _, err := b.Append(ctx, "room", nil); err != nil || seq != want {
				t.Fatalf("Append = %d, %v; want %d", seq, err, want)
			}
		}
		// As an eviction might: one key goes, the other stays.
		if err := b.client.Del(ctx, lose).Err(); err != nil {
			t.Fatal(err)
		}
		if seq, _, err := b.Append(ctx, "room", nil); err != nil || seq != 1 {
			t.Fatalf("Append after losing %s = %d, %v; want 1", lose, seq, err)
		}
		if e2, err := b.Epoch(ctx, "room"); err != nil || e2 == e1 {
			t.Fatalf("Epoch after losing %s = %q, %v; want a new one (old %q)", lose, e2, err, e1)
		}
		if err := b.client.Del(ctx, seqKey, epochKey).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestIdlePresenceKeyExpires(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, prefix := testinfra.Redis(t)
	b := newBus(t, url, prefix)

	key := prefix + "presence:{room}"
	if _, err := b.Presence(ctx, "room", "a", 3, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// A slow machine may find the key gone already (PTTL -2), but never
	// without an expiry (-1) or with a longer one.
	pttl, err := b.client.PTTL(ctx, key).Result()
	if err != nil || pttl == -1 || pttl > 200*time.Millisecond {
		t.Fatalf("PTTL %s = %v, %v; want at most twice the ttl", key, pttl, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := b.client.Exists(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists 10s after the last report", key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRecentNeverMixesNumberings: a history whose numbering was lost (a key
// evicted, a Redis that restarted without its data) is not taken for the
// new numbering's, whether the new one has begun appending or not.
func TestRecentNeverMixesNumberings(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, prefix := testinfra.Redis(t)
	b := newBus(t, url, prefix)
	for _, m := range []string{"a", "b", "c"} {
		if _, _, err := b.Append(ctx, "room", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	e1, msgs, err := b.Recent(ctx, "room", 10)
	if err != nil || len(msgs) != 3 || string(msgs[2]) != "3 c" {
		t.Fatalf("Recent = %q, %q, %v; want 3 messages ending with 3 c", e1, msgs, err)
	}
	if ttl, err := b.client.PTTL(ctx, prefix+"hist:{room}").Result(); err != nil || ttl <= 0 || ttl > historyTTL {
		t.Fatalf("the history's lifetime = %v, %v; want at most %v", ttl, err, historyTTL)
	}

	if err := b.client.Del(ctx, prefix+"seq:{room}").Err(); err != nil {
		t.Fatal(err)
	}
	e2, msgs, err := b.Recent(ctx, "room", 10)
	if err != nil || e2 == e1 || len(msgs) != 0 {
		t.Fatalf("Recent after losing the numbering = %q, %q, %v; want a new epoch and nothing", e2, msgs, err)
	}
	if seq, _, err := b.Append(ctx, "room", []byte("new")); err != nil || seq != 1 {
		t.Fatalf("Append = %d, %v; want 1", seq, err)
	}
	if _, msgs, err := b.Recent(ctx, "room", 10); err != nil || len(msgs) != 1 || string(msgs[0]) != "1 new" {
		t.Fatalf("Recent in the new numbering = %q, %v; want only 1 new", msgs, err)
	}

	// A history cut short (as if entries were lost) keeps only its tail that
	// reaches the last number without a hole.
	for _, m := range []string{"x", "y"} {
		if _, _, err := b.Append(ctx, "room", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.client.LSet(ctx, prefix+"hist:{room}", 1, "9 stray").Err(); err != nil {
		t.Fatal(err)
	}
	if _, msgs, err := b.Recent(ctx, "room", 10); err != nil || len(msgs) != 1 || string(msgs[0]) != "3 y" {
		t.Fatalf("Recent over a holed history = %q, %v; want only 3 y", msgs, err)
	}
}
