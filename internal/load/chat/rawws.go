package chat

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// The raw websocket client behind --reader epoll: the handshake and the
// framing of RFC 6455 done by hand over a plain TCP connection, so that once
// a viewer is welcomed its socket can leave Go's network poller and be read
// by a shared epoll loop (epoll_linux.go) with no goroutine, no bufio reader
// and no per-frame allocation of its own. Only what pavload needs: ws://, no
// extensions, no compression; the server's frames are unmasked, ours masked.

// WebSocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// maxServerFrame bounds a frame pavload accepts from the server: a welcome
// with its 50 recent lines and every offer fits well under it.
const maxServerFrame = 4 << 20

var (
	errMaskedFrame = errors.New("the server sent a masked frame")
	errFrameTooBig = errors.New("the server sent a frame over 4 MB")
	errBadOpcode   = errors.New("the server sent an unknown opcode")
)

// parseFrame reads the server frame at the start of b: FIN, opcode, payload
// (a slice of b) and the frame's whole length. n is 0 when b holds only
// part of the frame.
func parseFrame(b []byte) (fin bool, op byte, payload []byte, n int, err error) {
	if len(b) < 2 {
		return false, 0, nil, 0, nil
	}
	fin, op = b[0]&0x80 != 0, b[0]&0x0f
	if b[1]&0x80 != 0 {
		return false, 0, nil, 0, errMaskedFrame
	}
	switch op {
	case opContinuation, opText, opBinary, opClose, opPing, opPong:
	default:
		return false, 0, nil, 0, errBadOpcode
	}
	size, h := uint64(b[1]&0x7f), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return false, 0, nil, 0, nil
		}
		size, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return false, 0, nil, 0, nil
		}
		size, h = binary.BigEndian.Uint64(b[2:]), 10
	}
	if size > maxServerFrame {
		return false, 0, nil, 0, errFrameTooBig
	}
	if uint64(len(b)-h) < size {
		return false, 0, nil, 0, nil
	}
	n = h + int(size)
	return fin, op, b[h:n], n, nil
}

// appendClientFrame appends one masked client frame (RFC 6455 §5.3): the
// server refuses unmasked ones. The mask need not be secret here (pavload
// talks to its own server), only present; it changes per frame all the same.
func appendClientFrame(dst []byte, op byte, payload []byte, mask [4]byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n < 1<<16:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range n {
		dst[start+i] ^= mask[i&3]
	}
	return dst
}

// closePayload is a close frame's payload: the code, then the reason.
func closePayload(code int, text string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(code)), text...)
}

// readClose reads a close frame's payload: 1005 (no status) when empty.
func readClose(payload []byte) (code int, text string) {
	if len(payload) < 2 {
		return 1005, ""
	}
	return int(binary.BigEndian.Uint16(payload)), string(payload[2:])
}

// wsTarget is a ws:// URL as the raw handshake needs it.
type wsTarget struct {
	hostPort string // to dial
	host     string // the Host header
	path     string // path and query
}

func parseWSTarget(raw string) (wsTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return wsTarget{}, err
	}
	if u.Scheme != "ws" {
		return wsTarget{}, fmt.Errorf("the raw reader speaks ws:// only, not %s://", u.Scheme)
	}
	hp := u.Host
	if u.Port() == "" {
		hp = net.JoinHostPort(u.Hostname(), "80")
	}
	return wsTarget{hostPort: hp, host: u.Host, path: u.RequestURI()}, nil
}

// handshakeError is a refused upgrade: its HTTP status.
type handshakeError struct{ status int }

func (e *handshakeError) Error() string { return "HTTP " + strconv.Itoa(e.status) }

var (
	errNoAccept     = errors.New("bad handshake: no or wrong Sec-WebSocket-Accept")
	errHeadersLarge = errors.New("bad handshake: response headers over 16 KB")
)

// wsGUID is RFC 6455's key suffix (§1.3).
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// rawHandshake upgrades nc to a websocket (the caller set its deadline) and
// returns what the server sent after its response headers: the start of
// the frames, often the welcome itself.
func rawHandshake(nc net.Conn, t wsTarget, token string, buf []byte) ([]byte, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := make([]byte, 0, 256)
	req = append(req, "GET "...)
	req = append(req, t.path...)
	req = append(req, " HTTP/1.1\r\nHost: "...)
	req = append(req, t.host...)
	req = append(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	req = append(req, key...)
	if token != "" {
		req = append(req, "\r\nAuthorization: Bearer "...)
		req = append(req, token...)
	}
	req = append(req, "\r\n\r\n"...)
	if _, err := nc.Write(req); err != nil {
		return nil, err
	}
	buf = buf[:0]
	for {
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			if err := checkUpgrade(buf[:i+2], key); err != nil {
				return nil, err
			}
			return buf[i+4:], nil
		}
		if len(buf) >= 16<<10 {
			return nil, errHeadersLarge
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return nil, err
		}
	}
}

// checkUpgrade checks a response's status line and Sec-WebSocket-Accept.
func checkUpgrade(head []byte, key string) error {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	// "HTTP/1.1 101 Switching Protocols"
	_, after, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(after) < 3 {
		return errors.New("bad handshake: no status line")
	}
	status, err := strconv.Atoi(string(after[:3]))
	if err != nil {
		return errors.New("bad handshake: no status line")
	}
	if status != 101 {
		return &handshakeError{status: status}
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	want := base64.StdEncoding.EncodeToString(sum[:])
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(h, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Sec-WebSocket-Accept")) {
			if string(bytes.TrimSpace(value)) == want {
				return nil
			}
			break
		}
	}
	return errNoAccept
}

// rawDial opens a viewer's websocket by hand and reads up to its welcome:
// the connection (still in Go's poller, its deadline cleared) and the bytes
// read past the welcome, the start of the next frames. Frames before the
// welcome go to onFrame; a ping is answered.
func rawDial(ctx context.Context, d *net.Dialer, t wsTarget, token string, deadline time.Time, onFrame func(op byte, payload []byte) (welcome bool, err error)) (net.Conn, []byte, error) {
	nc, err := d.DialContext(ctx, "tcp", t.hostPort)
	if err != nil {
		return nil, nil, &dialError{err}
	}
	_ = nc.SetDeadline(deadline)
	buf, err := rawHandshake(nc, t, token, make([]byte, 0, 4096))
	if err != nil {
		_ = nc.Close()
		return nil, nil, &dialError{err}
	}
	// buf holds the first bytes after the headers; the welcome may need
	// more. The whole frames read with the welcome are handled here too:
	// only the start of a frame is handed on.
	b := append(make([]byte, 0, max(4096, len(buf))), buf...)
	var frag []byte
	fragOp := byte(0)
	welcomed := false
	for {
		fin, op, payload, n, err := parseFrame(b)
		if err != nil {
			_ = nc.Close()
			return nil, nil, err
		}
		if n == 0 {
			if welcomed && len(frag) == 0 {
				return finishDial(nc, b)
			}
			if len(b) == cap(b) {
				b = append(b, 0)[:len(b)]
			}
			k, err := nc.Read(b[len(b):cap(b)])
			b = b[:len(b)+k]
			if err != nil {
				_ = nc.Close()
				return nil, nil, err
			}
			continue
		}
		msg, msgOp := payload, op
		switch {
		case op == opPing:
			var m [4]byte
			_, _ = rand.Read(m[:])
			if _, err := nc.Write(appendClientFrame(nil, opPong, payload, m)); err != nil {
				_ = nc.Close()
				return nil, nil, err
			}
			msg = nil
		case op == opClose:
			_ = nc.Close()
			code, text := readClose(payload)
			return nil, nil, &websocket.CloseError{Code: code, Text: text}
		case op == opPong:
			msg = nil
		case !fin || op == opContinuation:
			if op != opContinuation {
				fragOp = op
			}
			frag = append(frag, payload...)
			msg, msgOp = nil, fragOp
			if fin {
				msg, frag = bytes.Clone(frag), nil
			}
		}
		if msg != nil {
			w, err := onFrame(msgOp, msg)
			if err != nil {
				_ = nc.Close()
				return nil, nil, err
			}
			welcomed = welcomed || w
		}
		b = b[n:]
	}
}

func finishDial(nc net.Conn, rest []byte) (net.Conn, []byte, error) {
	_ = nc.SetDeadline(time.Time{})
	return nc, bytes.Clone(rest), nil
}

// dialError is a failure before the upgrade: the dial or the handshake.
type dialError struct{ err error }

func (e *dialError) Error() string { return "dial: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }
