package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// chromiumPath finds the browser, or skips (fails under CI) naming it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PAVILION_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "browser tests need Chromium (Debian package chromium, /usr/bin/chromium); not found"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// server is the real pavilion binary, started with the demo data.
type server struct {
	base string
	cmd  *exec.Cmd
	logs *logTail
}

// logTail keeps the server's last lines for failure messages.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	if len(l.lines) > 80 {
		l.lines = l.lines[len(l.lines)-80:]
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// freePort finds a port free for both TCP and UDP (the media port is both).
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// binary is the pavilion server built once for the package's tests.
var binary struct {
	once sync.Once
	path string
	err  error
}

// TestMain removes the built binary and stops the shared browser at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	shared.close()
	os.Exit(code)
}

func buildServer(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		root, err := filepath.Abs("../..")
		if err != nil {
			binary.err = err
			return
		}
		dir, err := os.MkdirTemp("", "pavilion-e2e-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "pavilion")
		build := exec.Command("go", "build", "-o", binary.path, "./cmd/pavilion")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build ./cmd/pavilion: %w\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func startServer(t *testing.T) *server {
	t.Helper()
	bin := buildServer(t)
	httpPort, mediaPort := freePort(t), freePort(t)
	for mediaPort == httpPort {
		mediaPort = freePort(t)
	}
	s := &server{base: fmt.Sprintf("http://127.0.0.1:%d", httpPort), logs: &logTail{}}
	s.cmd = exec.Command(bin, "serve", "--demo", "--data-dir", t.TempDir(),
		"--http", fmt.Sprintf("127.0.0.1:%d", httpPort), "--media-port", fmt.Sprint(mediaPort))
	s.cmd.Env = append(os.Environ(), "PAVILION_LOG_LEVEL=warn")
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.logs.add(sc.Text())
		}
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server log (last lines):\n%s", s.logs)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(s.base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready at %s: %v\n%s", s.base, err, s.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// apiCall is a JSON request as a signed-in script would make it.
func apiCall(t *testing.T, s *server, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		_ = json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// login answers a bearer token for a demo account.
func token(t *testing.T, s *server, email string) string {
	t.Helper()
	jar := &http.Client{}
	b, _ := json.Marshal(map[string]string{"email": email, "password": demoPassword})
	res, err := jar.Post(s.base+"/api/auth/login", "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var cookie string
	for _, c := range res.Cookies() {
		if c.Name == "pavilion_session" {
			cookie = c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("log in %s: %s", email, res.Status)
	}
	req, _ := http.NewRequest("POST", s.base+"/api/tokens", strings.NewReader(`{"name":"e2e"}`))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "pavilion_session", Value: cookie})
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Token == "" {
		t.Fatalf("token for %s: %s %v", email, res.Status, err)
	}
	return out.Token
}

// browser is one headless Chromium; each user gets a browser context of
// their own (separate cookies), like separate people on separate phones.
type browser struct {
	ctx context.Context
}

// startBrowser answers the package's shared browser, or with extra options
// a browser of the test's own.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := chromiumPath(t)
	if len(extra) > 0 {
		b, stop, err := launchBrowser(path, t.TempDir(), extra...)
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
		t.Cleanup(stop)
		return b
	}
	b, err := shared.get(path)
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// shared is the browser the tests share. Each user is a browser context of
// its own (cookies, storage and cache apart), closed with the test, so a
// test needs no browser of its own; starting and stopping Chromium for every
// test was seconds of each on a loaded machine.
var shared sharedBrowser

type sharedBrowser struct {
	mu   sync.Mutex
	b    *browser
	stop func()
	dir  string
}

// get answers the shared browser, starting one if there is none or the last
// one has gone (crashed), so one test's crash does not fail the others.
func (s *sharedBrowser) get(path string) (*browser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b != nil && s.b.ctx.Err() == nil {
		return s.b, nil
	}
	s.closeLocked()
	dir, err := os.MkdirTemp("", "pavilion-e2e-chromium-")
	if err != nil {
		return nil, err
	}
	b, stop, err := launchBrowser(path, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.b, s.stop, s.dir = b, stop, dir
	return b, nil
}

func (s *sharedBrowser) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeLocked()
}

func (s *sharedBrowser) closeLocked() {
	if s.stop != nil {
		s.stop()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	s.b, s.stop, s.dir = nil, nil, ""
}

// launchBrowser starts a headless Chromium with its profile in dataDir.
func launchBrowser(path, dataDir string, extra ...chromedp.ExecAllocatorOption) (*browser, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(dataDir),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Host candidates as plain addresses: the server answers to them, and
		// mDNS names do not resolve in a container.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1440, 900),
	)
	opts = append(opts, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	stop := func() { cancel(); cancelAlloc() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return &browser{ctx: ctx}, stop, nil
}

// user is one person's tab in a browser context of its own.
type user struct {
	t    *testing.T
	name string
	ctx  context.Context
	base string
	errs *consoleLog
}

type consoleLog struct {
	mu   sync.Mutex
	msgs []string
}

func (b *browser) newUser(t *testing.T, s *server, name string) *user {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab for %s: %v", name, err)
	}
	u := &user{t: t, name: name, ctx: ctx, base: s.base, errs: &consoleLog{}}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || (m.Type == "error" && !strings.Contains(m.Text, "Failed to load resource")) {
				u.errs.mu.Lock()
				u.errs.msgs = append(u.errs.msgs, m.String())
				u.errs.mu.Unlock()
			}
		}
	}()
	return u
}

// do runs actions with a deadline, failing the test with what went wrong.
func (u *user) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	defer cancel()
	for _, a := range actions {
		if err := doSettled(ctx, a); err != nil {
			u.t.Fatalf("%s: %s: %v%s", u.name, what, err, u.consoleErrors())
		}
	}
}

// doSettled runs one action, again when the element it found was replaced
// before it could act on it. Live pages re-render on every room event (a
// stock change redraws the pinned card, a tick redraws the draw panel), so
// between chromedp's lookup and its click the node id can go stale; the
// browser then answers "Could not find node with given id" (-32000) before
// any input was dispatched, which makes the retry safe.
func doSettled(ctx context.Context, a chromedp.Action[chromedp.Void]) error {
	for attempt := 0; ; attempt++ {
		err := chromedp.Do(ctx, a)
		var cdpErr *cdproto.Error
		if err == nil || attempt == 4 || !errors.As(err, &cdpErr) || cdpErr.Code != -32000 ||
			!strings.Contains(cdpErr.Message, "Could not find node") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (u *user) consoleErrors() string {
	u.errs.mu.Lock()
	defer u.errs.mu.Unlock()
	if len(u.errs.msgs) == 0 {
		return ""
	}
	return "\nbrowser console errors:\n  " + strings.Join(u.errs.msgs, "\n  ")
}

// eval runs a script (awaiting a promise) and decodes its value.
func eval[T any](u *user, script string) T {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
	if err != nil {
		u.t.Fatalf("%s: eval %q: %v%s", u.name, script, err, u.consoleErrors())
	}
	return v
}

// waitFor polls a page expression until it is truthy.
func (u *user) waitFor(what, expr string, timeout time.Duration) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, timeout+5*time.Second)
	defer cancel()
	deadline := time.Now().Add(timeout)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+expr+")", chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(100*time.Millisecond)))
		if err == nil {
			return
		}
		// A poll that started in the page a navigation is replacing loses
		// its JavaScript context; it is the new page that must be polled,
		// not a failure of what is awaited.
		if lostContext(err) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		u.t.Fatalf("%s: waiting for %s: %v%s", u.name, what, err, u.consoleErrors())
	}
}

// lostContext reports whether err says the page's JavaScript context went
// away under a call (the page navigated).
func lostContext(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context with specified id") || strings.Contains(msg, "Execution context was destroyed")
}

func (u *user) open(path string) {
	u.t.Helper()
	u.do("open "+path, chromedp.Navigate(u.base+path))
	u.waitFor("the page to draw", `document.querySelector("#top .logo") && document.querySelector("#top .logo").textContent !== ""`, 10*time.Second)
}

// login signs in through the header's log-in dialog.
func (u *user) login(email string) {
	u.t.Helper()
	u.do("open the log-in dialog", chromedp.Click(chromedp.ID("login-open")), chromedp.WaitVisible(chromedp.ID("auth-email")))
	u.fillLogin(email)
}

func (u *user) fillLogin(email string) {
	u.t.Helper()
	u.do("log in",
		chromedp.SendKeys(chromedp.ID("auth-email"), email),
		chromedp.SendKeys(chromedp.ID("auth-password"), demoPassword),
		chromedp.Click(chromedp.ID("auth-submit")),
	)
	u.waitFor("signed in", `document.querySelector("#logout")`, 10*time.Second)
}

const demoPassword = demo.Password
