package chat_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// idleSockets is how many idle viewers TestIdleSocketCost opens.
const idleSockets = 400

// What an idle viewer's socket costs the server, in this process: heap in
// use, goroutine stacks and goroutines per socket, read from the runtime
// after 400 viewers joined and went quiet (load-independent: no timing).
// The clients are raw TCP sockets that did the handshake and read the
// first bytes of the welcome (a few hundred bytes each of this process's
// heap, counted too: the figure is an upper bound of the server's).
//
// It fails when an idle socket costs more than one goroutine (its reader:
// a writer runs only while something is to be written) or 15 KB of heap
// and stacks. With a writer goroutine per socket it cost two and 15.0 KB
// (18.8 KB under -race); bench/chat.sh's RSS per connection is the figure
// the target is about.
func TestIdleSocketCost(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	w.join("") // the room opens, and its goroutines with it
	addr := strings.TrimPrefix(w.srv.URL, "http://")
	path := "/ws/shows/" + w.show.String() + "?v=2"

	before := idleStats()
	conns := make([]net.Conn, 0, idleSockets)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range idleSockets {
		c, err := rawViewer(addr, path)
		if err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	if rooms, n := w.hub.Rooms(); rooms != 1 || n < idleSockets {
		t.Fatalf("hub has %d rooms, %d connections; want 1, at least %d", rooms, n, idleSockets)
	}
	after := idleStats()
	heap := float64(after.heap-before.heap) / idleSockets
	stack := float64(after.stack-before.stack) / idleSockets
	gs := float64(after.goroutines-before.goroutines) / idleSockets
	t.Logf("per idle socket: heap in use %.1f KB, stacks %.1f KB, %.2f goroutines", heap/1000, stack/1000, gs)
	if gs > 1.05 {
		t.Errorf("%.2f goroutines per idle socket, want at most 1", gs)
	}
	if heap+stack > 15_000 {
		t.Errorf("%.1f KB of heap and stacks per idle socket, want at most 15 KB", (heap+stack)/1000)
	}
}

type memFigures struct {
	heap, stack uint64
	goroutines  int
}

// idleStats reads the runtime's memory once the heap has settled.
func idleStats() memFigures {
	// Let the sockets' goroutines park, then collect twice: the second
	// collection frees what the first one's finalizers released.
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memFigures{heap: m.HeapInuse, stack: m.StackInuse, goroutines: runtime.NumGoroutine()}
}

// rawViewer opens an anonymous websocket to path with a hand-written
// handshake, reads the answer's headers and the welcome's first byte, and
// returns the bare connection: no websocket library on this side.
func rawViewer(addr, path string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(wait))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, addr)
	br := bufio.NewReaderSize(c, 512)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("handshake: %s", res.Status)
	}
	if _, err := br.ReadByte(); err != nil { // the welcome began
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}
