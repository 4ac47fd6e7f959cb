package rawhttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// script serves each connection with answer, called once per request read
// off it; it counts the connections accepted.
type script struct {
	ln    net.Listener
	conns atomic.Int32
}

func serve(t *testing.T, answer func(nc net.Conn, n int) bool) *script {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &script{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if !answer(nc, n) {
						return
					}
				}
			}()
		}
	}()
	return s
}

func (s *script) addr() string { return s.ln.Addr().String() }

const get = "GET /x HTTP/1.1\r\nHost: test\r\n\r\n"

func TestKeepAliveAndChunked(t *testing.T) {
	s := serve(t, func(nc net.Conn, n int) bool {
		if n%2 == 0 {
			_, _ = io.WriteString(nc, "HTTP/1.1 409 Conflict\r\ncontent-length: 5\r\nX-Other: y\r\n\r\nhello")
		} else {
			_, _ = io.WriteString(nc, "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
		}
		return true
	})
	c := New(context.Background(), s.addr(), time.Second)
	defer c.Close()
	for i := range 4 {
		r, err := c.Do([]byte(get))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		want := Response{Status: 409, Body: []byte("hello")}
		if i%2 == 1 {
			want = Response{Status: 201, Body: []byte("abcde")}
		}
		if r.Status != want.Status || string(r.Body) != string(want.Body) {
			t.Errorf("request %d = %d %q, want %d %q", i, r.Status, r.Body, want.Status, want.Body)
		}
	}
	if n := s.conns.Load(); n != 1 {
		t.Errorf("%d connections for 4 requests, want 1 kept alive", n)
	}
}

func TestConnectionCloseRedials(t *testing.T) {
	s := serve(t, func(nc net.Conn, _ int) bool {
		_, _ = io.WriteString(nc, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
		return false
	})
	c := New(context.Background(), s.addr(), time.Second)
	defer c.Close()
	for i := range 3 {
		if r, err := c.Do([]byte(get)); err != nil || r.Status != 200 || string(r.Body) != "ok" {
			t.Fatalf("request %d = %d %q, %v", i, r.Status, r.Body, err)
		}
	}
	if n := s.conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3: the server closes each", n)
	}
}

// A broken answer is an error, never a hang, and the next request gets a
// fresh connection.
func TestBrokenAnswers(t *testing.T) {
	cases := map[string]string{
		"not HTTP":             "SSH-2.0-OpenSSH\r\n\r\n",
		"bad status":           "HTTP/1.1 2x1 Created\r\nContent-Length: 0\r\n\r\n",
		"bad length":           "HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\n",
		"two lengths":          "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
		"header without colon": "HTTP/1.1 200 OK\r\nbroken\r\n\r\n",
		"gzip encoding":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"short body":           "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this",
		"bad chunk":            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
		"closed in headers":    "HTTP/1.1 200 OK\r\nContent-Le",
		"closed at once":       "",
		"too long":             "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
	}
	for name, answer := range cases {
		t.Run(name, func(t *testing.T) {
			s := serve(t, func(nc net.Conn, n int) bool {
				if n == 0 {
					_, _ = io.WriteString(nc, answer)
					return false // and close
				}
				return true
			})
			c := New(context.Background(), s.addr(), 2*time.Second)
			defer c.Close()
			start := time.Now()
			r, err := c.Do([]byte(get))
			if err == nil {
				t.Fatalf("answer %q read as %d %q, want an error", answer, r.Status, r.Body)
			}
			if time.Since(start) > time.Second {
				t.Errorf("the error took %v: it waited for the timeout", time.Since(start))
			}
			if c.nc != nil {
				t.Error("the connection was kept after a broken answer")
			}
		})
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	s := serve(t, func(net.Conn, int) bool {
		time.Sleep(5 * time.Second) // never answers in time
		return false
	})
	c := New(context.Background(), s.addr(), 150*time.Millisecond)
	defer c.Close()
	start := time.Now()
	_, err := c.Do([]byte(get))
	var ne net.Error
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("silent server: %v, want a timeout", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the timeout took %v", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	c2 := New(ctx, s.addr(), time.Minute)
	defer c2.Close()
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if _, err := c2.Do([]byte(get)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the cancelled request took %v to return", d)
	}
	if _, err := c2.Do([]byte(get)); !errors.Is(err, context.Canceled) {
		t.Errorf("a request after the cancel: %v, want context.Canceled", err)
	}
}

// Against Go's own server: a body that does not fit its buffer comes
// chunked; a HEAD-less 204 has none.
func TestGoServer(t *testing.T) {
	big := strings.Repeat("x", 10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = io.WriteString(w, big)
		case "/none":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "nope", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c := New(context.Background(), srv.Listener.Addr().String(), time.Second)
	defer c.Close()
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{{"/big", 200, big}, {"/none", 204, ""}, {"/other", 404, "nope\n"}, {"/big", 200, big}} {
		r, err := c.Do([]byte("GET " + tc.path + " HTTP/1.1\r\nHost: test\r\n\r\n"))
		if err != nil || r.Status != tc.status || string(r.Body) != tc.body {
			t.Errorf("GET %s = %d (%d bytes), %v; want %d (%d bytes)", tc.path, r.Status, len(r.Body), err, tc.status, len(tc.body))
		}
	}
}
