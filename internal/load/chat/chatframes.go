package chat

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// The viewers' side of the live-room protocol, made cheap: with 10,000
// viewers a chat message is 10,000 frames to read, so the common frames are
// recognised by their first bytes, and only the rare ones (welcome, errors,
// the counting viewer's reaction counts) are decoded as JSON.
//
// Sequenced frames start {"seq":N,"type":"…" (the server puts the number in
// front of the event); the unsequenced ones are JSON objects with a "type".

var (
	seqPrefix  = []byte(`{"seq":`)
	typeChat   = []byte(`,"type":"chat"`)
	typeAfter  = []byte(`,"type":"`)
	typeKey    = []byte(`"type":"`)
	textMarker = []byte(`"text":"`)
)

// minChatSize is the smallest --size: a message's header ("pl:" run ":" number
// ":" unix nanos ":") must fit.
const minChatSize = 48

// chatText is message n's text: "pl:<run>:<n>:<sent unix nanos>:" padded
// with filler to size bytes. The filler never needs JSON escaping and does
// not end in a space (the server trims messages).
func chatText(dst []byte, runID string, n int, sentNs int64, size int) []byte {
	start := len(dst)
	dst = append(dst, "pl:"...)
	dst = append(dst, runID...)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, sentNs, 10)
	dst = append(dst, ':')
	const filler = "the-quick-brown-fox-jumps-over-the-lazy-dog-"
	for i := 0; len(dst)-start < size; i++ {
		dst = append(dst, filler[i%len(filler)])
	}
	return dst
}

// chatFrame is the client frame sending message n: its id ("m<n>") comes
// back on an error frame if the server refuses it.
func chatFrame(dst []byte, n int, text []byte) []byte {
	dst = append(dst, `{"type":"chat","id":"m`...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, `","text":"`...)
	dst = append(dst, text...)
	return append(dst, `"}`...)
}

// parseUint reads the decimal number at the start of b: its value and length.
func parseUint(b []byte) (v uint64, n int) {
	for n < len(b) && b[n] >= '0' && b[n] <= '9' && n < 20 {
		v = v*10 + uint64(b[n]-'0')
		n++
	}
	return v, n
}

// frameKind is what a server frame is, as far as the cheap parse can tell.
type frameKind int

const (
	frameOther    frameKind = iota // anything else: decoded by type when needed
	frameSeqEvent                  // a sequenced event other than chat
	frameChat                      // a sequenced chat event
)

// peekFrame classifies a frame and reads its seq (0 when it has none) and,
// for an unsequenced frame, its type. A sequenced frame whose type does not
// follow the seq at once is left to the slow path (frameOther, with seq).
func peekFrame(b []byte) (kind frameKind, seq uint64, typ []byte) {
	if bytes.HasPrefix(b, seqPrefix) {
		s, n := parseUint(b[len(seqPrefix):])
		rest := b[len(seqPrefix)+n:]
		switch {
		case n == 0:
			return frameOther, 0, frameType(b)
		case bytes.HasPrefix(rest, typeChat):
			return frameChat, s, nil
		case bytes.HasPrefix(rest, typeAfter):
			return frameSeqEvent, s, nil
		default:
			return frameOther, s, frameType(b)
		}
	}
	return frameOther, 0, frameType(b)
}

// frameType finds the value of the first "type" key, without decoding. Only
// the server's own frames are read, whose string values never hold `"type":"`.
func frameType(b []byte) []byte {
	i := bytes.Index(b, typeKey)
	if i < 0 {
		return nil
	}
	rest := b[i+len(typeKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return rest[:j]
}

// parseChatText finds this run's header in a chat frame: the message number
// and its send time. ok is false for a message that is not this run's.
func parseChatText(b []byte, runID string) (n int, sentNs int64, ok bool) {
	i := bytes.Index(b, textMarker)
	if i < 0 {
		return 0, 0, false
	}
	t := b[i+len(textMarker):]
	if len(t) < 4+len(runID) || string(t[:3]) != "pl:" || string(t[3:3+len(runID)]) != runID || t[3+len(runID)] != ':' {
		return 0, 0, false
	}
	t = t[4+len(runID):]
	num, k := parseUint(t)
	if k == 0 || k >= len(t) || t[k] != ':' {
		return 0, 0, false
	}
	t = t[k+1:]
	ns, k := parseUint(t)
	if k == 0 || k >= len(t) || t[k] != ':' {
		return 0, 0, false
	}
	return int(num), int64(ns), true
}

// closeReason names why a viewer's connection ended: the close code the
// server sent, or what happened to the TCP connection.
func closeReason(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		name := map[int]string{
			websocket.CloseNormalClosure:     "normal",
			websocket.CloseGoingAway:         "going away",
			websocket.CloseAbnormalClosure:   "abnormal: no close frame",
			websocket.ClosePolicyViolation:   "policy violation",
			websocket.CloseMessageTooBig:     "too big",
			websocket.CloseInternalServerErr: "server error",
			websocket.CloseTryAgainLater:     "try again later",
			4003:                             "banned",
			4008:                             "too slow",
		}[ce.Code]
		if name == "" {
			name = ce.Text
		}
		return strconv.Itoa(ce.Code) + " " + name
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, websocket.ErrBadHandshake):
		return "bad handshake"
	default:
		return "error"
	}
}

// readFrame reads one whole message into buf (grown as needed).
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var (
	batchPrefix   = []byte(`{"type":"batch"`)
	batchSeqKey   = []byte(`"seq":`)
	eventsKey     = []byte(`"events":[`)
	skippedKey    = []byte(`"skipped":`)
	typeStock     = []byte(`,"type":"stock"`)
	typeSoldOut   = []byte(`,"type":"sold_out"`)
	asOfMarker    = []byte(`"as_of":"`)
	errNotABatch  = errors.New("not a batch frame")
	errBadBatchEv = errors.New("a batch's events are not JSON objects")
)

// batchFrame is a protocol version 2 batch, read without decoding it:
// {"type":"batch","seq":N,"events":[…],"skipped":K} (seq and skipped may be
// absent). events runs from inside the array to the end of the frame:
// eachObject walks it and returns what follows the array.
type batchFrame struct {
	seq    uint64
	events []byte
}

// parseBatch reads a batch frame's seq and finds its events. The server
// writes the keys in this order; the events are the room's own objects.
func parseBatch(b []byte) (batchFrame, error) {
	var f batchFrame
	if !bytes.HasPrefix(b, batchPrefix) {
		return f, errNotABatch
	}
	rest := b[len(batchPrefix):]
	if bytes.HasPrefix(rest, []byte(`,`)) && bytes.HasPrefix(rest[1:], batchSeqKey) {
		v, n := parseUint(rest[1+len(batchSeqKey):])
		f.seq = v
		rest = rest[1+len(batchSeqKey)+n:]
	}
	i := bytes.Index(rest, eventsKey)
	if i < 0 {
		return f, errNotABatch
	}
	f.events = rest[i+len(eventsKey):]
	return f, nil
}

// skippedOf reads "skipped" from what follows a batch's events.
func skippedOf(tail []byte) int64 {
	if j := bytes.Index(tail, skippedKey); j >= 0 {
		v, _ := parseUint(tail[j+len(skippedKey):])
		return int64(v)
	}
	return 0
}

// eachObject calls fn with each JSON object of an array, from just inside
// its "[", and returns what follows its "]".
func eachObject(b []byte, fn func(obj []byte)) ([]byte, error) {
	for len(b) > 0 {
		switch b[0] {
		case ',', ' ', '\n', '\t', '\r':
			b = b[1:]
			continue
		case ']':
			return b[1:], nil
		case '{':
		default:
			return nil, errBadBatchEv
		}
		end := objectEnd(b)
		if end < 0 {
			return nil, errBadBatchEv
		}
		fn(b[:end])
		b = b[end:]
	}
	return nil, errBadBatchEv
}

// objectEnd returns the length of the JSON object b starts with (-1: not
// closed). Outside strings it steps byte by byte (keys, numbers and
// punctuation are short); a string is jumped over with a fast search for
// its closing quote, minding escapes. Chat text, the bulk of a batch, is
// strings.
func objectEnd(b []byte) int {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			k := i + 1
			for {
				q := bytes.IndexByte(b[k:], '"')
				if q < 0 {
					return -1
				}
				k += q
				bs := 0
				for p := k - 1; p > i && b[p] == '\\'; p-- {
					bs++
				}
				if bs%2 == 0 {
					break
				}
				k++
			}
			i = k // the closing quote; the loop steps past it
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// isStockEvent tells a sequenced stock or sold_out event by its first bytes.
func isStockEvent(b []byte) bool {
	if !bytes.HasPrefix(b, seqPrefix) {
		return false
	}
	_, n := parseUint(b[len(seqPrefix):])
	rest := b[len(seqPrefix)+n:]
	return bytes.HasPrefix(rest, typeStock) || bytes.HasPrefix(rest, typeSoldOut)
}

// offerAsOf reads the as_of of the offer a stock event carries (the server's
// clock when it read the stock): 0 when there is none.
func offerAsOf(b []byte) int64 {
	i := bytes.Index(b, asOfMarker)
	if i < 0 {
		return 0
	}
	rest := b[i+len(asOfMarker):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return 0
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	if err != nil {
		return 0
	}
	return t.UnixNano()
}
