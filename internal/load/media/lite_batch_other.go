//go:build !(linux && (amd64 || arm64))

package media

import (
	"net"
	"net/netip"
	"time"
)

// batchReader reads one datagram at a time where recvmmsg(2) is not wired
// up (lite_batch_linux.go is the batched one).
type batchReader struct {
	c    *net.UDPConn
	buf  []byte
	n    int
	from netip.AddrPort
}

func newBatchReader(c *net.UDPConn, _, size int) (*batchReader, error) {
	return &batchReader{c: c, buf: make([]byte, size)}, nil
}

func (b *batchReader) read() (int, error) {
	n, from, err := b.c.ReadFromUDPAddrPort(b.buf)
	if err != nil {
		return 0, err
	}
	b.n, b.from = n, from
	return 1, nil
}

func (b *batchReader) packet(int) ([]byte, netip.AddrPort, time.Time) {
	return b.buf[:b.n], b.from, time.Time{}
}

// kernelStamps: batchReader gives no receive times (the reader's clock is used).
const kernelStamps = false
