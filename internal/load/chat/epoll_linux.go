//go:build linux

package chat

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// --reader epoll: a welcomed viewer's socket leaves Go's network poller and
// joins one of a few epoll sets, each read by one goroutine. With 20,000
// viewers and a frame to each every tick, a goroutine per socket cost a
// wake-up, a schedule and gorilla's buffered reader per frame; here a frame
// costs its read(2) and a share of one epoll_wait, and an idle viewer costs
// its socket and a small struct.
//
// A poller never sleeps in epoll_wait: it polls (timeout 0), and pauses
// pollPause when little was ready. Nobody waits on the epoll set, so a
// frame arriving wakes no thread: on loopback the server's write(2) runs
// the receiver's side too, and a wake-up there (an inter-processor
// interrupt to pavload's core) would be charged to the server, per frame.
// A frame waits pollPause at most before it is read, and its latency
// counts the wait: pavload errs against the server, never for it.

// epollBatch is how many ready sockets one epoll_wait returns at most.
const epollBatch = 256

// A pass of a poller that found fewer than pollFew sockets ready pauses
// pollPause before the next, so a pass reads many sockets (at 10,000
// viewers, waking for each ready socket averaged 2.5 frames a wake-up).
const (
	pollFew   = 16
	pollPause = time.Millisecond
)

// pollReadBuf is a poller's read buffer: one read takes everything a
// socket holds, up to this.
const pollReadBuf = 64 << 10

// rawLink is a welcomed viewer's socket out of Go's poller. Its poller
// alone reads it; writes (chat, reactions, pongs, the close) happen under
// mu, from whichever goroutine sends.
type rawLink struct {
	fd int

	mu     sync.Mutex
	closed bool
	wbuf   []byte

	// The read side, its poller's only: the start of a frame the last read
	// cut off, and a fragmented message so far.
	carry  []byte
	frag   []byte
	fragOp byte
}

func (l *rawLink) writeText(b []byte, deadline time.Time) error {
	return l.writeFrame(opText, b, deadline)
}

// writeFrame writes one masked frame, waiting (poll(2)) while the socket's
// send buffer is full, until deadline. A zero deadline makes one attempt.
func (l *rawLink) writeFrame(op byte, payload []byte, deadline time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return net.ErrClosed
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	l.wbuf = appendClientFrame(l.wbuf[:0], op, payload, mask)
	b := l.wbuf
	for len(b) > 0 {
		n, err := unix.Write(l.fd, b)
		switch {
		case err == nil:
			b = b[n:]
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			wait := time.Until(deadline)
			if wait <= 0 {
				return os.ErrDeadlineExceeded
			}
			pfd := []unix.PollFd{{Fd: int32(l.fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(pfd, int(wait/time.Millisecond)+1); err != nil && err != unix.EINTR {
				return err
			}
		default:
			return err
		}
	}
	if cap(l.wbuf) > 4096 {
		l.wbuf = nil // a big frame was a one-off: keep the link small
	}
	return nil
}

// close closes the socket once.
func (l *rawLink) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		_ = unix.Close(l.fd)
	}
}

// poller is one epoll set and the goroutine that reads its sockets.
type poller struct {
	r      *chatRun
	epfd   int
	stop   atomic.Bool
	done   chan struct{}
	open   atomic.Int64 // sockets in the set
	buf    []byte
	events []unix.EpollEvent
}

// pollers are the epoll readers of a run.
type pollers []*poller

// newPollers starts n epoll readers.
func newPollers(r *chatRun, n int) (pollers, error) {
	ps := make(pollers, 0, n)
	for range n {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			ps.stop()
			return nil, os.NewSyscallError("epoll_create1", err)
		}
		p := &poller{r: r, epfd: epfd, done: make(chan struct{}),
			buf: make([]byte, pollReadBuf), events: make([]unix.EpollEvent, epollBatch)}
		go p.run()
		ps = append(ps, p)
	}
	return ps, nil
}

// adopt takes a welcomed viewer's connection out of Go's poller into an
// epoll set: its descriptor is duplicated and the net.Conn closed (Go's
// poller lets go of it; the socket stays open on the duplicate). rest is
// what was read past the welcome: the start of a frame (rawDial handled
// the whole ones), whose rest will make the socket ready.
func (ps pollers) adopt(v *viewer, nc net.Conn, rest []byte) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return errNotRaw
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return err
	}
	if derr != nil {
		return os.NewSyscallError("dup", derr)
	}
	_ = nc.Close()
	// The duplicate shares the file description, non-blocking as Go left it.
	l := &rawLink{fd: fd, carry: rest}
	v.rl.Store(l) // the poller's reads of v happen after this
	p := ps[v.i%len(ps)]
	p.open.Add(1)
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(v.i)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.open.Add(-1)
		l.close()
		return os.NewSyscallError("epoll_ctl", err)
	}
	v.link = l
	return nil
}

var errNotRaw = &net.OpError{Op: "adopt", Err: os.ErrInvalid}

// run reads the set's ready sockets until stopped.
func (p *poller) run() {
	defer close(p.done)
	served := 0
	for !p.stop.Load() {
		n, err := unix.EpollWait(p.epfd, p.events, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		if n == 0 {
			time.Sleep(pollPause)
			continue
		}
		now := time.Now().UnixNano()
		for i := range n {
			p.service(&p.events[i], now)
		}
		p.r.pollWaits.Add(1)
		switch served += n; {
		case n < pollFew:
			served = 0
			time.Sleep(pollPause)
		case served >= 4*epollBatch:
			// A busy set would keep this goroutine running: let the
			// senders and timers in now and then (one core, often).
			served = 0
			runtime.Gosched()
		}
	}
}

// service reads what one ready socket holds and handles its whole frames.
func (p *poller) service(ev *unix.EpollEvent, now int64) {
	v := p.r.viewers[ev.Fd]
	l := v.rl.Load()
	if l == nil {
		return
	}
	k := len(l.carry)
	if len(p.buf) < k+pollReadBuf/2 {
		p.buf = make([]byte, k+pollReadBuf)
	}
	copy(p.buf, l.carry)
	// A non-blocking read never blocks: no need to tell the scheduler.
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(l.fd), uintptr(unsafe.Pointer(&p.buf[k])), uintptr(len(p.buf)-k))
	p.r.readCalls.Add(1)
	switch {
	case e == unix.EAGAIN || e == unix.EINTR:
		return // level-triggered: reported again if anything is there
	case e != 0:
		p.drop(v, l, closeReason(e))
		return
	case n == 0:
		p.drop(v, l, "eof")
		return
	}
	b := p.buf[:k+int(n)]
	for {
		fin, op, payload, size, err := parseFrame(b)
		if err != nil {
			p.drop(v, l, "bad frame: "+err.Error())
			return
		}
		if size == 0 {
			break
		}
		b = b[size:]
		switch {
		case op == opPing:
			_ = l.writeFrame(opPong, payload, time.Now().Add(time.Second))
		case op == opPong:
		case op == opClose:
			code, text := readClose(payload)
			_ = l.writeFrame(opClose, closePayload(code, ""), time.Time{})
			p.drop(v, l, closeReason(&websocket.CloseError{Code: code, Text: text}))
			return
		case !fin || op == opContinuation:
			if op != opContinuation {
				l.fragOp = op
			}
			l.frag = append(l.frag, payload...)
			if fin {
				p.frame(v, l.fragOp, l.frag, now)
				l.frag = nil
			}
		default:
			p.frame(v, op, payload, now)
		}
	}
	l.carry = append(l.carry[:0], b...)
	if len(b) == 0 && cap(l.carry) > 4096 {
		l.carry = nil // the rest of a big frame came: keep the link small
	}
}

// frame is one whole message a viewer received.
func (p *poller) frame(v *viewer, op byte, payload []byte, now int64) {
	p.r.framesIn.Add(1)
	if op == opText {
		p.r.handle(v, payload, now)
	}
}

// drop ends a viewer's socket the server or the network ended.
func (p *poller) drop(v *viewer, l *rawLink, why string) {
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, l.fd, nil)
	l.close()
	p.open.Add(-1)
	p.r.lost(v, why)
}

// closeAll ends every socket of the run: a close frame to each (one try:
// a socket whose buffer is full just closes), a wait of at most wait for
// the server's answers (each ends its socket), then the pollers stop and
// what is left is closed.
func (ps pollers) closeAll(r *chatRun, wait time.Duration) {
	payload := closePayload(websocket.CloseNormalClosure, "load test over")
	for _, v := range r.viewers {
		if l := v.rl.Load(); l != nil {
			_ = l.writeFrame(opClose, payload, time.Time{})
		}
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		var open int64
		for _, p := range ps {
			open += p.open.Load()
		}
		if open <= 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ps.stop()
	for _, v := range r.viewers {
		if l := v.rl.Load(); l != nil {
			l.close()
		}
	}
}

// stop stops the pollers, waits for them, and closes their epoll sets.
func (ps pollers) stop() {
	for _, p := range ps {
		p.stop.Store(true)
		<-p.done
		_ = unix.Close(p.epfd)
	}
}

// rawReaderSupported tells whether --reader epoll can run here.
const rawReaderSupported = true
