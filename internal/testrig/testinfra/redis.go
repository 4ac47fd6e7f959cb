package testinfra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Redis returns the shared test Redis URL and a key prefix of the form
// "pavtest:<hex>:" that no other test uses. Keys under the prefix are deleted
// when the test ends.
func Redis(tb testing.TB) (url, prefix string) {
	tb.Helper()
	url = Require(tb, RedisEnv, "Redis")
	prefix = UniqueName("pavtest:") + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := deletePrefix(ctx, url, prefix); err != nil {
			tb.Errorf("testinfra: clean up Redis keys %s*: %v", prefix, err)
		}
	})
	return url, prefix
}

// deletePrefix removes every key starting with prefix. The prefix comes from
// UniqueName, so it holds no glob metacharacters and can go into MATCH as is.
func deletePrefix(ctx context.Context, url, prefix string) error {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("parse %s: %w", RedisEnv, err)
	}
	client := goredis.NewClient(opts)
	defer client.Close()

	var cursor uint64
	for {
		keys, next, err := client.Scan(ctx, cursor, prefix+"*", 500).Result()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			if err := client.Del(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("del: %w", err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// RedisServer starts a private, non-persistent redis-server on a free
// loopback port for tests that need to break the server (restart, kill),
// which the shared one must never see. It is stopped when the test ends.
// restart kills the server and starts a fresh, empty one on the same port;
// call it from the test's goroutine.
//
// Without redis-server on PATH the test skips, or fails under CI=true.
func RedisServer(tb testing.TB) (url string, restart func()) {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if InCI() {
			tb.Fatalf("redis-server is not on PATH: restart tests must run in CI (CI=true)")
		}
		tb.Skip("install redis-server to run the Redis restart tests")
	}

	port, err := freePort()
	if err != nil {
		tb.Fatalf("testinfra: find a free port: %v", err)
	}
	s := &redisServer{bin: bin, port: port, dir: tb.TempDir()}
	if err := s.start(); err != nil {
		tb.Fatalf("testinfra: %v", err)
	}
	tb.Cleanup(s.stop)

	restart = func() {
		tb.Helper()
		s.stop()
		if err := s.start(); err != nil {
			tb.Fatalf("testinfra: restart: %v", err)
		}
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", port), restart
}

// freePort asks the kernel for an unused loopback port. Another process could
// take it before redis-server binds; start reports that clearly if it happens.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type redisServer struct {
	bin   string
	port  int
	dir   string
	extra []string // more redis-server arguments

	cmd    *exec.Cmd
	exited chan struct{}
	out    *SyncBuffer
}

func (s *redisServer) start() error {
	s.out = &SyncBuffer{}
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
	}, s.extra...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited

	if err := s.waitReady(10 * time.Second); err != nil {
		s.stop()
		return fmt.Errorf("redis-server on port %d: %w\n%s", s.port, err, s.out.String())
	}
	return nil
}

// waitReady polls with PING because redis-server has no readiness signal
// when it runs in the foreground.
func (s *redisServer) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	client := goredis.NewClient(&goredis.Options{
		Addr:       fmt.Sprintf("127.0.0.1:%d", s.port),
		MaxRetries: -1,
	})
	defer client.Close()

	for {
		err := client.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return errors.New("exited before answering PING")
		case <-ctx.Done():
			return fmt.Errorf("no PING answer within %v: %w", limit, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop kills the server outright, as a crash would, and waits for it to exit
// so its port is free again.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// SyncBuffer is a bytes.Buffer that writers on other goroutines (a
// process's output copier, a server's logger) and the test may use at once.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
