package chat_test

import (
	"fmt"
	"testing"

	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// A client that sends frames faster than the server writes their answers is
// not "too slow": it is reading. It gets every answer and stays connected.
func TestBurstOfAnsweredFramesIsNotSlow(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	c, _ := w.join("viewer")
	const n = 300
	for i := range n {
		c.send(map[string]any{"type": "react", "id": fmt.Sprint(i), "emoji": "not-an-emoji"})
	}
	for i := range n {
		if e := c.next("error"); e["id"] != fmt.Sprint(i) || e["code"] != "invalid" {
			t.Fatalf("answer %d = %v", i, e)
		}
	}
}
