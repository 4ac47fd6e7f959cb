package media

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"
)

// TestBatchReader sends datagrams to a socket before reading it: one read
// takes up to a batch of them, in order, with where they came from and,
// where the kernel gives it, a receive time between sending and reading.
func TestBatchReader(t *testing.T) {
	rx, err := listenLite()
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: rx.LocalAddr().(*net.UDPAddr).Port})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	br, err := newBatchReader(rx, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	const sent = 6
	for i := range sent {
		if _, err := tx.Write([]byte(fmt.Sprintf("packet %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // all queued
	var got []string
	for len(got) < sent {
		n, err := br.read(true)
		if err != nil {
			t.Fatal(err)
		}
		if n < 1 || n > 4 {
			t.Fatalf("read %d datagrams, want 1 to 4", n)
		}
		if kernelStamps && len(got) == 0 && n != 4 {
			t.Fatalf("first read took %d of %d queued datagrams, want a full batch of 4", n, sent)
		}
		for i := range n {
			b, from, at := br.packet(i)
			if from.String() != tx.LocalAddr().String() {
				t.Fatalf("from %s, want %s", from, tx.LocalAddr())
			}
			if kernelStamps && (at.Before(before.Add(-time.Second)) || at.After(time.Now())) {
				t.Fatalf("receive time %s not between %s and now", at, before)
			}
			got = append(got, string(b))
		}
	}
	for i, g := range got {
		if want := fmt.Sprintf("packet %d", i); g != want {
			t.Fatalf("datagram %d is %q, want %q", i, g, want)
		}
	}
	// Nothing queued: without waiting it comes back empty; once closed, it says so.
	if kernelStamps {
		if n, err := br.read(false); n != 0 || err != nil {
			t.Fatalf("read on an empty socket: %d, %v", n, err)
		}
		rx.Close()
		if _, err := br.read(true); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed socket: %v, want net.ErrClosed", err)
		}
	}
}

// TestOwnUDPDrops floods a socket with a small receive buffer that nobody
// reads: the kernel's drops on it are this process's.
func TestOwnUDPDrops(t *testing.T) {
	before, ok := ownUDPDrops()
	if !ok {
		t.Skip("no /proc/net/udp here")
	}
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	if err := rx.SetReadBuffer(1); err != nil { // the kernel's minimum
		t.Fatal(err)
	}
	tx, err := net.DialUDP("udp4", nil, rx.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	payload := make([]byte, 1200)
	for range 200 {
		_, _ = tx.Write(payload)
	}
	after, ok := ownUDPDrops()
	if !ok || after <= before {
		t.Fatalf("drops %d before, %d after flooding a full socket", before, after)
	}
}
