package chat

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/pavilion-live/pavilion/internal/account"
)

// Connection tunables.
const (
	writeWait  = 10 * time.Second
	pongWait   = 60 * time.Second
	pingPeriod = pongWait * 9 / 10
	// queueCap bounds a viewer's room traffic; past half of it the
	// coalescable kinds (chat, reactions, viewer counts) are dropped for
	// that viewer; when it is full, the viewer is too slow to follow the
	// room and is disconnected with a reason (it reconnects and resumes).
	queueCap = 256
	// ownCap bounds a viewer's own results (reservations, errors). They are
	// never dropped: a viewer who lets 32 of them pile up is disconnected.
	ownCap = 32
	// answerRoom is what the read loop keeps free in the own queue before it
	// takes the next frame: a frame's answers, and an order update or two.
	answerRoom = 4
)

// CloseSlow is the close code for a reader that fell too far behind.
const CloseSlow = 4008

// conn is one viewer's websocket in one room.
type conn struct {
	ws   *websocket.Conn
	room *Room
	user *account.User // nil: anonymous, read-only
	cred binding       // the credential user came with; the socket ends with it

	queue chan frame  // room traffic, framed once per room
	own   chan []byte // this viewer's results
	pongs chan string // pings to answer, handed from the reader to the writer
	// tookOwn is signalled, without blocking, each time the writer takes an
	// own result, for the reader waiting for room (roomForAnswers).
	tookOwn chan struct{}
	quit    chan struct{}
	once    sync.Once
	// closeCode and closeText say why the server ended the connection.
	closeMu   sync.Mutex
	closeCode int
	closeText string

	dropped atomic.Uint64
	// taps limits product card taps; made on the first, used by the reader only.
	taps *rate.Limiter
}

func newConn(ws *websocket.Conn, room *Room, u *account.User) *conn {
	return &conn{ws: ws, room: room, user: u,
		queue: make(chan frame, queueCap), own: make(chan []byte, ownCap), pongs: make(chan string, 1),
		tookOwn: make(chan struct{}, 1), quit: make(chan struct{})}
}

// deliver queues room traffic. Coalescable traffic is shed first; losing
// anything else means the viewer's picture of the room would be wrong, so
// instead the viewer is disconnected and resumes.
func (c *conn) deliver(pm frame, coalescable bool) {
	if coalescable && len(c.queue) >= queueCap/2 {
		c.dropped.Add(1)
		c.room.hub.metrics.dropped()
		return
	}
	select {
	case c.queue <- pm:
	default:
		c.room.hub.metrics.dropped()
		c.stop(CloseSlow, "too slow to follow the room: reconnect and resume")
	}
}

// reply queues one of the viewer's own results.
func (c *conn) reply(b []byte) {
	select {
	case c.own <- b:
	default:
		c.stop(CloseSlow, "too slow to read your own results")
	}
}

// stop ends the connection once, remembering why.
func (c *conn) stop(code int, text string) {
	c.once.Do(func() {
		c.closeMu.Lock()
		c.closeCode, c.closeText = code, text
		c.closeMu.Unlock()
		close(c.quit)
	})
}

// writeLoop is the only writer of the socket: own results first, then room
// traffic, pings to keep the connection and detect dead peers.
func (c *conn) writeLoop() {
	ping := time.NewTicker(pingPeriod)
	defer func() {
		ping.Stop()
		c.closeMu.Lock()
		code, text := c.closeCode, c.closeText
		c.closeMu.Unlock()
		if code == 0 {
			code = websocket.CloseNormalClosure
		}
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
		_ = c.ws.Close()
	}()
	// Runs before the close above, so the close carries CloseInternal.
	defer func() {
		if p := recover(); p != nil {
			c.crashed("chat_writer", p, "", "")
		}
	}()
	for {
		select {
		case b := <-c.own:
			if c.writeOwn(b) != nil {
				return
			}
			continue
		default:
		}
		select {
		case <-c.quit:
			return
		case b := <-c.own:
			if c.writeOwn(b) != nil {
				return
			}
		case f := <-c.queue:
			if c.writeBatch(f) != nil {
				return
			}
		case app := <-c.pongs:
			if c.write(func() error { return c.ws.WriteControl(websocket.PongMessage, []byte(app), time.Now().Add(writeWait)) }) != nil {
				return
			}
		case <-ping.C:
			if c.write(func() error { return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)) }) != nil {
				return
			}
		}
	}
}

// maxBatch bounds the frames one write carries.
const maxBatch = 64

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writeBatch writes f and whatever else is already queued in one system
// call. A viewer who keeps up gets each frame as it comes; one who falls
// behind (a crowd, a slow phone) gets many per write, so the cost of a busy
// room is paid in bytes rather than in system calls. Frames are written
// straight to the connection: every write of this socket happens on this
// goroutine (pongs and closes included), so nothing can interleave.
func (c *conn) writeBatch(f frame) error {
	bp := batchBufs.Get().(*[]byte)
	buf := append((*bp)[:0], f...)
	for n := 1; n < maxBatch; n++ {
		select {
		case more := <-c.queue:
			buf = append(buf, more...)
			continue
		default:
		}
		break
	}
	err := c.write(func() error {
		nc := c.ws.UnderlyingConn()
		if err := nc.SetWriteDeadline(time.Now().Add(writeWait)); err != nil {
			return err
		}
		_, err := nc.Write(buf)
		return err
	})
	if cap(buf) <= 64<<10 {
		*bp = buf
		batchBufs.Put(bp)
	}
	return err
}

func (c *conn) writeOwn(b []byte) error {
	select {
	case c.tookOwn <- struct{}{}:
	default:
	}
	return c.writeBatch(textFrame(b))
}

// roomForAnswers waits until the own queue can take the answers to one more
// frame. A client that sends faster than its answers are written is not
// slow, only early: it is held back here (its frames wait in TCP buffers)
// instead of being disconnected. One that stops reading altogether is ended
// by the write deadline. False: the connection is ending.
func (c *conn) roomForAnswers() bool {
	for len(c.own) > ownCap-answerRoom {
		select {
		case <-c.tookOwn:
		case <-c.quit:
			return false
		}
	}
	return true
}

func (c *conn) write(fn func() error) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := fn(); err != nil {
		c.stop(websocket.CloseGoingAway, "")
		return err
	}
	return nil
}

// readLoop reads frames until the peer leaves or breaks a rule. A panic
// while reading or handling a frame ends this connection only (crashed).
func (c *conn) readLoop(ctx context.Context) {
	var handling *ClientFrame // the frame being handled, for the answer to a panic
	defer func() {
		if p := recover(); p != nil {
			id, typ := "", ""
			if handling != nil {
				id, typ = handling.ID, handling.Type
			}
			c.crashed("chat_reader", p, id, typ)
		}
	}()
	// MaxFrame is enforced here, not with the socket's read limit: past that
	// limit gorilla sends its own close (1009, no reason) before ours.
	_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	// gorilla answers pings and closes from the reader; here the writer
	// does, because it writes frames to the socket directly.
	c.ws.SetPingHandler(func(app string) error {
		select {
		case c.pongs <- app:
		default: // one pong owed is enough
		}
		return nil
	})
	c.ws.SetCloseHandler(func(int, string) error {
		c.stop(websocket.CloseNormalClosure, "")
		return nil
	})
	for {
		if !c.roomForAnswers() {
			return
		}
		kind, r, err := c.ws.NextReader()
		var data []byte
		if err == nil && kind == websocket.TextMessage {
			data, err = io.ReadAll(io.LimitReader(r, MaxFrame+1))
		}
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.stop(websocket.CloseMessageTooBig, "frame larger than 4096 bytes")
			} else {
				c.stop(websocket.CloseNormalClosure, "")
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
		if kind != websocket.TextMessage {
			c.stop(websocket.CloseUnsupportedData, "frames are JSON text")
			return
		}
		if len(data) > MaxFrame {
			c.stop(websocket.CloseMessageTooBig, "frame larger than 4096 bytes")
			return
		}
		f, err := Decode(data)
		if err != nil {
			id := ""
			if f != nil {
				id = f.ID // well-formed but refused: the answer names the request
			}
			c.replyError(id, err)
			continue
		}
		handling = f
		c.room.handle(ctx, c, f)
		handling = nil
		select {
		case <-c.quit:
			return
		default:
		}
	}
}

// frame is a server text frame, header and payload, ready for the wire:
// built once per room event and written to every viewer as is.
type frame []byte

// textFrame frames payload as one unmasked, uncompressed text frame (RFC 6455 §5.2).
func textFrame(payload []byte) frame {
	n := len(payload)
	var h []byte
	switch {
	case n < 126:
		h = []byte{0x81, byte(n)}
	case n < 1<<16:
		h = []byte{0x81, 126, byte(n >> 8), byte(n)}
	default:
		h = []byte{0x81, 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	f := make(frame, 0, len(h)+n)
	return append(append(f, h...), payload...)
}
