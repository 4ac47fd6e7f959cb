package stream

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// Sending in batches. Every packet to every UDP viewer leaves through the
// one media socket, and one sendto system call per packet was most of the
// server's CPU (issue 14's profile at 300 viewers: a third of it in the
// syscall itself). sendBatch gathers what the viewers' writers write and
// hands it to the kernel with sendmmsg, up to batchSize packets a call.
//
// A packet waits at most batchDelay: a batch goes out when it is full, or
// when the delay since its first packet runs out. A packet published to 300
// viewers fills several batches at once, so under load nearly every batch
// is full and the timer rarely matters; when one viewer watches, it adds at
// most batchDelay to a packet's way.
//
// It sits under pion's ICE UDP mux as its net.PacketConn: pion writes STUN,
// DTLS and SRTP through it, unchanged, and it needs nothing from pion but
// that. Write errors are not returned to the writer (the packet was already
// accepted): a lost UDP datagram is lost either way, and a viewer asks for
// it again with a NACK.
type sendBatch struct {
	*net.UDPConn
	bw *ipv4.PacketConn // sendmmsg; its addresses may be IPv6 too

	mu      sync.Mutex
	cur     *batch // filling
	spare   *batch // sent, ready to fill again
	timer   *time.Timer
	armed   bool
	closed  bool
	sending sync.Mutex // one sendmmsg at a time, so a viewer's packets keep their order
}

const (
	batchSize  = 64
	batchDelay = 500 * time.Microsecond
	// maxDatagram is the largest packet kept in a batch's own buffers;
	// a larger one is copied to a buffer of its own.
	maxDatagram = 1500
)

type batch struct {
	msgs  []ipv4.Message
	addrs []net.UDPAddr
	ips   [][16]byte
	n     int
}

func newBatch() *batch {
	b := &batch{msgs: make([]ipv4.Message, batchSize), addrs: make([]net.UDPAddr, batchSize), ips: make([][16]byte, batchSize)}
	for i := range b.msgs {
		b.msgs[i].Buffers = [][]byte{make([]byte, 0, maxDatagram)}
		b.msgs[i].Addr = &b.addrs[i]
	}
	return b
}

// newSendBatch wraps conn; on systems without sendmmsg it returns nil and
// the caller uses conn as is.
func newSendBatch(conn *net.UDPConn) *sendBatch {
	if runtime.GOOS != "linux" {
		return nil
	}
	s := &sendBatch{UDPConn: conn, bw: ipv4.NewPacketConn(conn), cur: newBatch(), spare: newBatch()}
	s.timer = time.AfterFunc(time.Hour, s.timeUp)
	s.timer.Stop()
	return s
}

// ReadFromAddrPort and WriteToAddrPort let pion's mux skip its net.Addr
// conversions (ice.AddrPortReaderWriter).
func (s *sendBatch) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return s.UDPConn.ReadFromUDPAddrPort(b)
}

func (s *sendBatch) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return s.enqueue(b, addr)
}

// WriteTo queues b for addr.
func (s *sendBatch) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return s.UDPConn.WriteTo(b, addr)
	}
	return s.enqueue(b, ua.AddrPort())
}

func (s *sendBatch) enqueue(p []byte, addr netip.AddrPort) (int, error) {
	s.mu.Lock()
	for s.cur.n == batchSize {
		// Full, and its flush is waiting for the one before it: wait too.
		s.mu.Unlock()
		s.flush()
		s.mu.Lock()
	}
	if s.closed {
		s.mu.Unlock()
		return 0, net.ErrClosed
	}
	b := s.cur
	i := b.n
	m := &b.msgs[i]
	buf := m.Buffers[0]
	if cap(buf) < len(p) {
		buf = make([]byte, 0, len(p))
	}
	m.Buffers[0] = append(buf[:0], p...)
	a := addr.Addr()
	ua := &b.addrs[i]
	if a.Is4() || a.Is4In6() {
		v4 := a.Unmap().As4()
		ua.IP = append(b.ips[i][:0], v4[:]...)
	} else {
		v6 := a.As16()
		ua.IP = append(b.ips[i][:0], v6[:]...)
	}
	ua.Port, ua.Zone = int(addr.Port()), a.Zone()
	b.n++
	full := b.n == batchSize
	if !full && !s.armed {
		s.armed = true
		s.timer.Reset(batchDelay)
	}
	s.mu.Unlock()
	if full {
		s.flush()
	}
	return len(p), nil
}

func (s *sendBatch) timeUp() { s.flush() }

// flush sends what is queued. The batch is swapped out under mu, so writers
// keep filling the other one while this one is in the kernel.
func (s *sendBatch) flush() {
	s.sending.Lock()
	defer s.sending.Unlock()
	s.mu.Lock()
	b := s.cur
	if b.n == 0 {
		s.mu.Unlock()
		return
	}
	s.cur, s.spare = s.spare, nil
	if s.armed {
		s.armed = false
		s.timer.Stop()
	}
	s.mu.Unlock()

	for sent := 0; sent < b.n; {
		n, err := s.bw.WriteBatch(b.msgs[sent:b.n], 0)
		if err != nil {
			// The kernel refused the message at sent (an unreachable
			// address, a closed socket): drop it, send the rest.
			if errors.Is(err, net.ErrClosed) {
				break
			}
			n++
		}
		sent += n
	}
	b.n = 0
	s.mu.Lock()
	s.spare = b
	s.mu.Unlock()
}

// Close sends what is queued and closes the socket.
func (s *sendBatch) Close() error {
	s.flush()
	s.mu.Lock()
	s.closed = true
	s.timer.Stop()
	s.mu.Unlock()
	return s.UDPConn.Close()
}
