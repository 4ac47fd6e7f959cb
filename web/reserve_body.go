package web

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/pavilion-live/pavilion/checkout"
)

// reserveBodies are the buffers decodeReserve reads a body into: the buy
// button's body is ~70 bytes, and a stampede sends it tens of thousands of
// times a second.
var reserveBodies = sync.Pool{New: func() any { return new([256]byte) }}

// decodeReserve reads a reserve body, {"offer_id": "…", "quantity": n}, as
// decode does, at a fraction of its cost for the body the buy button sends:
// json.Decoder's buffers, field stack and second read for trailing data
// cost a sold-out tap 8 allocations and a sixth of its handler time. The
// body is read whole (it is small), and parseReserve takes it if it is a
// plain object of those two fields and nothing else; anything else — a
// longer body, escapes, other or repeated fields, a number that is not a
// small positive integer, any error — goes to decode over the same bytes,
// so every bad input gets decode's answer.
func decodeReserve(r *http.Request, req *checkout.ReserveRequest) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return decodeSlowly(r, req) // decode's refusal, word for word
	}
	buf := reserveBodies.Get().(*[256]byte)
	n, err := io.ReadFull(r.Body, buf[:])
	// Past here buf goes back to the pool only from the quick path: on the
	// slow one, r.Body reads from it, and must not see it reused.
	switch err {
	case io.EOF, io.ErrUnexpectedEOF: // the whole body is in buf
		if parseReserve(buf[:n], req) {
			reserveBodies.Put(buf)
			return nil
		}
		r.Body = io.NopCloser(bytes.NewReader(buf[:n]))
	case nil: // longer than buf: the rest is still in r.Body
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf[:n]), r.Body), r.Body}
	default: // the body's error (too large, a broken connection) after what was read
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(buf[:n]), errReader{err}), r.Body}
	}
	return decodeSlowly(r, req)
}

// decodeSlowly is decode into req through a variable of its own: decode's
// target escapes (an any), and req, the caller's, then stays on its stack.
func decodeSlowly(r *http.Request, req *checkout.ReserveRequest) error {
	var v checkout.ReserveRequest
	err := decode(r, &v)
	*req = v
	return err
}

// errReader fails every read with err, as the body did.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// parseReserve fills req from b and reports true when b is, around optional
// JSON white space, one object holding "offer_id" (a string with no escape
// that uuid reads) and "quantity" (0 or a positive integer of at most nine
// digits), each at most once, and nothing else. On false, req is
// undefined and b must go to decode.
func parseReserve(b []byte, req *checkout.ReserveRequest) bool {
	*req = checkout.ReserveRequest{}
	p := jsonScan{b: b}
	if !p.byte('{') {
		return false
	}
	var haveOffer, haveQuantity bool
	if p.byte('}') {
		return p.end()
	}
	for {
		key, ok := p.plainString()
		if !ok || !p.byte(':') {
			return false
		}
		switch string(key) {
		case "offer_id":
			v, ok := p.plainString()
			if !ok || haveOffer || req.OfferID.UnmarshalText(v) != nil {
				return false
			}
			haveOffer = true
		case "quantity":
			q, ok := p.smallInt()
			if !ok || haveQuantity {
				return false
			}
			req.Quantity, haveQuantity = q, true
		default:
			return false
		}
		if p.byte('}') {
			return p.end()
		}
		if !p.byte(',') {
			return false
		}
	}
}

// jsonScan reads the few JSON tokens parseReserve takes from b.
type jsonScan struct {
	b []byte
	i int
}

func (p *jsonScan) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte takes c after white space.
func (p *jsonScan) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *jsonScan) end() bool {
	p.space()
	return p.i == len(p.b)
}

// plainString takes a string of printable ASCII without escapes and returns
// its contents.
func (p *jsonScan) plainString() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false
		}
	}
	return nil, false
}

// smallInt takes 0 or a positive integer of at most nine digits.
func (p *jsonScan) smallInt() (int, bool) {
	p.space()
	start, n := p.i, 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' && p.i-start < 10 {
		n = n*10 + int(p.b[p.i]-'0')
		p.i++
	}
	// A fraction or an exponent after the digits is no ',' or '}': the
	// caller refuses it.
	digits := p.i - start
	if digits == 0 || digits > 9 || (digits > 1 && p.b[start] == '0') { // JSON has no leading zeros
		return 0, false
	}
	return n, true
}
