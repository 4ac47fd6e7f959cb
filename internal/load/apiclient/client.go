// Package apiclient is pavload's client of Pavilion's public HTTP API:
// requests with bearer tokens and idempotency keys, error codes, token-only
// accounts made as the platform admin, and the show's offers.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one Pavilion server over its public HTTP API. It holds a
// shared keep-alive transport; every call names the bearer token it acts with.
type Client struct {
	base    string // without a trailing slash
	http    *http.Client
	timeout time.Duration // per request
}

// NewClient returns a client whose transport keeps up to conns idle
// connections to the server, so that conns workers never re-dial.
func NewClient(base string, conns int, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--base %q must be an http:// or https:// URL", base)
	}
	tr := &http.Transport{
		Proxy:               nil, // a load generator must hit the server, never a proxy from the environment
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &Client{
		base:    strings.TrimRight(base, "/"),
		http:    &http.Client{Transport: tr},
		timeout: timeout,
	}, nil
}

// Close drops the idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Response is one answer: status, the error code when there is one, and the
// body (nil when not asked for).
type Response struct {
	Status int
	Code   string // the JSON error code ("sold_out"), empty on success
	Body   []byte
}

// apiError is an unexpected answer from the server.
type apiError struct {
	method, path string
	status       int
	code         string
	message      string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.method, e.path, e.status, e.code, e.message)
}

// errorShape is the server's one JSON error shape.
type errorShape struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// Do sends one request and reads the whole answer (so that the connection
// goes back to the pool). body is sent as is; key, when set, goes in the
// Idempotency-Key header.
func (c *Client) Do(ctx context.Context, method, path, token, key string, body []byte) (Response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return Response{}, err
	}
	r := Response{Status: resp.StatusCode, Body: b}
	if resp.StatusCode >= 300 {
		r.Code = ErrorCode(b)
	}
	return r, nil
}

// ErrorCode is the code of the server's JSON error shape in body, or empty.
func ErrorCode(body []byte) string {
	var e errorShape
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	return e.Error.Code
}

// Call is do for set-up and verification calls: it wants status want and
// decodes the answer into out.
func (c *Client) Call(ctx context.Context, method, path, token string, in, out any, want int) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	r, err := c.Do(ctx, method, path, token, "", body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if r.Status != want {
		var e errorShape
		_ = json.Unmarshal(r.Body, &e)
		msg := e.Error.Message
		if msg == "" {
			msg = strings.TrimSpace(string(r.Body))
			if len(msg) > 200 {
				msg = msg[:200] + "…"
			}
		}
		return &apiError{method: method, path: path, status: r.Status, code: r.Code, message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}

// TransportOutcome names a request that got no HTTP answer.
func TransportOutcome(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	default:
		return "transport_error"
	}
}

// Base is the server's base URL, without a trailing slash.
func (c *Client) Base() string { return c.base }

// Timeout is the per-request timeout.
func (c *Client) Timeout() time.Duration { return c.timeout }
