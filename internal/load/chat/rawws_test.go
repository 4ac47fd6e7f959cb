package chat

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// serverFrame frames payload as the server does: unmasked, FIN set unless told.
func serverFrame(op byte, payload []byte, fin bool) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	n := len(payload)
	var h []byte
	switch {
	case n < 126:
		h = []byte{b0, byte(n)}
	case n < 1<<16:
		h = []byte{b0, 126, byte(n >> 8), byte(n)}
	default:
		h = binary.BigEndian.AppendUint64([]byte{b0, 127}, uint64(n))
	}
	return append(h, payload...)
}

// The raw reader's framing: every length form, frames cut anywhere, and
// what it refuses.
func TestRawFrames(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 200000} {
		payload := bytes.Repeat([]byte("x"), size)
		f := serverFrame(opText, payload, true)
		for _, cut := range []int{0, 1, 2, 3, 9, len(f) - 1} {
			if cut >= len(f) {
				continue
			}
			if _, _, _, n, err := parseFrame(f[:cut]); n != 0 || err != nil {
				t.Errorf("size %d cut at %d: n %d, err %v; want incomplete", size, cut, n, err)
			}
		}
		fin, op, p, n, err := parseFrame(append(f, 0x81))
		if err != nil || !fin || op != opText || n != len(f) || !bytes.Equal(p, payload) {
			t.Errorf("size %d: fin %v op %d n %d err %v", size, fin, op, n, err)
		}
	}
	if _, _, _, _, err := parseFrame([]byte{0x81, 0x81, 1, 2, 3, 4, 'x'}); !errors.Is(err, errMaskedFrame) {
		t.Errorf("masked frame: %v", err)
	}
	if _, _, _, _, err := parseFrame([]byte{0x83, 0}); !errors.Is(err, errBadOpcode) {
		t.Errorf("opcode 3: %v", err)
	}
	big := binary.BigEndian.AppendUint64([]byte{0x81, 127}, maxServerFrame+1)
	if _, _, _, _, err := parseFrame(big); !errors.Is(err, errFrameTooBig) {
		t.Errorf("huge frame: %v", err)
	}
	if code, text := readClose(closePayload(4008, "too slow")); code != 4008 || text != "too slow" {
		t.Errorf("close payload: %d %q", code, text)
	}
	if code, _ := readClose(nil); code != 1005 {
		t.Errorf("empty close: %d", code)
	}
}

// A frame pavload writes is one gorilla reads back, masked, at every
// length form.
func TestRawClientFrame(t *testing.T) {
	sizes := []int{0, 100, 126, 70000}
	got := make(chan []byte, len(sizes))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"welcome"}`))
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				close(got)
				return
			}
			got <- b
		}
	}))
	defer srv.Close()
	target, _ := parseWSTarget(strings.Replace(srv.URL, "http://", "ws://", 1))
	nc, _, err := rawDial(context.Background(), &net.Dialer{}, target, "", time.Now().Add(5*time.Second), func(byte, []byte) (bool, error) { return true, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, size := range sizes {
		payload := bytes.Repeat([]byte("ab"), size/2)
		f := appendClientFrame(nil, opText, payload, [4]byte{1, 2, 3, 4})
		if f[1]&0x80 == 0 {
			t.Fatalf("size %d: not masked", size)
		}
		if _, err := nc.Write(f); err != nil {
			t.Fatal(err)
		}
		select {
		case b := <-got:
			if !bytes.Equal(b, payload) {
				t.Errorf("size %d: read back %d bytes", size, len(b))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("size %d: nothing read back", size)
		}
	}
}

// The raw handshake against gorilla's upgrader: the welcome and the frames
// that came with it are handled before the socket is handed on, and only
// the start of a frame is carried; a refused upgrade says its status.
func TestRawDial(t *testing.T) {
	pong := make(chan string, 1)
	tail := serverFrame(opText, []byte(`{"count":1,"type":"viewers"}`), true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		nc := ws.UnderlyingConn()
		// Before the welcome: a ping and a fragmented message; then the
		// welcome, a whole frame and half of one, in one write.
		var b []byte
		b = append(b, serverFrame(opPing, []byte("p"), true)...)
		b = append(b, serverFrame(opText, []byte(`{"type":"vie`), false)...)
		b = append(b, serverFrame(opContinuation, []byte(`wers","count":0}`), true)...)
		b = append(b, serverFrame(opText, []byte(`{"seq":3,"type":"welcome","you":{"signed_in":true}}`), true)...)
		b = append(b, serverFrame(opText, []byte(`{"seq":4,"type":"stock"}`), true)...)
		b = append(b, tail[:5]...)
		_, _ = nc.Write(b)
		// The pong comes back; the read ends when pavload closes.
		ws.SetPongHandler(func(app string) error { pong <- app; return nil })
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, _ = ws.NextReader()
	}))
	defer srv.Close()
	target, err := parseWSTarget(strings.Replace(srv.URL, "http://", "ws://", 1) + "/ws?v=2")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	nc, rest, err := rawDial(context.Background(), &net.Dialer{}, target, "tok", time.Now().Add(5*time.Second), func(op byte, payload []byte) (bool, error) {
		got = append(got, string(payload))
		return strings.Contains(string(payload), `"welcome"`), nil
	})
	if err != nil {
		t.Fatalf("rawDial: %v", err)
	}
	want := []string{`{"type":"viewers","count":0}`, `{"seq":3,"type":"welcome","you":{"signed_in":true}}`, `{"seq":4,"type":"stock"}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || !bytes.Equal(rest, tail[:5]) {
		t.Errorf("frames %q, rest %q; want %q, %q", got, rest, want, tail[:5])
	}
	select {
	case app := <-pong:
		if app != "p" {
			t.Errorf("pong %q, want %q", app, "p")
		}
	case <-time.After(5 * time.Second):
		t.Error("no pong")
	}
	_ = nc.Close()
	_, _, err = rawDial(context.Background(), &net.Dialer{}, target, "", time.Now().Add(5*time.Second), nil)
	var he *handshakeError
	if !errors.As(err, &he) || he.status != http.StatusForbidden {
		t.Errorf("refused upgrade: %v", err)
	}
	if _, err := parseWSTarget("wss://example.com/ws"); err == nil {
		t.Error("wss:// taken by the raw reader")
	}
}
