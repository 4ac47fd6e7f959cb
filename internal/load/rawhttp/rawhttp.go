// Package rawhttp is a minimal HTTP/1.1 client for a load generator's hot
// loop: one keep-alive TCP connection, requests the caller has written as
// bytes, answers read into a buffer reused from one request to the next.
// It costs a fraction of net/http's CPU per request because it does none
// of what a load loop does not need: no pool, no header maps, no goroutine
// per connection, no per-request context timer.
package rawhttp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"sync"
	"time"
)

// MaxBody is the largest answer body read; a longer one is an error.
const MaxBody = 8 << 20

// ErrMalformed is an answer that is not HTTP/1.1 as this client reads it.
var ErrMalformed = errors.New("malformed HTTP answer")

// Response is one answer. Body is valid until the next Do.
type Response struct {
	Status int
	Body   []byte
}

// Conn is one keep-alive connection to addr, used by one goroutine at a
// time. It dials on first use and again after an error or a "Connection:
// close"; a request is never retried.
type Conn struct {
	addr    string
	timeout time.Duration
	ctx     context.Context
	stop    func() bool

	mu sync.Mutex // guards nc against the cancellation hook
	nc net.Conn
	br *bufio.Reader

	body []byte
}

// New returns a connection to addr (host:port) whose every request must be
// answered within timeout; when ctx ends, a request in flight fails at once
// and no other starts.
func New(ctx context.Context, addr string, timeout time.Duration) *Conn {
	c := &Conn{addr: addr, timeout: timeout, ctx: ctx}
	c.stop = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.nc != nil {
			_ = c.nc.SetDeadline(time.Unix(1, 0))
		}
	})
	return c
}

// Open dials now, if not connected yet, so that the first request does not.
func (c *Conn) Open() error {
	if c.nc != nil {
		return nil
	}
	return c.dial()
}

func (c *Conn) dial() error {
	d := net.Dialer{Timeout: c.timeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(c.ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ctx.Err(); err != nil {
		_ = nc.Close()
		return err
	}
	c.nc = nc
	if c.br == nil {
		c.br = bufio.NewReaderSize(nc, 4096)
	} else {
		c.br.Reset(nc)
	}
	return nil
}

// Close closes the connection; the Conn must not be used after.
func (c *Conn) Close() {
	c.stop()
	c.drop()
}

func (c *Conn) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
	}
}

// Do sends req, a whole HTTP/1.1 request, and reads its answer. Any error
// drops the connection (the next Do dials again); when ctx has ended the
// error is ctx's.
func (c *Conn) Do(req []byte) (Response, error) {
	if err := c.ctx.Err(); err != nil {
		return Response{}, err
	}
	if c.nc == nil {
		if err := c.dial(); err != nil {
			return Response{}, c.fail(err)
		}
	}
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return Response{}, c.fail(err)
	}
	// The hook may have set its past deadline just before ours.
	if err := c.ctx.Err(); err != nil {
		return Response{}, c.fail(err)
	}
	if _, err := c.nc.Write(req); err != nil {
		return Response{}, c.fail(err)
	}
	r, keep, err := c.read()
	if err != nil {
		return Response{}, c.fail(err)
	}
	if !keep {
		c.drop()
	}
	return r, nil
}

func (c *Conn) fail(err error) error {
	c.drop()
	if cerr := c.ctx.Err(); cerr != nil {
		return cerr
	}
	return err
}

// read reads one answer: its status line, the headers it needs and the body.
func (c *Conn) read() (Response, bool, error) {
	line, err := c.line()
	if err != nil {
		return Response{}, false, err
	}
	// "HTTP/1.1 201 Created"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return Response{}, false, fmt.Errorf("%w: status line %q", ErrMalformed, clip(line))
	}
	status := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return Response{}, false, fmt.Errorf("%w: status line %q", ErrMalformed, clip(line))
		}
		status = status*10 + int(d-'0')
	}
	keep := line[7] == '1' // HTTP/1.0 closes unless told otherwise; this client never asks
	length, chunked := -1, false
	for n := 0; ; n++ {
		h, err := c.line()
		if err != nil {
			return Response{}, false, err
		}
		if len(h) == 0 {
			break
		}
		if n == 100 {
			return Response{}, false, fmt.Errorf("%w: over 100 header lines", ErrMalformed)
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return Response{}, false, fmt.Errorf("%w: header line %q", ErrMalformed, clip(h))
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			v, err := strconv.ParseUint(string(value), 10, 31) // string(value) does not escape: no allocation
			if err != nil || (length >= 0 && int(v) != length) {
				return Response{}, false, fmt.Errorf("%w: Content-Length %q", ErrMalformed, clip(value))
			}
			length = int(v)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return Response{}, false, fmt.Errorf("%w: Transfer-Encoding %q", ErrMalformed, clip(value))
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			keep = !bytes.EqualFold(value, []byte("close"))
		}
	}
	if status/100 == 1 {
		return Response{}, false, fmt.Errorf("%w: interim answer %d", ErrMalformed, status)
	}
	r := Response{Status: status}
	switch {
	case status == 204 || status == 304:
		r.Body = c.body[:0]
	case chunked:
		r.Body, err = c.readChunked()
	case length >= 0:
		if length > MaxBody {
			return Response{}, false, fmt.Errorf("%w: a body of %d bytes", ErrMalformed, length)
		}
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		r.Body = c.body[:length]
		_, err = io.ReadFull(c.br, r.Body)
	default:
		// No length: the body runs to the end of the connection.
		keep = false
		r.Body, err = c.readAll(c.br)
	}
	if err != nil {
		return Response{}, false, err
	}
	return r, keep, nil
}

// line reads one header line, without its CRLF.
func (c *Conn) line() ([]byte, error) {
	l, err := c.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("%w: a header line over %d bytes", ErrMalformed, c.br.Size())
	case errors.Is(err, io.EOF) && len(l) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	return bytes.TrimSuffix(l[:len(l)-1], []byte("\r")), nil
}

func (c *Conn) readChunked() ([]byte, error) {
	b, err := c.readAll(httputil.NewChunkedReader(c.br))
	if err != nil {
		return nil, err
	}
	// The trailer, if any, up to its empty line.
	for {
		l, err := c.line()
		if err != nil {
			return nil, err
		}
		if len(l) == 0 {
			return b, nil
		}
	}
}

func (c *Conn) readAll(r io.Reader) ([]byte, error) {
	b := c.body[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > MaxBody {
			return nil, fmt.Errorf("%w: a body over %d bytes", ErrMalformed, MaxBody)
		}
		if errors.Is(err, io.EOF) {
			c.body = b
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func clip(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}
