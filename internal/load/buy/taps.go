package buy

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"github.com/pavilion-live/pavilion/internal/load/apiclient"
	"github.com/pavilion-live/pavilion/internal/load/rawhttp"
)

// The clients that can send the burst's and the loop's taps (--client).
const (
	clientLite = "lite" // rawhttp: one connection per worker, each buyer's request written once
	clientStd  = "std"  // net/http, through apiclient
)

// tapper sends one worker's taps, one at a time.
type tapper interface {
	// warm opens the worker's connection before the barrier.
	warm(ctx context.Context)
	// reserve taps once as buyer b with idempotency key key (none when
	// empty). The answer's Body is only valid until the next reserve.
	reserve(ctx context.Context, b int, key []byte) (apiclient.Response, error)
	close()
}

// stdTapper taps through net/http.
type stdTapper struct{ s *stampede }

func (t stdTapper) warm(ctx context.Context) {
	// One cheap request opens this worker's keep-alive connection.
	_, _ = t.s.c.Do(ctx, http.MethodGet, "/healthz", "", "", nil)
}

func (t stdTapper) reserve(ctx context.Context, b int, key []byte) (apiclient.Response, error) {
	return t.s.c.Do(ctx, http.MethodPost, "/api/reservations", t.s.buyers[b].Token, string(key), t.s.body)
}

func (stdTapper) close() {}

// liteRequests is every buyer's reserve request, written once: all of it
// but the idempotency key and the body, which each tap appends.
type liteRequests struct {
	addr  string   // host:port
	heads [][]byte // per buyer: request line and headers, without the final CRLF
	body  []byte
}

func newLiteRequests(base string, buyers []apiclient.Account, body []byte) (*liteRequests, error) {
	addr, host, err := liteAddr(base)
	if err != nil {
		return nil, err
	}
	lr := &liteRequests{addr: addr, heads: make([][]byte, len(buyers)), body: body}
	for i, a := range buyers {
		h := make([]byte, 0, 160+len(a.Token))
		h = append(h, "POST /api/reservations HTTP/1.1\r\nHost: "...)
		h = append(h, host...)
		h = append(h, "\r\nAuthorization: Bearer "...)
		h = append(h, a.Token...)
		h = append(h, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		h = strconv.AppendInt(h, int64(len(body)), 10)
		h = append(h, "\r\n"...)
		lr.heads[i] = h
	}
	return lr, nil
}

// liteAddr is where the lite client dials for base, and the Host it sends.
func liteAddr(base string) (addr, host string, err error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", "", fmt.Errorf("--client lite speaks plain HTTP only: --base %q must be an http:// URL (or use --client std)", base)
	}
	addr = u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return addr, u.Host, nil
}

// liteTapper taps over its own rawhttp connection.
type liteTapper struct {
	reqs *liteRequests
	conn *rawhttp.Conn
	buf  []byte
}

func (s *stampede) newTapper(ctx context.Context) tapper {
	if s.lite == nil {
		return stdTapper{s}
	}
	return &liteTapper{reqs: s.lite, conn: rawhttp.New(ctx, s.lite.addr, s.c.Timeout())}
}

func (t *liteTapper) warm(context.Context) { _ = t.conn.Open() }

func (t *liteTapper) reserve(_ context.Context, b int, key []byte) (apiclient.Response, error) {
	req := append(t.buf[:0], t.reqs.heads[b]...)
	if len(key) > 0 {
		req = append(req, "Idempotency-Key: "...)
		req = append(req, key...)
		req = append(req, "\r\n"...)
	}
	req = append(req, "\r\n"...)
	req = append(req, t.reqs.body...)
	t.buf = req
	r, err := t.conn.Do(req)
	if err != nil {
		return apiclient.Response{}, err
	}
	out := apiclient.Response{Status: r.Status, Body: r.Body}
	if r.Status >= 300 {
		out.Code = errorCode(r.Body)
	}
	return out, nil
}

func (t *liteTapper) close() { t.conn.Close() }

// errorCode is the code of the server's JSON error shape, as apiclient.Do
// reads it, without decoding the whole body when it starts as the server
// writes it, and without allocating for the codes a stampede meets most.
func errorCode(body []byte) string {
	const lead = `{"error":{"code":"`
	if rest, ok := bytes.CutPrefix(body, []byte(lead)); ok {
		if code, _, ok := bytes.Cut(rest, []byte(`"`)); ok && bytes.IndexByte(code, '\\') < 0 {
			switch string(code) {
			case outSoldOut:
				return outSoldOut
			case outLimitReached:
				return outLimitReached
			}
			return string(code)
		}
	}
	return apiclient.ErrorCode(body)
}
