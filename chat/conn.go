package chat

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
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
	// queueCap bounds the state events (tick.go) waiting for one viewer's
	// writer: past it the viewer is too slow to follow the room and is
	// disconnected with a reason (it reconnects and resumes). Chat waiting
	// for a viewer who fell behind is left out instead (lean ticks).
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
	// who is the person behind the socket (an account, or a browser's
	// visitor cookie): the viewer count counts people, not sockets.
	who string

	// v2: room traffic in batch frames (?v=2); otherwise each event in a
	// text frame of its own, as protocol version 1 clients expect.
	v2 bool

	// ticks are the room's ticks waiting for the writer (tick.go), with the
	// state events they hold; want tells the writer there are some (or the
	// rest of a frame an inline write began).
	tickMu       sync.Mutex
	ticks        []*tick
	pendingState int
	// skipThrough: ticks' events up to this seq reached the viewer already
	// (its welcome or replay); set on joining, cleared once passed.
	skipThrough uint64
	want        atomic.Bool
	// sent is the id of the last tick of the room's log handed to this
	// viewer, and inView says the room's viewer list has it (roomtick.go):
	// the room's ticker's alone, inView under the room's lock too.
	sent   uint64
	inView bool

	// The socket has no writer goroutine while idle: one runs while
	// something is to be written (kick), and running says it does; started
	// is set once the socket joined, when writing may begin. pinger marks
	// a ping due every pingPeriod.
	running atomic.Bool
	started atomic.Bool
	pingDue atomic.Bool
	pinger  *time.Timer

	// Writes to the socket happen under wmu: the writer goroutine's, and
	// the room's own (deliver), which hands a tick to an idle viewer with
	// one non-blocking write instead of waking the writer; partial is what
	// such a write left of its frame (the writer finishes it first).
	wmu     sync.Mutex
	partial []byte
	raw     syscall.RawConn // nil: no non-blocking writes
	inline  atomic.Bool     // the writer wrote the first frame (the welcome)
	closing atomic.Bool     // the close frame is being written

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

	skipped atomic.Uint64 // chat lines left out for this viewer
	// taps limits product card taps; made on the first, used by the reader only.
	taps *rate.Limiter
}

func newConn(ws *websocket.Conn, room *Room, u *account.User) *conn {
	c := &conn{ws: ws, room: room, user: u,
		own: make(chan []byte, ownCap), pongs: make(chan string, 1),
		tookOwn: make(chan struct{}, 1), quit: make(chan struct{})}
	if sc, ok := ws.UnderlyingConn().(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
	return c
}

// deliver hands the viewer a tick. Its chat may be left out when the
// writer gets to it late; its state events never are, so a viewer with too
// many of them waiting is disconnected instead and resumes.
func (c *conn) deliver(t *tick) {
	c.tickMu.Lock()
	if c.raw != nil && !t.keep && len(c.ticks) == 0 && c.skipThrough == 0 && len(c.own) == 0 && c.inline.Load() && c.wmu.TryLock() {
		c.tickMu.Unlock()
		c.writeInline(t)
		return
	}
	if !t.keep && (len(c.ticks) >= maxPendingTicks || c.pendingState+t.state > queueCap) {
		c.tickMu.Unlock()
		c.room.hub.metrics.dropped()
		c.stop(CloseSlow, "too slow to follow the room: reconnect and resume")
		return
	}
	c.ticks = append(c.ticks, t)
	c.pendingState += t.state
	c.tickMu.Unlock()
	c.signal()
}

// writeInline writes a tick to a viewer with nothing waiting, from the
// room's goroutine, in one non-blocking write: no goroutine wakes up for a
// viewer who keeps up. What the socket does not take now (a full send
// buffer) is left to the writer. The caller holds wmu.
func (c *conn) writeInline(t *tick) {
	defer c.wmu.Unlock()
	if c.closing.Load() {
		return
	}
	if c.partial != nil {
		c.queue(t) // behind the rest of the frame the writer is finishing
		return
	}
	f := t.frame(formV1Full)
	if c.v2 {
		f = t.frame(formV2Full)
	}
	if len(f) == 0 {
		return
	}
	var n int
	var werr error
	if err := c.raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), f)
		return true // one attempt: never wait here
	}); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The writer's last deadline ran out (it sets one per write
			// it makes, 10 s ahead); it writes this with a new one.
			c.queue(t)
			return
		}
		werr = err
	}
	n = max(n, 0)
	if t.capped > 0 {
		c.skipped.Add(uint64(t.capped))
	}
	switch {
	case werr != nil && !errors.Is(werr, syscall.EAGAIN) && !errors.Is(werr, syscall.EINTR):
		c.stop(websocket.CloseGoingAway, "")
	case n < len(f):
		c.partial = f[n:] // a shared frame: its tail is read, never written
		c.signal()
	}
}

// queue adds a tick for the writer.
func (c *conn) queue(t *tick) {
	c.tickMu.Lock()
	c.ticks = append(c.ticks, t)
	c.pendingState += t.state
	c.tickMu.Unlock()
	c.signal()
}

// signal tells the writer ticks wait.
func (c *conn) signal() {
	c.want.Store(true)
	c.kick()
}

// reply queues one of the viewer's own results.
func (c *conn) reply(b []byte) {
	select {
	case c.own <- b:
		c.kick()
	default:
		c.stop(CloseSlow, "too slow to read your own results")
	}
}

// stop ends the connection once, remembering why; the writer writes the
// close.
func (c *conn) stop(code int, text string) {
	c.once.Do(func() {
		c.closeMu.Lock()
		c.closeCode, c.closeText = code, text
		c.closeMu.Unlock()
		close(c.quit)
	})
	c.kick()
}

// startWriter lets writing begin once the socket joined the room: what
// waits already (the welcome, a replay) is written, and pings are due
// every pingPeriod from now.
func (c *conn) startWriter() {
	c.pinger = time.AfterFunc(time.Hour, c.pingSoon)
	c.pinger.Stop()
	c.pinger.Reset(pingPeriod) // after the field is set: pingSoon reads it
	c.started.Store(true)
	c.kick()
}

// pingSoon marks a ping due and has it written.
func (c *conn) pingSoon() {
	select {
	case <-c.quit:
		return
	default:
	}
	c.pingDue.Store(true)
	c.kick()
	c.pinger.Reset(pingPeriod)
}

// kick makes sure a writer runs. An idle socket has no goroutine to write
// with (most of what an idle viewer costs would be its stack): one starts
// when something is to be written that the room could not write inline —
// own results, ticks behind a full socket buffer, a pong, a ping, the
// close — and ends once nothing is left, so one goroutine at most writes.
func (c *conn) kick() {
	if c.started.Load() && c.running.CompareAndSwap(false, true) {
		go c.writeRun()
	}
}

// writeRun writes until nothing waits, or the connection ends.
func (c *conn) writeRun() {
	for {
		if c.writeAll() {
			return // ended: running stays set, no writer starts again
		}
		c.running.Store(false)
		// Work that came after writeAll's last look, whose kick found the
		// writer still running, is this writer's to do.
		if !c.hasWork() || !c.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// hasWork tells whether anything waits for the writer.
func (c *conn) hasWork() bool {
	select {
	case <-c.quit:
		return true
	default:
	}
	return len(c.own) > 0 || len(c.pongs) > 0 || c.pingDue.Load() || c.want.Load()
}

// writeAll writes what waits: own results first, then the close if the
// connection is ending, pongs and pings, then room traffic. True: the
// connection ended (the close is written and the socket closed).
func (c *conn) writeAll() (ended bool) {
	defer func() {
		if p := recover(); p != nil {
			c.crashed("chat_writer", p, "", "")
			c.finish()
			ended = true
		}
	}()
	for {
		select {
		case b := <-c.own:
			if c.writeOwn(b) != nil {
				c.finish()
				return true
			}
			continue
		default:
		}
		select {
		case <-c.quit:
			c.finish()
			return true
		default:
		}
		var err error
		select {
		case app := <-c.pongs:
			err = c.write(func() error {
				return c.ws.WriteControl(websocket.PongMessage, []byte(app), time.Now().Add(c.room.hub.writeWait()))
			})
		default:
			switch {
			case c.pingDue.Swap(false):
				err = c.write(func() error {
					return c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.room.hub.writeWait()))
				})
			case c.want.Swap(false):
				err = c.writeTicks()
			default:
				return false
			}
		}
		if err != nil {
			c.finish()
			return true
		}
	}
}

// finish writes the close (after the rest of a frame an inline write
// began: the close must not land inside it) and closes the socket.
func (c *conn) finish() {
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.closeMu.Lock()
	code, text := c.closeCode, c.closeText
	c.closeMu.Unlock()
	if code == 0 {
		code = websocket.CloseNormalClosure
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.closing.Store(true)
	if c.partial != nil {
		nc := c.ws.UnderlyingConn()
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, err := nc.Write(c.partial)
		c.partial = nil
		if err != nil {
			_ = c.ws.Close()
			return
		}
	}
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writeTicks writes the viewer's own results waiting, then every tick
// waiting, in one system call. A tick older than chatLag (the viewer fell
// behind) goes in its lean form, but the newest: the viewer keeps the latest
// chat and every state event, and latency stays bounded instead of a
// backlog growing. Frames are written straight to the connection: every
// write of this socket happens under wmu (pongs and closes included), by
// the one writer running or the room's inline write, so nothing can
// interleave.
func (c *conn) writeTicks() error {
	// Held from taking the ticks to writing them: a tick the room writes
	// inline meanwhile must not overtake them.
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.tickMu.Lock()
	ticks, skip := c.ticks, c.skipThrough
	c.ticks, c.pendingState = nil, 0
	c.tickMu.Unlock()

	bp := batchBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	buf = c.appendOwn(buf)
	now := time.Now()
	var skipped int
	var only frame // the one shared frame to write, when that is all
	passed := false
	for i, t := range ticks {
		after := uint64(0)
		if !t.keep && skip != 0 && t.first != 0 {
			if t.last <= skip {
				continue // the welcome or replay had these
			}
			if t.first <= skip {
				after = skip
			}
			passed = true
		}
		lean := !t.keep && i < len(ticks)-1 && now.Sub(t.at) > chatLag
		skipped += t.skippedIn(lean)
		form := formV1Full
		switch {
		case c.v2 && lean:
			form = formV2Lean
		case c.v2:
			form = formV2Full
		case lean:
			form = formV1Lean
		}
		var f frame
		if after != 0 {
			f = t.encode(form, after)
		} else {
			f = t.frame(form)
		}
		if len(ticks) == 1 && len(buf) == 0 {
			only = f
			break
		}
		buf = append(buf, f...)
		if len(buf) >= writeBudget && i < len(ticks)-1 {
			// The rest waits for the next write, and by then it may be
			// old enough to go lean: a viewer whose socket drains slowly
			// is not handed a backlog in one go.
			c.putBack(ticks[i+1:])
			break
		}
	}
	if passed {
		c.tickMu.Lock()
		if c.skipThrough == skip { // not set again by a resume meanwhile
			c.skipThrough = 0
		}
		c.tickMu.Unlock()
	}
	if skipped > 0 {
		c.skipped.Add(uint64(skipped))
		c.room.hub.metrics.skipped(skipped)
	}
	out := buf
	if only != nil {
		out = only
	}
	var err error
	if len(out) > 0 || c.partial != nil {
		err = c.writeLocked(out)
	}
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		batchBufs.Put(bp)
	}
	return err
}

// writeBudget is how many bytes of ticks one write takes at most (a tick
// more, and the viewer's own results).
const writeBudget = 64 << 10

// putBack returns ticks a write did not take to the front of the queue.
func (c *conn) putBack(rest []*tick) {
	c.tickMu.Lock()
	c.ticks = append(slices.Clone(rest), c.ticks...)
	for _, t := range rest {
		c.pendingState += t.state
	}
	c.tickMu.Unlock()
	c.signal()
}

// appendOwn appends the viewer's own results waiting.
func (c *conn) appendOwn(buf []byte) []byte {
	for {
		select {
		case b := <-c.own:
			c.tookOwnSignal()
			buf = append(buf, textFrame(b)...)
		default:
			return buf
		}
	}
}

func (c *conn) tookOwnSignal() {
	select {
	case c.tookOwn <- struct{}{}:
	default:
	}
}

// writeRaw writes frames ready for the wire.
func (c *conn) writeRaw(buf []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(buf)
}

// writeLocked writes what an inline write left, then buf; the caller holds wmu.
func (c *conn) writeLocked(buf []byte) error {
	nc := c.ws.UnderlyingConn()
	err := nc.SetWriteDeadline(time.Now().Add(c.room.hub.writeWait()))
	if err == nil && c.partial != nil {
		_, err = nc.Write(c.partial)
		c.partial = nil
	}
	if err == nil && len(buf) > 0 {
		_, err = nc.Write(buf)
	}
	if err != nil {
		c.stop(websocket.CloseGoingAway, "")
		return err
	}
	c.inline.Store(true)
	return nil
}

func (c *conn) writeOwn(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.tookOwnSignal()
	bp := batchBufs.Get().(*[]byte)
	buf := append((*bp)[:0], textFrame(b)...)
	buf = c.appendOwn(buf)
	err := c.writeLocked(buf)
	if cap(buf) <= 64<<10 {
		*bp = buf[:0]
		batchBufs.Put(bp)
	}
	return err
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
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.partial != nil {
		if err := c.writeLocked(nil); err != nil {
			return err
		}
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.room.hub.writeWait()))
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
			c.kick()
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
