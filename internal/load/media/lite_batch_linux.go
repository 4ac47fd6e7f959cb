//go:build linux && (amd64 || arm64)

package media

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// liteSocket is a lite viewer's UDP socket, kept out of Go's network
// poller: a socket the poller watches costs an epoll event for every
// datagram that lands while nobody waits on it, which is most of them when
// readers read on a tick. Its reader waits in poll(2) (handshake) or on the
// tick (media), and reads with recvmmsg(2).
type liteSocket struct {
	mu     sync.RWMutex // held (shared) around every system call on fd
	fd     int
	closed bool
	port   int
}

func listenLite() (*liteSocket, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*liteSocket, error) {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{}); err != nil {
		return fail(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return fail(err)
	}
	sa4, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return fail(errors.New("not an IPv4 socket"))
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, liteRcvBuf)
	return &liteSocket{fd: fd, port: sa4.Port}, nil
}

func (s *liteSocket) LocalAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4zero, Port: s.port}
}

func (s *liteSocket) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	if err := unix.Sendto(s.fd, b, unix.MSG_DONTWAIT, &unix.SockaddrInet4{Addr: to.Addr().As4(), Port: int(to.Port())}); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (s *liteSocket) Close() error {
	s.mu.Lock() // waits for a reader's poll (at most liteWait)
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return unix.Close(s.fd)
}

// liteWait is how long a reader waits in poll(2) before it checks whether
// its socket is closing.
const liteWait = 50 * time.Millisecond

// batchReader reads up to len(bufs) datagrams in one recvmmsg(2), into
// buffers it keeps: a backlog takes one system call and one wake-up, and
// nothing is allocated. Each datagram comes with the time the kernel
// received it (SO_TIMESTAMPNS), so a late read does not move the figures.
type batchReader struct {
	s     *liteSocket
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet4
	ctrl  []byte // cmsgSpace bytes per datagram
	bufs  [][]byte
	stamp bool // SO_TIMESTAMPNS is on
}

// kernelStamps: batchReader gives the kernel's receive times.
const kernelStamps = true

var cmsgSpace = unix.CmsgSpace(int(unsafe.Sizeof(unix.Timespec{})))

// mmsghdr is struct mmsghdr; Go pads it to the alignment of Msghdr as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

func newBatchReader(s *liteSocket, n, size int) (*batchReader, error) {
	b := &batchReader{s: s, hdrs: make([]mmsghdr, n), iovs: make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet4, n), bufs: make([][]byte, n), ctrl: make([]byte, n*cmsgSpace)}
	s.mu.RLock()
	if !s.closed {
		b.stamp = unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
	}
	s.mu.RUnlock()
	for i := range n {
		b.bufs[i] = make([]byte, size)
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		b.hdrs[i].hdr.Iov = &b.iovs[i]
		b.hdrs[i].hdr.SetIovlen(1)
		b.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	return b, nil
}

// read takes what is queued, up to a batch. With wait it waits (liteWait
// at most) for a datagram first; without, it may return 0. It returns
// net.ErrClosed once the socket is closed.
func (b *batchReader) read(wait bool) (int, error) {
	for i := range b.hdrs {
		b.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet4
		b.hdrs[i].len = 0
		if b.stamp {
			b.hdrs[i].hdr.Control = &b.ctrl[i*cmsgSpace]
			b.hdrs[i].hdr.SetControllen(cmsgSpace)
		}
	}
	s := b.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, net.ErrClosed
	}
	for {
		r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if !wait {
				return 0, nil
			}
			wait = false // one wait, then back to the caller
			pfd := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(pfd, int(liteWait/time.Millisecond)); err != nil && !errors.Is(err, unix.EINTR) {
				return 0, err
			}
			continue
		default:
			return 0, errors.New("recvmmsg: " + syscall.Errno(e).Error())
		}
	}
}

// packet is the i-th datagram of the last read, where it came from and
// when the kernel got it (zero if it did not say).
func (b *batchReader) packet(i int) ([]byte, netip.AddrPort, time.Time) {
	sa := &b.names[i]
	port := uint16(sa.Port>>8) | uint16(sa.Port<<8) // network byte order
	var at time.Time
	if h := &b.hdrs[i].hdr; b.stamp && h.Controllen >= uint64(cmsgSpace) {
		c := b.ctrl[i*cmsgSpace : (i+1)*cmsgSpace]
		cm := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		if cm.Level == unix.SOL_SOCKET && cm.Type == unix.SCM_TIMESTAMPNS {
			ts := (*unix.Timespec)(unsafe.Pointer(&c[unix.CmsgLen(0)]))
			at = time.Unix(ts.Sec, ts.Nsec)
		}
	}
	return b.bufs[i][:b.hdrs[i].len], netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port), at
}
