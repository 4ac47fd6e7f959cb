package main

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

// client talks to one Pavilion server over its public HTTP API. It holds a
// shared keep-alive transport; every call names the bearer token it acts with.
type client struct {
	base    string // without a trailing slash
	http    *http.Client
	timeout time.Duration // per request
}

// newClient returns a client whose transport keeps up to conns idle
// connections to the server, so that conns workers never re-dial.
func newClient(base string, conns int, timeout time.Duration) (*client, error) {
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
	return &client{
		base:    strings.TrimRight(base, "/"),
		http:    &http.Client{Transport: tr},
		timeout: timeout,
	}, nil
}

// close drops the idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// response is one answer: status, the error code when there is one, and the
// body (nil when not asked for).
type response struct {
	status int
	code   string // the JSON error code ("sold_out"), empty on success
	body   []byte
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

// do sends one request and reads the whole answer (so that the connection
// goes back to the pool). body is sent as is; key, when set, goes in the
// Idempotency-Key header.
func (c *client) do(ctx context.Context, method, path, token, key string, body []byte) (response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return response{}, err
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
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return response{}, err
	}
	r := response{status: resp.StatusCode, body: b}
	if resp.StatusCode >= 300 {
		var e errorShape
		if json.Unmarshal(b, &e) == nil {
			r.code = e.Error.Code
		}
	}
	return r, nil
}

// call is do for set-up and verification calls: it wants status want and
// decodes the answer into out.
func (c *client) call(ctx context.Context, method, path, token string, in, out any, want int) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	r, err := c.do(ctx, method, path, token, "", body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if r.status != want {
		var e errorShape
		_ = json.Unmarshal(r.body, &e)
		msg := e.Error.Message
		if msg == "" {
			msg = strings.TrimSpace(string(r.body))
			if len(msg) > 200 {
				msg = msg[:200] + "…"
			}
		}
		return &apiError{method: method, path: path, status: r.status, code: r.code, message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}

// transportOutcome names a request that got no HTTP answer.
func transportOutcome(err error) string {
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
