package drawload

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
)

// The viewers are signed-in entrants in the show's live room (protocol
// version 2, as the web client speaks it), one goroutine and gorilla
// connection each: a few hundred cost pavload next to nothing, and the
// result is one event per viewer.

// viewResult is what one viewer saw of the close.
type viewResult struct {
	node     int // index in --nodes
	welcomed bool
	got      bool          // the drawn "draw" event of this draw arrived
	after    time.Duration // from the close request's send
	winners  []string
	state    string // the event's draw state
}

type viewer struct {
	token string
	url   string
	ws    *websocket.Conn
	done  chan struct{} // closed when the result arrived or the reader stopped
}

type viewers struct {
	cfg    *drawConfig
	drawID string
	list   []*viewer
	t0     atomic.Int64 // unix nanos of the close's send; 0 before

	mu       sync.Mutex
	res      []viewResult
	failures map[string]int64
}

func newViewers(cfg *drawConfig, d *drawRun) *viewers {
	vs := &viewers{cfg: cfg, drawID: d.drawID, failures: map[string]int64{}}
	vs.res = make([]viewResult, cfg.viewers)
	for i := range cfg.viewers {
		vs.res[i].node = i % len(cfg.nodes)
		vs.list = append(vs.list, &viewer{token: d.accounts[i].Token, url: wsURL(cfg.nodes[i%len(cfg.nodes)], cfg.ShowID), done: make(chan struct{})})
	}
	return vs
}

// wsURL is the show's live room on a node, protocol version 2.
func wsURL(base, showID string) string {
	u, err := url.Parse(base)
	if err != nil {
		return ""
	}
	scheme := "ws"
	if u.Scheme == "https" {
		scheme = "wss"
	}
	return scheme + "://" + u.Host + "/ws/shows/" + url.PathEscape(showID) + "?v=2"
}

// connectReport is the viewers joining the room before the close.
type connectReport struct {
	Viewers  int              `json:"viewers"`
	Welcomed int              `json:"welcomed"`
	Seconds  float64          `json:"seconds"`
	Failures map[string]int64 `json:"failures"`
}

// connectAll connects every viewer, cfg.dialWorkers at a time, and waits
// for each welcome; a welcomed viewer's reader then waits for the result.
func (vs *viewers) connectAll(ctx context.Context) *connectReport {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	d := &websocket.Dialer{HandshakeTimeout: vs.cfg.timeout, Proxy: nil}
	for range min(vs.cfg.dialWorkers, len(vs.list)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(vs.list) {
					return
				}
				if why := vs.connect(ctx, d, i); why != "" {
					vs.mu.Lock()
					vs.failures[why]++
					vs.mu.Unlock()
					close(vs.list[i].done)
				}
			}
		})
	}
	wg.Wait()
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return &connectReport{Viewers: len(vs.list), Welcomed: vs.welcomedLocked(), Seconds: time.Since(start).Seconds(), Failures: vs.failures}
}

// connect dials viewer i and reads up to its welcome; it returns why it failed, or "".
func (vs *viewers) connect(ctx context.Context, d *websocket.Dialer, i int) string {
	v := vs.list[i]
	h := http.Header{}
	h.Set("Authorization", "Bearer "+v.token)
	dctx, cancel := context.WithTimeout(ctx, vs.cfg.timeout)
	defer cancel()
	ws, resp, err := d.DialContext(dctx, v.url, h)
	if err != nil {
		if resp != nil {
			return fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return apiclient.TransportOutcome(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(vs.cfg.timeout))
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			_ = ws.Close()
			return "no welcome"
		}
		var w struct {
			Type string `json:"type"`
			You  struct {
				SignedIn bool `json:"signed_in"`
			} `json:"you"`
		}
		if json.Unmarshal(b, &w) != nil {
			_ = ws.Close()
			return "bad frame"
		}
		if w.Type != "welcome" {
			continue
		}
		if !w.You.SignedIn {
			_ = ws.Close()
			return "welcome says signed_in=false"
		}
		break
	}
	_ = ws.SetReadDeadline(time.Time{})
	v.ws = ws
	vs.mu.Lock()
	vs.res[i].welcomed = true
	vs.mu.Unlock()
	go vs.read(i)
	return ""
}

// frame is a room frame as far as the result goes: a draw event, or a
// version 2 batch of events.
type frame struct {
	Type   string            `json:"type"`
	Draw   *record           `json:"draw"`
	Events []json.RawMessage `json:"events"`
}

// read waits for this draw's drawn event on viewer i's socket.
func (vs *viewers) read(i int) {
	v := vs.list[i]
	defer close(v.done)
	for {
		_, b, err := v.ws.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		if rec := vs.result(b); rec != nil {
			t0 := vs.t0.Load()
			vs.mu.Lock()
			r := &vs.res[i]
			r.got, r.winners, r.state = true, rec.Winners, rec.State
			if t0 != 0 {
				r.after = time.Duration(now.UnixNano() - t0)
			}
			vs.mu.Unlock()
			return
		}
	}
}

// result finds this draw's drawn event in a frame.
func (vs *viewers) result(b []byte) *record {
	var f frame
	if json.Unmarshal(b, &f) != nil {
		return nil
	}
	switch f.Type {
	case "draw":
		if f.Draw != nil && f.Draw.ID == vs.drawID && f.Draw.State == "drawn" {
			return f.Draw
		}
	case "batch":
		for _, ev := range f.Events {
			if r := vs.result(ev); r != nil {
				return r
			}
		}
	}
	return nil
}

func (vs *viewers) closeSent(t time.Time) { vs.t0.Store(t.UnixNano()) }

// wait waits until every viewer has its result (or stopped), or deadline.
func (vs *viewers) wait(ctx context.Context, deadline time.Time) {
	tm := time.NewTimer(time.Until(deadline))
	defer tm.Stop()
	for _, v := range vs.list {
		select {
		case <-v.done:
		case <-tm.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (vs *viewers) welcomedLocked() int {
	n := 0
	for _, r := range vs.res {
		if r.welcomed {
			n++
		}
	}
	return n
}

func (vs *viewers) welcomedCount() int {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return vs.welcomedLocked()
}

// results is a copy of what every viewer saw so far.
func (vs *viewers) results() []viewResult {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	return append([]viewResult(nil), vs.res...)
}

func (vs *viewers) closeAll() {
	for _, v := range vs.list {
		if v.ws != nil {
			_ = v.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(time.Second))
			_ = v.ws.Close()
		}
	}
}
