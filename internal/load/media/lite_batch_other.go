//go:build !(linux && (amd64 || arm64))

package media

import (
	"net"
	"net/netip"
	"time"
)

// liteSocket is a plain UDP socket where lite_batch_linux.go's is not
// wired up.
type liteSocket = net.UDPConn

func listenLite() (*liteSocket, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err == nil {
		_ = c.SetReadBuffer(liteRcvBuf)
	}
	return c, err
}

// batchReader reads one datagram at a time, always waiting for it.
type batchReader struct {
	c    *net.UDPConn
	buf  []byte
	n    int
	from netip.AddrPort
}

func newBatchReader(c *net.UDPConn, _, size int) (*batchReader, error) {
	return &batchReader{c: c, buf: make([]byte, size)}, nil
}

func (b *batchReader) read(bool) (int, error) {
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
