package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// The test binary doubles as the pavilion binary: with PAVILION_TEST_MAIN=1
// it runs main, so tests can start a real process and signal it.
func TestMain(m *testing.M) {
	if os.Getenv("PAVILION_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

var urlRE = regexp.MustCompile(`running at (http://[^\s"]+)`)

// startServer runs `pavilion serve` as a child process on a free port and
// returns its base URL once it is serving.
// stopCleanly sends the server SIGTERM and waits up to 30 s for an exit
// with status 0.
func stopCleanly(t *testing.T, cmd *exec.Cmd, stderr *syncBuffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not stop within 30 s of SIGTERM\n%s", stderr)
	}
}

func startServer(t *testing.T, dataDir string, extra ...string) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--media-port", "0", "--log-format", "json"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PAVILION_TEST_MAIN=1", "PAVILION_DATABASE_URL=", "PAVILION_REDIS_URL=")
	stderr := new(syncBuffer)
	cmd.Stderr = stderr
	return cmd, startCmd(t, cmd), stderr
}

// syncBuffer is a bytes.Buffer that the process's output copier and the
// test may use at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// urlWatcher passes output on to w and reports the first base URL it sees.
type urlWatcher struct {
	w     io.Writer
	mu    sync.Mutex
	line  []byte
	found chan string
}

func (u *urlWatcher) Write(p []byte) (int, error) {
	u.mu.Lock()
	u.line = append(u.line, p...)
	for {
		i := bytes.IndexByte(u.line, '\n')
		if i < 0 {
			break
		}
		if m := urlRE.FindSubmatch(u.line[:i]); m != nil {
			select {
			case u.found <- string(m[1]):
			default:
			}
		}
		u.line = u.line[i+1:]
	}
	u.mu.Unlock()
	return u.w.Write(p)
}

// startCmd starts cmd and returns the base URL it announces once serving:
// the banner on stdout, or with --log-format json the log record on stderr.
// Its output stays in cmd.Stdout and cmd.Stderr when the test set them.
func startCmd(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	if cmd.Stderr == nil {
		cmd.Stderr = new(syncBuffer)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	errOut := cmd.Stderr
	found := make(chan string, 1)
	cmd.Stdout = &urlWatcher{w: cmd.Stdout, found: found}
	cmd.Stderr = &urlWatcher{w: errOut, found: found}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	select {
	case base := <-found:
		return base
	// Generous: a start migrates and seeds under the race detector, on a
	// machine CI loads with every other package's tests.
	case <-time.After(90 * time.Second):
		t.Fatalf("server did not start; stderr:\n%s", errOut)
	}
	return ""
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// runCLI runs a one-shot subcommand in process and returns its stdout.
func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	out, _, err := runCLI2(t, stdin, args...)
	return out, err
}

// runCLI2 runs a one-shot subcommand in process and returns its stdout and stderr.
func runCLI2(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestServeDemoRestart is `make run` end to end: the server starts with demo
// data, `pavilion demo --json` works beside it and hands out working tokens,
// SIGTERM stops it cleanly, and after a restart everything is still there.
func TestServeDemoRestart(t *testing.T) {
	dir := t.TempDir()
	cmd, base, stderr := startServer(t, dir, "--demo")
	if code, _ := get(t, base+"/healthz", ""); code != 200 {
		t.Fatalf("healthz = %d", code)
	}
	code, body := get(t, base+"/readyz", "")
	var ready struct {
		Schema struct {
			Status            string
			Version, Expected int64
		}
	}
	if err := json.Unmarshal(body, &ready); code != 200 || err != nil || ready.Schema.Status != "ok" ||
		ready.Schema.Version == 0 || ready.Schema.Version != ready.Schema.Expected {
		t.Fatalf("readyz = %d %s", code, body)
	}

	// The demo command, against the same data directory while the server runs.
	out, err := runCLI(t, "", "demo", "--json", "--data-dir", dir, "--public-url", base)
	if err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	var creds map[string]any
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatalf("demo --json output is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"show_id", "stream_key", "whip_url", "whep_url", "watch_url", "studio_url", "brand_id", "offer_ids",
		"viewer_token", "member_token", "host_token", "brand_admin_token", "admin_token"} {
		if v, ok := creds[k]; !ok || v == "" || v == nil {
			t.Errorf("demo --json lacks %q", k)
		}
	}
	if n := len(creds["offer_ids"].([]any)); n == 0 {
		t.Error("demo --json has no offers")
	}
	for _, role := range []string{"viewer", "member", "host", "brand_admin", "admin"} {
		code, body := get(t, base+"/api/me", creds[role+"_token"].(string))
		if code != 200 || !strings.Contains(string(body), `"`+role+`"`) {
			t.Errorf("%s token on the running server: %d %s", role, code, body)
		}
	}
	showURL := base + "/api/shows/" + creds["show_id"].(string)
	code, body = get(t, showURL, "")
	if code != 200 || strings.Count(string(body), `"sku_id"`) != len(creds["offer_ids"].([]any)) {
		t.Fatalf("demo show: %d %s", code, body)
	}

	// SIGTERM: a clean, logged shutdown with exit status 0.
	stopCleanly(t, cmd, stderr)
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Fatalf("no clean stop in the log:\n%s", stderr)
	}

	// Restart on the same data: seeding again changes nothing and the tokens still work.
	_, base, _ = startServer(t, dir, "--demo")
	if code, body := get(t, base+"/api/me", creds["admin_token"].(string)); code != 200 {
		t.Fatalf("token after restart: %d %s", code, body)
	}
	code, body2 := get(t, base+"/api/brands/"+creds["brand_id"].(string)+"/products", "")
	if code != 200 || strings.Count(string(body2), `"code"`) != 7 {
		t.Fatalf("products after a second seed: %d %s", code, body2)
	}
}

func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data-dir", dir}
	out, err := runCLI(t, "", append([]string{"user", "create", "--email", "Ops@Example.com", "--role", "admin"}, data...)...)
	if err != nil || !strings.Contains(out, "created ops@example.com") || !strings.Contains(out, "password: ") {
		t.Fatalf("create admin: %v\n%s", err, out)
	}
	out, err = runCLI(t, "", append([]string{"user", "create", "--email", "ops@example.com"}, data...)...)
	if err == nil || !strings.Contains(err.Error(), "already") {
		t.Fatalf("duplicate create: %v %s", err, out)
	}
	out, err = runCLI(t, "a long enough secret\n", append([]string{"user", "reset-password", "--email", "ops@example.com", "--password-stdin"}, data...)...)
	if err != nil || strings.Contains(out, "password: ") {
		t.Fatalf("reset: %v\n%s", err, out)
	}
	if _, err = runCLI(t, "", append([]string{"user", "create", "--email", "h@example.com", "--role", "wizard"}, data...)...); err == nil {
		t.Fatal("an unknown role was accepted")
	}
	if _, err = runCLI(t, "", append([]string{"user", "create", "--email", "b@example.com", "--brand", "no-such-brand"}, data...)...); err == nil {
		t.Fatal("an unknown brand was accepted")
	}
	if _, err = runCLI(t, "", append([]string{"demo"}, data...)...); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "", append([]string{"user", "roles", "--email", "h@example.com", "--role", "host"}, data...)...)
	if err == nil {
		t.Fatalf("roles for a missing user: %s", out)
	}
	if _, err = runCLI(t, "", append([]string{"user", "create", "--email", "b@example.com", "--brand", "maison-lumiere", "--password", "brand-password"}, data...)...); err != nil {
		t.Fatal(err)
	}
	out, err = runCLI(t, "", append([]string{"user", "roles", "--email", "b@example.com", "--role", "host,member"}, data...)...)
	if err != nil || !strings.Contains(out, "administers 0 brand(s)") {
		t.Fatalf("roles: %v\n%s", err, out)
	}
	out, err = runCLI(t, "", append([]string{"migrate"}, data...)...)
	if err != nil || !strings.Contains(out, "schema at version") {
		t.Fatalf("migrate: %v %s", err, out)
	}
}

func TestServeFlags(t *testing.T) {
	out, err := runCLI(t, "", "serve", "-h")
	if err == nil || !strings.Contains(out, "PAVILION_HTTP") || !strings.Contains(out, "PAVILION_DATABASE_URL") || !strings.Contains(out, "PAVILION_MEDIA_PORT") {
		t.Fatalf("serve -h does not document the environment: %v\n%s", err, out)
	}
	t.Setenv("PAVILION_MEDIA_PORT", "lots")
	if _, err := runCLI(t, "", "serve", "--data-dir", filepath.Join(t.TempDir(), "d")); err == nil || !strings.Contains(err.Error(), "PAVILION_MEDIA_PORT") {
		t.Fatalf("a bad environment value was not reported: %v", err)
	}
	if _, err := runCLI(t, "", "bogus"); err == nil {
		t.Fatal("an unknown command was accepted")
	}
}

// TestServeClusterMode runs the server on PostgreSQL and Redis: it migrates,
// seeds, reports both dependencies ready, and the demo command works beside it.
func TestServeClusterMode(t *testing.T) {
	pg := testinfra.Postgres(t)
	redisURL, _ := testinfra.Redis(t)
	cmd := exec.Command(os.Args[0], "serve", "--http", "127.0.0.1:0", "--media-port", "0", "--demo", "--log-format", "json")
	cmd.Env = append(os.Environ(), "PAVILION_TEST_MAIN=1", "PAVILION_DATABASE_URL="+pg, "PAVILION_REDIS_URL="+redisURL)
	base := startCmd(t, cmd)
	code, body := get(t, base+"/readyz", "")
	if code != 200 || !strings.Contains(string(body), `"bus":"ok"`) || !strings.Contains(string(body), `"store":"ok"`) {
		t.Fatalf("readyz = %d %s", code, body)
	}
	out, err := runCLI(t, "", "demo", "--json", "--database-url", pg, "--public-url", base)
	if err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	var creds map[string]any
	if err := json.Unmarshal([]byte(out), &creds); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, base+"/api/me", creds["brand_admin_token"].(string)); code != 200 {
		t.Fatalf("token from the demo command on the PostgreSQL server: %d %s", code, body)
	}
}
