//go:build linux && (amd64 || arm64)

package media

import (
	"errors"
	"net"
	"net/netip"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchReader reads up to len(bufs) datagrams in one recvmmsg(2), into
// buffers it keeps: a viewer that the scheduler got to late takes its
// backlog in one system call and one wake-up, and nothing is allocated.
// Each datagram comes with the time the kernel received it
// (SO_TIMESTAMPNS), so a late read does not move the figures.
type batchReader struct {
	rc    syscall.RawConn
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

func newBatchReader(c *net.UDPConn, n, size int) (*batchReader, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	b := &batchReader{rc: rc, hdrs: make([]mmsghdr, n), iovs: make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet4, n), bufs: make([][]byte, n), ctrl: make([]byte, n*cmsgSpace)}
	_ = rc.Control(func(fd uintptr) {
		b.stamp = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) == nil
	})
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

// read waits for one datagram at least and returns how many it got.
func (b *batchReader) read() (int, error) {
	for i := range b.hdrs {
		b.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet4
		b.hdrs[i].len = 0
		if b.stamp {
			b.hdrs[i].hdr.Control = &b.ctrl[i*cmsgSpace]
			b.hdrs[i].hdr.SetControllen(cmsgSpace)
		}
	}
	var n int
	var errno syscall.Errno
	err := b.rc.Read(func(fd uintptr) bool {
		for {
			// The socket is non-blocking: this returns what is queued, or EAGAIN.
			r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.hdrs[0])), uintptr(len(b.hdrs)), 0, 0, 0)
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false // wait for the poller
			}
			n, errno = int(r), e
			return true
		}
	})
	if err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errors.New("recvmmsg: " + errno.Error())
	}
	return n, nil
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
