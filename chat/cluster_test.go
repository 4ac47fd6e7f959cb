package chat_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/redis"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// presenceWait bounds the wait for viewer counts: nodes report every 2 s,
// and a count needs a report from each node. A bound, not a speed claim.
const presenceWait = 15 * time.Second

// Two hubs over one in-process bus are two nodes of one deployment.
// redisBuses returns a function that opens a Redis bus for one node of a
// test: each call is a connection of its own, all on one key prefix, as
// nodes of one cluster are.
func redisBuses(t *testing.T) func() chat.Bus {
	url, prefix := testinfra.Redis(t)
	return func() chat.Bus {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client, err := redis.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		bus := redis.NewBus(client, prefix)
		t.Cleanup(func() { bus.Close(); client.Close() })
		return bus
	}
}

// memoryBuses hands every node of a test deployment the same in-memory bus.
func memoryBuses() func() chat.Bus {
	bus := memory.NewBus()
	return func() chat.Bus { return bus }
}

// onTwoNodes runs test on two nodes of one deployment, each on a bus from
// open, both started with opts.
func onTwoNodes(t *testing.T, open func() chat.Bus, test func(t *testing.T, a, b *world), opts ...option) {
	a := newWorld(t, open(), opts...)
	test(t, a, a.node(open(), opts...))
}

func TestTwoNodesMemoryBus(t *testing.T) { onTwoNodes(t, memoryBuses(), testTwoNodes) }

// The same over Redis: two buses (two connections) with one prefix.
func TestTwoNodesRedisBus(t *testing.T) { onTwoNodes(t, redisBuses(t), testTwoNodes) }

// The same over a Redis Cluster: the room's channel is a shard channel.
func TestTwoNodesRedisClusterBus(t *testing.T) {
	c := testinfra.StartRedisCluster(t)
	prefix := testinfra.UniqueName("pavtest:") + ":"
	open := func() chat.Bus {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		client, err := redis.Open(ctx, c.URL)
		if err != nil {
			t.Fatal(err)
		}
		bus := redis.NewBus(client, prefix)
		t.Cleanup(func() { bus.Close(); client.Close() })
		return bus
	}
	a := newWorld(t, open())
	b := a.node(open())
	testTwoNodes(t, a, b)
}

func testTwoNodes(t *testing.T, a, b *world) {
	host, _ := a.join("host")
	onA, welcomeA := a.join("viewer")
	onB, welcomeB := b.join("member")
	if welcomeA["epoch"] != welcomeB["epoch"] || welcomeA["epoch"] == "" {
		t.Fatalf("epochs differ: %v and %v", welcomeA["epoch"], welcomeB["epoch"])
	}

	// Chat crosses nodes under one numbering.
	onA.send(map[string]any{"type": "chat", "text": "from A"})
	fa, fb := onA.next("chat"), onB.next("chat")
	if fa["text"] != "from A" || fb["text"] != "from A" || seqOf(fa) != seqOf(fb) || fa["id"] != fb["id"] {
		t.Fatalf("A saw %v, B saw %v", fa, fb)
	}
	first := seqOf(fa)
	onB.send(map[string]any{"type": "chat", "text": "from B"})
	fa, fb = onA.next("chat"), onB.next("chat")
	if fa["text"] != "from B" || seqOf(fa) != seqOf(fb) || seqOf(fa) != first+1 {
		t.Fatalf("A saw %v, B saw %v (after seq %d)", fa, fb, first)
	}

	// Moderation on A holds on B.
	host.send(map[string]any{"type": "moderate", "action": "mute", "user_id": a.userID("member"), "seconds": 3600})
	if ev := onB.next("moderation"); ev["action"] != "mute" {
		t.Fatalf("moderation on B = %v", ev)
	}
	onB.sendRefused(map[string]any{"type": "chat", "id": "muted", "text": "hello?"}, "forbidden", "muted on B")

	// A pin and a sale on B reach A.
	host.send(map[string]any{"type": "pin", "offer_id": a.offer})
	if p := onB.next("pin"); obj(p, "offer")["id"] != a.offer.String() {
		t.Fatalf("pin on B = %v", p)
	}
	onB.send(map[string]any{"type": "reserve", "id": "b1", "offer_id": a.offer})
	onB.next("reservation")
	if f := onA.until(offerEvent("stock", a.offer), "stock from B"); num(f, "available") != 9 {
		t.Fatalf("stock on A = %v", f)
	}

	// A viewer of A resumes on B.
	onA.ws.Close()
	last := seqOf(onB.until(offerEvent("stock", a.offer), "stock"))
	host.send(map[string]any{"type": "chat", "text": "while away"})
	onB.until(func(f map[string]any) bool { return f["text"] == "while away" }, "the missed message")
	back, _, err := b.dial("viewer", fmt.Sprintf("?epoch=%s&after=%d", welcomeA["epoch"], last))
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := back.collect("resumed")
	checkReplay(t, frames, last, 1)

	// Viewer counts add up over both nodes. Six is a total the room has not
	// had before, so both nodes must announce it: on A the host and two
	// anonymous viewers, on B two viewers and an anonymous one.
	a.join("")
	a.join("")
	b.join("")
	for name, c := range map[string]*client{"host on A": host, "viewer on B": onB} {
		deadline := time.Now().Add(presenceWait)
		for {
			f, _, err := c.read(time.Until(deadline))
			if err != nil {
				t.Fatalf("%s: no viewers frame with 6: %v", name, err)
			}
			if f["type"] == "viewers" && num(f, "count") == 6 {
				break
			}
		}
	}
}

// TestNumberingRestartReachesNewViewers: after Redis loses its data the
// room's numbering starts again at 1. A viewer who joined while the room
// still counted in the old numbering must get the new events (they were
// hidden as "already in your welcome" when the tick lanes came in).
func TestNumberingRestartReachesNewViewers(t *testing.T) {
	url, restart := testinfra.RedisServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := redis.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	bus := redis.NewBus(client, "restart")
	t.Cleanup(func() { bus.Close(); client.Close() })
	w := newWorld(t, bus, withKeptChat())
	host, _ := w.join("host")
	for i := range 5 {
		text := fmt.Sprintf("before %d", i)
		host.send(map[string]any{"type": "chat", "text": text})
		host.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == text }, text)
	}

	restart()
	late, _ := w.join("viewer")
	// The bus reconnects on its own. Until the numbering connection is back a
	// chat is refused; until the subscription is back a chat is numbered and
	// published but reaches no node, not even its sender (pub/sub keeps
	// nothing for absent subscribers). Either way the host tries again.
	for i := 0; ; i++ {
		if i == 40 {
			t.Fatal("the room never took a chat after the Redis restart")
		}
		id, text := fmt.Sprintf("after-%d", i), fmt.Sprintf("after %d", i)
		host.send(map[string]any{"type": "chat", "id": id, "text": text})
		f := host.within(time.Second, func(f map[string]any) bool {
			return (f["type"] == "chat" && f["text"] == text) || (f["type"] == "error" && f["id"] == id)
		})
		if f == nil {
			// gorilla leaves a connection unusable after a read timeout.
			host, _ = w.join("host")
			continue
		}
		if f["type"] == "error" {
			time.Sleep(250 * time.Millisecond)
			continue
		}
		late.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == text }, "the new numbering's chat on the viewer who joined after the restart")
		// The chat of the old numbering is still in the welcome, before the
		// new one's (lines the bus lost meanwhile may come in between).
		_, welcome := w.join("member")
		got := recentTexts(welcome)
		if len(got) < 6 || !slices.Equal(got[:5], []string{"before 0", "before 1", "before 2", "before 3", "before 4"}) || got[len(got)-1] != text {
			t.Fatalf("recent after the restart = %v", got)
		}
		return
	}
}

// TestColdRoomResumesFromBusHistory: a viewer of node A resumes on node B,
// where nobody watched the show (its room opens cold, as after a restart):
// B's room starts from the bus's history and replays exactly what the
// viewer missed, where it used to answer with a reset.
func TestColdRoomResumesFromBusHistory(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testColdResume(t, memoryBuses()) })
	t.Run("redis", func(t *testing.T) { testColdResume(t, redisBuses(t)) })
}

func testColdResume(t *testing.T, open func() chat.Bus) {
	a := newWorld(t, open())
	host, welcome := a.join("host")
	viewer, _ := a.join("viewer")
	said := func(text string) func(map[string]any) bool {
		return func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == text }
	}
	host.send(map[string]any{"type": "chat", "text": "seen"})
	last := seqOf(viewer.until(said("seen"), "the first line"))
	viewer.ws.Close()
	for _, text := range []string{"missed 1", "missed 2", "missed 3"} {
		host.send(map[string]any{"type": "chat", "text": text})
		host.until(said(text), text)
	}

	b := a.node(open())
	back, _, err := b.dial("viewer", fmt.Sprintf("?epoch=%s&after=%d", welcome["epoch"], last))
	if err != nil {
		t.Fatal(err)
	}
	frames, _ := back.collect("resumed")
	checkReplay(t, frames, last, 3)
	got := sequenced(frames)
	for i, f := range got {
		if want := fmt.Sprintf("missed %d", i+1); f["text"] != want {
			t.Fatalf("replayed %v, want %q at %d", got, want, i)
		}
	}
	// The room on B goes on from there: a new line reaches the resumed
	// viewer once, numbered next.
	host.send(map[string]any{"type": "chat", "text": "after"})
	if f := back.until(said("after"), "the next line on B"); seqOf(f) != last+4 {
		t.Fatalf("the next line on B = %v, want seq %d", f, last+4)
	}

	// A line deleted within the bus's history stays deleted in a cold
	// room's welcome (a third node, from the history alone: no archive).
	host.send(map[string]any{"type": "chat", "text": "regretted"})
	regretted := seqOf(host.until(said("regretted"), "the regretted line"))
	host.send(map[string]any{"type": "moderate", "action": "delete", "seq": regretted})
	host.until(func(f map[string]any) bool { return f["type"] == "moderation" && f["action"] == "delete" }, "the deletion")
	_, welcome = a.node(open()).join("member")
	texts := recentTexts(welcome)
	if slices.Contains(texts, "regretted") || !slices.Contains(texts, "missed 2") {
		t.Fatalf("a cold room's recent chat = %v: want the history's lines without the deleted one", texts)
	}
}
