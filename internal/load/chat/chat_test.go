package chat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pavilion-live/pavilion/internal/load/loadtest"
)

// fakeRoom is a live room as pavload sees it: token-only accounts, /metrics,
// and GET /ws/shows/{id} speaking the server's frames (the same shapes and
// key order as the chat package's). It refuses chat message "m3" and
// disconnects one anonymous viewer with 4008 after the fifth message.
type fakeRoom struct {
	adminToken string
	showID     string

	mu       sync.Mutex
	accounts map[string]string // token → name
	conns    map[*fakeConn]bool
	seq      uint64
	chats    int
	reacts   map[string]int
	kicked   bool
	pongs    int // answers to the ping each viewer gets after its welcome
}

type fakeConn struct {
	signedIn bool
	out      chan []byte // nil: close with 4008
}

func newFakeRoom() *fakeRoom {
	return &fakeRoom{adminToken: "admin", showID: "show-1", accounts: map[string]string{}, conns: map[*fakeConn]bool{}, reacts: map[string]int{}}
}

func (f *fakeRoom) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/users":
		if r.Header.Get("Authorization") != "Bearer "+f.adminToken {
			http.Error(w, `{"error":{"code":"unauthorized","message":"no"}}`, http.StatusUnauthorized)
			return
		}
		var in struct {
			Email       string `json:"email"`
			DisplayName string `json:"display_name"`
			TokenOnly   bool   `json:"token_only"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || !in.TokenOnly {
			http.Error(w, `{"error":{"code":"invalid","message":"token_only"}}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		token := fmt.Sprintf("pvt_%d", len(f.accounts))
		f.accounts[token] = in.DisplayName
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"user":{"id":"u-%s"},"token":%q}`, token, token)
	case r.URL.Path == "/ws/shows/"+f.showID:
		f.serveWS(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveMetrics is the room's /metrics, on a listener of its own as the
// server's --metrics-addr: the public one has none.
func (f *fakeRoom) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	f.mu.Lock()
	n := len(f.conns)
	f.mu.Unlock()
	fmt.Fprintf(w, "# HELP x\nprocess_resident_memory_bytes %d\ngo_memstats_heap_inuse_bytes %d\ngo_memstats_stack_inuse_bytes %d\n", 1e7+n*30000, 5e6+n*10000, 1e6+n*8192)
	fmt.Fprintf(w, "go_goroutines %d\nprocess_cpu_seconds_total 1.5\npavilion_chat_connections %d\npavilion_chat_dropped_total 0\n", 10+2*n, n)
}

func (f *fakeRoom) serveWS(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	name, signedIn := f.accounts[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	f.mu.Unlock()
	up := websocket.Upgrader{}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &fakeConn{signedIn: signedIn, out: make(chan []byte, 4096)}
	f.mu.Lock()
	f.conns[c] = true
	welcome := fmt.Sprintf(`{"epoch":"E","offers":[],"pinned":null,"recent":[],"reset":false,"seq":%d,"type":"welcome","viewers":%d,"you":{"signed_in":%v}}`, f.seq, len(f.conns), signedIn)
	c.out <- []byte(welcome) // under the lock: nothing goes out before it
	f.mu.Unlock()
	ws.SetPongHandler(func(string) error {
		f.mu.Lock()
		f.pongs++
		f.mu.Unlock()
		return nil
	})
	go func() {
		first := true
		for b := range c.out {
			if b == nil {
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4008, "too slow to follow the room"), time.Now().Add(time.Second))
				_ = ws.Close()
				return
			}
			_ = ws.WriteMessage(websocket.TextMessage, b)
			if first {
				_ = ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second))
				first = false
			}
		}
	}()
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var in struct {
			Type, ID, Text, Emoji string
		}
		if json.Unmarshal(data, &in) != nil {
			continue
		}
		switch {
		case !signedIn:
			c.out <- []byte(`{"code":"unauthorized","id":"` + in.ID + `","message":"sign in","type":"error"}`)
		case in.Type == "chat" && in.ID == "m3":
			c.out <- []byte(`{"code":"rate_limited","id":"m3","message":"slow down","type":"error"}`)
		case in.Type == "chat":
			f.mu.Lock()
			f.seq++
			f.chats++
			text, _ := json.Marshal(in.Text)
			b := fmt.Appendf(nil, `{"seq":%d,"type":"chat","id":"x-%d","user":{"id":"u","name":%q},"text":%s,"at":"2026-01-01T00:00:00Z"}`, f.seq, f.seq, name, text)
			for o := range f.conns {
				o.out <- b
			}
			if f.chats == 5 && !f.kicked {
				for o := range f.conns {
					if !o.signedIn && !f.kicked {
						o.out <- nil
						f.kicked = true
					}
				}
			}
			f.mu.Unlock()
		case in.Type == "react":
			f.mu.Lock()
			f.reacts[in.Emoji]++
			f.mu.Unlock()
		}
	}
}

// tick sends the aggregated reactions and the viewer count, as the hub's ticker does.
func (f *fakeRoom) tick(ctx context.Context) {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		var frames [][]byte
		if len(f.reacts) > 0 {
			b, _ := json.Marshal(map[string]any{"type": "reactions", "counts": f.reacts})
			frames = append(frames, b)
			f.reacts = map[string]int{}
		}
		frames = append(frames, fmt.Appendf(nil, `{"count":%d,"type":"viewers"}`, len(f.conns)))
		for o := range f.conns {
			for _, b := range frames {
				o.out <- b
			}
		}
		f.mu.Unlock()
	}
}

// TestChatRoom runs the scenario against the fake room with each reader:
// both count the same.
func TestChatRoom(t *testing.T) {
	readers := []string{readerGoroutine}
	if rawReaderSupported {
		readers = append(readers, readerEpoll)
	}
	for _, reader := range readers {
		t.Run(reader, func(t *testing.T) { testChatRoom(t, reader) })
	}
}

func testChatRoom(t *testing.T, reader string) {
	f := newFakeRoom()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	metrics := httptest.NewServer(http.HandlerFunc(f.serveMetrics))
	t.Cleanup(metrics.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.tick(ctx)

	const viewers = 30
	out, rep, err := loadtest.Run[chatReport](t, Run, "--base", srv.URL, "--metrics-url", metrics.URL+"/metrics", "--admin-token", "admin", "--show", f.showID,
		"--viewers", fmt.Sprint(viewers), "--chatters", "2", "--rate", "10", "--size", "80", "--duration", "1s",
		"--reactions", "20", "--reacters", "3", "--storm", "1s", "--idle", "100ms", "--drain", "2s", "--progress", "0", "--reader", reader)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if rep.Accounts.Count != 5 || len(f.accounts) != 5 {
		t.Errorf("accounts: report %d, server %d, want 5 (2 chatters, 3 reacters)", rep.Accounts.Count, len(f.accounts))
	}
	if rep.Connect == nil || rep.Connect.Welcomed != viewers || rep.Connect.Failed != 0 {
		t.Fatalf("connect = %+v, want %d welcomed", rep.Connect, viewers)
	}
	if len(rep.Phases) != 2 || rep.Phases[0].Name != "chat" || rep.Phases[1].Name != "storm" {
		t.Fatalf("phases = %+v", rep.Phases)
	}
	tot := rep.Total
	// 10 a second for 2 s: about 20 messages, m3 refused.
	if tot.MessagesSent < 15 || tot.MessagesSent > 22 || tot.MessagesRefused != 1 || tot.MessagesSeen != tot.MessagesSent-1 {
		t.Errorf("messages: sent %d, refused %d, seen %d", tot.MessagesSent, tot.MessagesRefused, tot.MessagesSeen)
	}
	// The kicked viewer misses what came after message 5 (m3 refused, so the 6th sent on).
	accepted := tot.MessagesSent - 1
	if want := accepted * viewers; tot.DeliveriesExpected != want {
		t.Errorf("expected deliveries %d, want %d", tot.DeliveriesExpected, want)
	}
	if tot.Missing != accepted-5 || tot.Deliveries != tot.DeliveriesExpected-tot.Missing {
		t.Errorf("deliveries %d of %d, missing %d; want %d missing (the kicked viewer's)", tot.Deliveries, tot.DeliveriesExpected, tot.Missing, accepted-5)
	}
	if tot.MessagesComplete != 5 {
		t.Errorf("messages that reached everyone = %d, want 5 (the ones before the kick)", tot.MessagesComplete)
	}
	if rep.Disconnects["4008 too slow"] != 1 || tot.Disconnects != 1 || len(rep.Disconnects) != 1 {
		t.Errorf("disconnects = %v (phases %d), want one 4008", rep.Disconnects, tot.Disconnects)
	}
	if rep.ErrorFrames["chatter rate_limited"] != 1 {
		t.Errorf("error frames = %v, want one chatter rate_limited", rep.ErrorFrames)
	}
	if rep.SeqGaps != 0 || rep.ForeignChat != 0 {
		t.Errorf("seq gaps %d, foreign %d, want none", rep.SeqGaps, rep.ForeignChat)
	}
	if l := tot.Latency; l.Count != tot.Deliveries || l.P50Ms <= 0 || l.P50Ms > l.P99Ms || l.P99Ms > l.MaxMs || l.MaxMs > 2000 {
		t.Errorf("latency = %+v", l)
	}
	// Reactions only in the storm: about 20, every one counted.
	if rep.Phases[0].ReactionsSent != 0 || tot.ReactionsSent < 15 || tot.ReactionsCounted != tot.ReactionsSent || tot.ReactionFrames == 0 {
		t.Errorf("reactions: chat phase %d, sent %d, counted %d, frames %d", rep.Phases[0].ReactionsSent, tot.ReactionsSent, tot.ReactionsCounted, tot.ReactionFrames)
	}
	if rep.ViewersAnnounced < viewers-1 || rep.ViewersFrames == 0 {
		t.Errorf("viewers announced %d, frames %d", rep.ViewersAnnounced, rep.ViewersFrames)
	}
	// The fake costs 30,000 bytes of RSS per connection.
	if m := rep.Memory; m == nil || m.RSSPerConnBytes != 30000 || m.HeapInusePerConn != 10000 || m.GoroutinesPerConn != 2 || m.ServerConnections != viewers {
		t.Errorf("memory = %+v", rep.Memory)
	}
	if rep.Config.Reader != reader || tot.ClientFrames < tot.Deliveries || tot.ClientUsPerFrame <= 0 {
		t.Errorf("reader %q, frames %d (deliveries %d), %.2f µs a frame", rep.Config.Reader, tot.ClientFrames, tot.Deliveries, tot.ClientUsPerFrame)
	}
	if reader == readerEpoll && (tot.ClientReads == 0 || tot.ClientPollWaits == 0) {
		t.Errorf("epoll: %d reads, %d waits for %d frames", tot.ClientReads, tot.ClientPollWaits, tot.ClientFrames)
	}
	if len(rep.Targets) < 3 || rep.Targets[0].Result != "not met" || !strings.Contains(out, "targets (measured, not enforced)") {
		t.Errorf("targets = %+v", rep.Targets)
	}
	f.mu.Lock()
	left, pongs := len(f.conns), f.pongs
	f.mu.Unlock()
	if pongs != viewers {
		t.Errorf("%d pongs, want one from each of the %d viewers", pongs, viewers)
	}
	for i := 0; left > 0 && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		f.mu.Lock()
		left = len(f.conns)
		f.mu.Unlock()
	}
	if left != 0 {
		t.Errorf("%d connections still open after the run", left)
	}
}

func TestChatFrames(t *testing.T) {
	text := chatText(nil, "abcd1234", 17, 1_700_000_000_123_456_789, 100)
	if len(text) != 100 || !strings.HasPrefix(string(text), "pl:abcd1234:17:1700000000123456789:") || text[len(text)-1] == ' ' {
		t.Fatalf("chatText = %q (%d bytes)", text, len(text))
	}
	frame := chatFrame(nil, 17, text)
	var in map[string]string
	if err := json.Unmarshal(frame, &in); err != nil || in["type"] != "chat" || in["id"] != "m17" || in["text"] != string(text) {
		t.Fatalf("chatFrame = %s (%v)", frame, err)
	}
	// As the server sends it: seq in front, then the event.
	srv := fmt.Appendf(nil, `{"seq":42,"type":"chat","id":"x","user":{"id":"u","name":"Chatter 1"},"text":%q,"at":"2026-01-01T00:00:00Z"}`, text)
	kind, seq, _ := peekFrame(srv)
	n, ns, ok := parseChatText(srv, "abcd1234")
	if kind != frameChat || seq != 42 || !ok || n != 17 || ns != 1_700_000_000_123_456_789 {
		t.Errorf("peek = %v %d, parse = %d %d %v", kind, seq, n, ns, ok)
	}
	if _, _, ok := parseChatText(srv, "ffff0000"); ok {
		t.Error("another run's message was taken for this run's")
	}
	for _, tc := range []struct {
		frame string
		kind  frameKind
		seq   uint64
		typ   string
	}{
		{`{"seq":7,"type":"stock","offer_id":"o","available":3}`, frameSeqEvent, 7, ""},
		{`{"seq":8,"type":"chat_deleted"}`, frameSeqEvent, 8, ""},
		{`{"type":"chat","seq":9,"text":"x"}`, frameOther, 0, "chat"},
		{`{"seq":10,"id":"x","type":"chat"}`, frameOther, 10, "chat"},
		{`{"counts":{"heart":3},"type":"reactions"}`, frameOther, 0, "reactions"},
		{`{"count":12,"type":"viewers"}`, frameOther, 0, "viewers"},
		{`{"code":"rate_limited","id":"m3","message":"slow down","type":"error"}`, frameOther, 0, "error"},
		{`not json`, frameOther, 0, ""},
	} {
		kind, seq, typ := peekFrame([]byte(tc.frame))
		if kind != tc.kind || seq != tc.seq || string(typ) != tc.typ {
			t.Errorf("peekFrame(%s) = %v %d %q, want %v %d %q", tc.frame, kind, seq, typ, tc.kind, tc.seq, tc.typ)
		}
	}
	if got := closeReason(&websocket.CloseError{Code: 4008, Text: "x"}); got != "4008 too slow" {
		t.Errorf("closeReason(4008) = %q", got)
	}
}
