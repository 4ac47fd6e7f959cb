package stream

import (
	"encoding/binary"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Packets written through the batching socket arrive, each once and in
// order per receiver, whether a full batch or the timer sends them, from
// a dual-stack socket to IPv4 and IPv6 receivers alike.
func TestSendBatchDelivers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendmmsg is Linux's")
	}
	conn, err := net.ListenPacket("udp", ":0") // dual stack, as the media port
	if err != nil {
		t.Fatal(err)
	}
	sb := newSendBatch(conn.(*net.UDPConn))
	defer sb.Close()

	type receiver struct {
		c    *net.UDPConn
		addr netip.AddrPort
	}
	var rs []receiver
	for _, a := range []string{"127.0.0.1:0", "[::1]:0"} {
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(a)))
		if err != nil {
			if a[0] == '[' {
				continue // no IPv6 loopback here
			}
			t.Fatal(err)
		}
		_ = c.SetReadBuffer(4 << 20)
		defer c.Close()
		rs = append(rs, receiver{c, c.LocalAddr().(*net.UDPAddr).AddrPort()})
	}

	// 3 full batches and a remainder only the timer sends, spread over the receivers.
	const total = 3*batchSize + 5
	sent := make([]int, len(rs))
	pkt := make([]byte, 1200)
	for i := range total {
		r := i % len(rs)
		binary.BigEndian.PutUint32(pkt, uint32(sent[r]))
		if _, err := sb.WriteToAddrPort(pkt, rs[r].addr); err != nil {
			t.Fatal(err)
		}
		sent[r]++
	}
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() {
			buf := make([]byte, 2000)
			_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for want := range sent[i] {
				n, from, err := r.c.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Errorf("%s: packet %d of %d: %v", r.addr, want, sent[i], err)
					return
				}
				if got := binary.BigEndian.Uint32(buf); n != len(pkt) || got != uint32(want) {
					t.Errorf("%s: got packet %d (%d bytes) from %s, want %d", r.addr, got, n, from, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkSend compares one sendto per packet with sendBatch's sendmmsg,
// 1,200-byte packets to 64 receivers in turn (a fan-out's pattern). The
// receivers are drained by goroutines of their own, so the kernel's
// delivery cost is in both.
func BenchmarkSend(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("sendmmsg is Linux's")
	}
	var addrs []netip.AddrPort
	for range 64 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadBuffer(4 << 20)
		defer c.Close()
		addrs = append(addrs, c.LocalAddr().(*net.UDPAddr).AddrPort())
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
					return
				}
			}
		}()
	}
	pkt := make([]byte, 1200)
	for _, batched := range []bool{false, true} {
		name := "sendto"
		if batched {
			name = "sendmmsg"
		}
		b.Run(name, func(b *testing.B) {
			conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				b.Fatal(err)
			}
			_ = conn.SetWriteBuffer(4 << 20)
			write := conn.WriteToUDPAddrPort
			var sb *sendBatch
			if batched {
				sb = newSendBatch(conn)
				write = sb.WriteToAddrPort
			}
			b.SetBytes(int64(len(pkt)))
			cpu0 := processCPU()
			b.ResetTimer()
			for i := range b.N {
				_, _ = write(pkt, addrs[i%len(addrs)])
			}
			if sb != nil {
				sb.flush()
				sb.Close()
			} else {
				conn.Close()
			}
			// CPU time, not wall time: the machine may be shared.
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is this process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
