package chat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// recentTexts lists the texts of a welcome's recent lines.
func recentTexts(welcome map[string]any) []string {
	out := []string{}
	for _, m := range welcome["recent"].([]any) {
		out = append(out, m.(map[string]any)["text"].(string))
	}
	return out
}

// archived waits until the show has n lines in the archive and returns them.
func (w *world) archived(n int) []chat.Line {
	w.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		lines, err := w.db.Lines(context.Background(), w.show, nil, 1000)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(lines) == n {
			return lines
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%d lines archived, want %d", len(lines), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *world) closeHub() {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := w.hub.Close(ctx); err != nil {
		w.t.Fatal(err)
	}
}

// TestChatKeptAcrossRestart: chat sent on a node, less a line a moderator
// deleted, is in the welcome of a node started afterwards on the same
// database (an embedded node restarted: a new bus, a new epoch), exactly as
// viewers got it; a resume from the old epoch gets it too. The lines were
// still queued when the first node shut down.
func TestChatKeptAcrossRestart(t *testing.T) {
	a := newWorld(t, memory.NewBus(), withKeptChat())
	host, welcome := a.join("host")
	member, _ := a.join("member")
	var live []any
	for _, text := range []string{"one", "two", "three"} {
		member.send(map[string]any{"type": "chat", "text": text})
		live = append(live, host.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == text }, text))
	}
	host.send(map[string]any{"type": "chat", "text": "four, from the host"})
	live = append(live, host.until(func(f map[string]any) bool { return f["type"] == "chat" && f["staff"] == true }, "the host's line"))
	host.send(map[string]any{"type": "moderate", "action": "delete", "seq": seqOf(live[1].(map[string]any))})
	host.next("moderation")
	a.closeHub()

	b := a.node(memory.NewBus(), withKeptChat())
	_, fresh := b.join("viewer")
	if fresh["epoch"] == welcome["epoch"] {
		t.Fatal("the restarted node kept the epoch; the test wants a new numbering")
	}
	want := []any{live[0], live[2], live[3]}
	if !reflect.DeepEqual(fresh["recent"], want) {
		t.Fatalf("recent after the restart =\n%v\nwant\n%v", fresh["recent"], want)
	}
	// A moderator on the new node cannot delete by an old line's seq: it
	// names no line of the current numbering (yet), and would hide the one
	// that gets it.
	newHost, _ := b.join("host")
	for i, seq := range []uint64{seqOf(live[0].(map[string]any)), 1000} {
		id := fmt.Sprint("old-", i)
		newHost.send(map[string]any{"type": "moderate", "id": id, "action": "delete", "seq": seq})
		if e := newHost.errorFor(id); e["code"] != "not_found" {
			t.Fatalf("deleting seq %d of no current line: %v", seq, e)
		}
	}
	// A viewer of the old node resumes on the new one: a snapshot, with the chat.
	_, resumed := b.joinQuery("member", fmt.Sprintf("?epoch=%s&after=%d", welcome["epoch"], seqOf(live[0].(map[string]any))))
	if resumed["reset"] != true || !reflect.DeepEqual(resumed["recent"], want) {
		t.Fatalf("resume on the restarted node = %v", resumed)
	}
}

// A node whose room is cold shows the chat another node's viewers saw.
func TestChatRecentOnTwoNodesMemoryBus(t *testing.T) {
	onTwoNodes(t, memoryBuses(), testRecentOnTwoNodes, withKeptChat())
}

func TestChatRecentOnTwoNodesRedisBus(t *testing.T) {
	onTwoNodes(t, redisBuses(t), testRecentOnTwoNodes, withKeptChat())
}

func testRecentOnTwoNodes(t *testing.T, a, b *world) {
	member, _ := a.join("member")
	host, _ := a.join("host")
	for i := range 3 {
		text := fmt.Sprintf("line %d", i)
		member.send(map[string]any{"type": "chat", "text": text})
		host.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == text }, text)
	}
	a.archived(3)
	_, onB := b.join("viewer")
	_, onA := a.join("viewer")
	if got := recentTexts(onB); !slices.Equal(got, []string{"line 0", "line 1", "line 2"}) {
		t.Fatalf("recent on the cold node = %v", got)
	}
	if !reflect.DeepEqual(onA["recent"], onB["recent"]) {
		t.Fatalf("recent differs:\nA %v\nB %v", onA["recent"], onB["recent"])
	}
}

// TestChatRetention: the sweep deletes the lines older than the retention;
// a cold room no longer shows them.
func TestChatRetention(t *testing.T) {
	bus := memory.NewBus()
	w := newWorld(t, bus)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	author := chat.Author{ID: w.userID("member"), Name: "Member"}
	if err := w.db.KeepLines(ctx, []chat.Line{
		{ShowID: w.show, Epoch: "OLD", Seq: 1, ID: uuid.New(), Author: author, Text: "last season", At: now.Add(-3 * time.Hour)},
		{ShowID: w.show, Epoch: "OLD", Seq: 2, ID: uuid.New(), Author: author, Text: "still fresh", At: now.Add(-time.Minute)},
	}); err != nil {
		t.Fatal(err)
	}
	n := w.node(bus, withKeptChat(), withRetention(time.Hour))
	if lines := n.archived(1); lines[0].Text != "still fresh" {
		t.Fatalf("kept %v", lines)
	}
	if _, welcome := n.join("viewer"); !slices.Equal(recentTexts(welcome), []string{"still fresh"}) {
		t.Fatalf("recent = %v", recentTexts(welcome))
	}
}

// TestChatArchivedOnceUnderConcurrency: eight users chat at once; every
// line is archived exactly once, under its own number.
func TestChatArchivedOnceUnderConcurrency(t *testing.T) {
	w := newWorld(t, memory.NewBus(), withKeptChat())
	const users, each = 8, 10
	var clients []*client
	for i := range users {
		w.addUser(fmt.Sprintf("u%d", i), account.RoleViewer)
		c, _ := w.join(fmt.Sprintf("u%d", i))
		clients = append(clients, c)
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			for j := range each {
				if err := c.ws.WriteJSON(map[string]any{"type": "chat", "text": fmt.Sprintf("u%d-%d", i, j)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	w.archived(users * each)
	w.closeHub()
	lines := w.archived(users * each)
	seqs, texts := map[uint64]bool{}, map[string]bool{}
	for _, l := range lines {
		if seqs[l.Seq] || texts[l.Text] {
			t.Fatalf("line %d %q archived twice", l.Seq, l.Text)
		}
		seqs[l.Seq], texts[l.Text] = true, true
	}
}

// stuckArchive holds KeepLines until released, as a database that hangs.
type stuckArchive struct {
	chat.Archive
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *stuckArchive) KeepLines(ctx context.Context, lines []chat.Line) error {
	s.once.Do(func() { close(s.entered) })
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Archive.KeepLines(ctx, lines)
}

// TestChatArchiveQueueFull: while the database hangs, the room goes on
// delivering chat; the lines the writer's queue has no room for are
// counted, not waited for.
func TestChatArchiveQueueFull(t *testing.T) {
	stuck := &stuckArchive{entered: make(chan struct{}), release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	w := newWorld(t, memory.NewBus(), withRegistry(reg), withChatQueue(2),
		withArchive(func(a chat.Archive) chat.Archive { stuck.Archive = a; return stuck }))
	member, _ := w.join("member")
	viewer, _ := w.join("viewer")
	member.send(map[string]any{"type": "chat", "text": "first"})
	viewer.next("chat")
	select {
	case <-stuck.entered:
	case <-time.After(wait):
		t.Fatal("the writer never wrote")
	}
	for i := range 9 {
		member.send(map[string]any{"type": "chat", "text": fmt.Sprint(i)})
	}
	for i := range 9 {
		if f := viewer.next("chat"); f["text"] != fmt.Sprint(i) {
			t.Fatalf("line %d = %v", i, f)
		}
	}
	got := counter(t, reg, "pavilion_chat_keep_dropped_total")
	if got != 7 {
		t.Fatalf("dropped = %v, want 7 (9 lines, a queue of 2)", got)
	}
	close(stuck.release)
	w.closeHub()
	if kept := counter(t, reg, "pavilion_chat_kept_total"); kept != 3 {
		t.Fatalf("kept = %v, want 3", kept)
	}
	w.archived(3)
}

// counter reads a registered counter by name.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// lossyBus is a node's view of a bus that loses, on the way to this node,
// the messages drop picks (a Redis subscription that dropped and came back).
type lossyBus struct {
	chat.Bus
	drop func(msg []byte) bool
}

type lossySub struct {
	chat.Subscription
	c chan []byte
}

func (s *lossySub) C() <-chan []byte { return s.c }

func (b lossyBus) Subscribe(ctx context.Context, channel string) (chat.Subscription, error) {
	sub, err := b.Bus.Subscribe(ctx, channel)
	if err != nil {
		return nil, err
	}
	out := &lossySub{Subscription: sub, c: make(chan []byte, 1024)}
	go func() {
		defer close(out.c)
		for m := range sub.C() {
			if !b.drop(m) {
				out.c <- m
			}
		}
	}()
	return out, nil
}

// TestChatGapFilledFromArchive: a line the bus lost on the way to a node
// (written to the archive by the node it was sent on) is back in that
// node's welcomes once the writer has flushed.
func TestChatGapFilledFromArchive(t *testing.T) {
	bus := memory.NewBus()
	a := newWorld(t, bus, withKeptChat())
	b := a.node(lossyBus{Bus: bus, drop: func(m []byte) bool { return bytes.Contains(m, []byte(`"text":"two"`)) }}, withKeptChat())
	onB, _ := b.join("viewer")
	member, _ := a.join("member")
	for _, text := range []string{"one", "two", "three"} {
		member.send(map[string]any{"type": "chat", "text": text})
	}
	onB.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == "three" }, "three on the lossy node")
	deadline := time.Now().Add(wait)
	for {
		_, welcome := b.join("host")
		got := recentTexts(welcome)
		if slices.Equal(got, []string{"one", "two", "three"}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("recent on the node that missed a line = %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// flakyArchive refuses the first fails batches, as a database that went
// away for a moment.
type flakyArchive struct {
	chat.Archive
	mu    sync.Mutex
	fails int
}

func (f *flakyArchive) KeepLines(ctx context.Context, lines []chat.Line) error {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return errors.New("database unavailable")
	}
	return f.Archive.KeepLines(ctx, lines)
}

// TestChatArchiveRetries: batches the database refused are written once it
// takes them again, each line once.
func TestChatArchiveRetries(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWorld(t, memory.NewBus(), withRegistry(reg),
		withArchive(func(a chat.Archive) chat.Archive { return &flakyArchive{Archive: a, fails: 3} }))
	member, _ := w.join("member")
	for i := range 5 {
		member.send(map[string]any{"type": "chat", "text": fmt.Sprint(i)})
		member.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == fmt.Sprint(i) }, fmt.Sprint(i))
	}
	lines := w.archived(5)
	w.closeHub()
	if got := counter(t, reg, "pavilion_chat_kept_total"); got != 5 || len(lines) != 5 {
		t.Fatalf("kept %v lines (%d archived), want 5", got, len(lines))
	}
}
