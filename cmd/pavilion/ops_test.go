package main

import (
	"bufio"
	"bytes"
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
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/demo"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
)

// The operator's side, run as an operator would: the real binary, its exit
// status, what it prints where, and the README's commands as printed.

// binEnv is the environment of a child pavilion process: none of the
// caller's PAVILION_* settings (an empty variable counts as unset), plus env.
func binEnv(env ...string) []string {
	return append(append(os.Environ(), "PAVILION_TEST_MAIN=1", "PAVILION_DATABASE_URL=", "PAVILION_REDIS_URL=",
		"PAVILION_MEDIA_PORT=", "PAVILION_PUBLIC_URL="), env...)
}

// runBin runs the pavilion binary to completion in dir and returns its
// stdout, stderr and exit status.
func runBin(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = binEnv(env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

func TestUsageOnHelp(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-h"}, {"help"}, {"--help"}, {"help", "user"},
		{"serve", "-h"}, {"migrate", "-h"}, {"demo", "-h"}, {"migrate", "--help"},
		{"user", "-h"}, {"user", "create", "-h"}, {"user", "roles", "-h"}, {"user", "reset-password", "-h"},
		{"brand", "-h"}, {"brand", "create", "-h"}, {"gate", "-h"}, {"gate", "reset", "-h"},
		{"verify-draw", "-h"},
	} {
		out, errOut, code := runBin(t, dir, nil, args...)
		if code != 0 || !strings.Contains(out, "Usage") || errOut != "" {
			t.Errorf("pavilion %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	for args, want := range map[string]string{
		"bogus":        `unknown command "bogus"`,
		"user bogus":   `unknown user subcommand "bogus"`,
		"brand delete": `unknown brand subcommand "delete"`,
		"gate open":    `unknown gate subcommand "open"`,
		"user create":  "--email is required",
		"migrate x":    `takes flags only`,
		"serve --nope": "flag provided but not defined: -nope",
		"verify-draw":  "verify-draw takes one record",
	} {
		out, errOut, code := runBin(t, dir, nil, strings.Fields(args)...)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("pavilion %s: exit %d, want 1 and %q on stderr\nstdout:\n%s\nstderr:\n%s", args, code, want, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("a usage or an error created ./data")
	}
}

// TestWrongStore: an empty --database-url (a variable that is not set) is an
// error, not a quiet SQLite file; Redis without a ledger URL is refused; the
// commands and the start-up line name the store, never the password.
func TestWrongStore(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := runBin(t, dir, nil, "migrate", "--database-url", "")
	if code != 1 || !strings.Contains(errOut, "--database-url is empty") {
		t.Fatalf("migrate --database-url '': exit %d\n%s", code, errOut)
	}
	_, errOut, code = runBin(t, dir, nil, "user", "create", "--email", "you@example.com", "--role", "admin", "--database-url", "")
	if code != 1 || !strings.Contains(errOut, "--database-url is empty") {
		t.Fatalf("user create --database-url '': exit %d\n%s", code, errOut)
	}
	_, errOut, code = runBin(t, dir, nil, "serve", "--http", "127.0.0.1:0", "--media-port", "0", "--redis-url", "redis://127.0.0.1:6379/0")
	if code != 1 || !strings.Contains(errOut, "--redis-url needs --database-url") {
		t.Fatalf("serve with Redis and no database: exit %d\n%s", code, errOut)
	}
	_, errOut, code = runBin(t, dir, []string{"PAVILION_REDIS_URL=redis://127.0.0.1:6379/0"}, "serve", "--http", "127.0.0.1:0", "--media-port", "0")
	if code != 1 || !strings.Contains(errOut, "PAVILION_REDIS_URL needs --database-url") {
		t.Fatalf("serve with PAVILION_REDIS_URL and no database: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Fatal("a refused command created ./data")
	}

	out, _, code := runBin(t, dir, nil, "migrate", "--data-dir", "elsewhere")
	if want := "store: sqlite " + filepath.Join(dir, "elsewhere", "pavilion.db"); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("migrate on SQLite: exit %d, want %q in\n%s", code, want, out)
	}

	pg := testinfra.Postgres(t)
	out, _, code = runBin(t, dir, []string{"PAVILION_DATABASE_URL=" + pg}, "migrate")
	name := pg[strings.LastIndex(pg, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	if code != 0 || !strings.Contains(out, "store: postgres host ") || !strings.Contains(out, "database "+name) {
		t.Fatalf("migrate on PostgreSQL: exit %d\n%s", code, out)
	}
	// The same database with a password in the URL: never printed.
	withPW := strings.Replace(pg, "postgres://postgres@", "postgres://postgres:hunter2-secret@", 1)
	cmd := exec.Command(os.Args[0], "serve", "--http", "127.0.0.1:0", "--media-port", "0", "--log-format", "json", "--database-url", withPW)
	cmd.Env = binEnv()
	logs := new(syncBuffer)
	cmd.Stderr = logs
	startCmd(t, cmd)
	if !strings.Contains(logs.String(), `"store":"postgres host `) || !strings.Contains(logs.String(), "database "+name) {
		t.Fatalf("the start-up line does not name the store:\n%s", logs)
	}
	if strings.Contains(logs.String(), "hunter2") {
		t.Fatalf("the password is in the log:\n%s", logs)
	}
}

// Errors from the environment name the variable the operator set.
func TestEnvErrorsNameTheVariable(t *testing.T) {
	dir := t.TempDir()
	for env, want := range map[string]string{
		"PAVILION_MEDIA_PORT=70000":      "PAVILION_MEDIA_PORT 70000 is not a port number",
		"PAVILION_PUBLIC_URL=notaurl":    `PAVILION_PUBLIC_URL "notaurl" must be an absolute http:// or https:// URL`,
		"PAVILION_NODE_URL=ftp://x":      "PAVILION_NODE_URL",
		"PAVILION_HOLD=5h":               "PAVILION_HOLD must be from 1s to 1h",
		"PAVILION_LOG_FORMAT=xml":        "PAVILION_LOG_FORMAT must be text or json",
		"PAVILION_DATABASE_URL=mysql://": "PAVILION_DATABASE_URL must be a postgres://",
	} {
		_, errOut, code := runBin(t, dir, []string{env}, "serve", "--http", "127.0.0.1:0")
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%s: exit %d, want %q in\n%s", env, code, want, errOut)
		}
	}
	// A flag is named as a flag.
	_, errOut, code := runBin(t, dir, nil, "serve", "--media-port", "70000")
	if code != 1 || !strings.Contains(errOut, "--media-port 70000 is not a port number") {
		t.Errorf("--media-port 70000: exit %d\n%s", code, errOut)
	}
}

// TestStaleSchema: a node started with --migrate=false on a schema behind
// its binary refuses to start, naming the missing migrations; once
// migrated, it starts.
func TestStaleSchema(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := runBin(t, dir, nil, "serve", "--migrate=false", "--data-dir", "data", "--http", "127.0.0.1:0", "--media-port", "0")
	if code != 1 || !strings.Contains(errOut, "is behind this binary") || !strings.Contains(errOut, "00001_init.sql") || !strings.Contains(errOut, "pavilion migrate") {
		t.Fatalf("SQLite: exit %d\n%s", code, errOut)
	}

	pg := testinfra.Postgres(t)
	env := []string{"PAVILION_DATABASE_URL=" + pg}
	_, errOut, code = runBin(t, dir, env, "serve", "--migrate=false", "--http", "127.0.0.1:0", "--media-port", "0")
	if code != 1 || !strings.Contains(errOut, "is behind this binary") || !strings.Contains(errOut, "00007_credential_ids.sql") {
		t.Fatalf("PostgreSQL: exit %d\n%s", code, errOut)
	}
	if out, errOut, code := runBin(t, dir, env, "migrate"); code != 0 {
		t.Fatalf("migrate: %d\n%s%s", code, out, errOut)
	}
	cmd := exec.Command(os.Args[0], "serve", "--migrate=false", "--http", "127.0.0.1:0", "--media-port", "0")
	cmd.Env = binEnv(env...)
	base := startCmd(t, cmd)
	if code, body := get(t, base+"/readyz", ""); code != 200 {
		t.Fatalf("readyz after migrate: %d %s", code, body)
	}
}

// TestJSONOnlyLogs: with --log-format json, every line the node writes, on
// stdout and stderr, from start to stop, is one JSON object; the banner is
// a record; a refused cross-origin write is logged with its reason.
func TestJSONOnlyLogs(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--media-port", "0", "--log-format", "json", "--demo")
	cmd.Env = binEnv()
	stdout, stderr := new(syncBuffer), new(syncBuffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	base := startCmd(t, cmd)
	get(t, base+"/api/shows", "")
	req, _ := http.NewRequest("POST", base+"/api/auth/logout", strings.NewReader("{}"))
	req.Header.Set("Origin", "https://elsewhere.example")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || !strings.Contains(string(b), `"code":"forbidden"`) {
		t.Fatalf("cross-origin write: %d %s", res.StatusCode, b)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	var banner, refused bool
	for _, stream := range []string{stdout.String(), stderr.String()} {
		sc := bufio.NewScanner(strings.NewReader(stream))
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Errorf("not a JSON line: %q", sc.Text())
				continue
			}
			banner = banner || (rec["url"] == base && strings.HasPrefix(rec["msg"].(string), "Pavilion is running at"))
			refused = refused || (rec["msg"] == "cross-origin write refused" && rec["origin"] == "https://elsewhere.example" && rec["reason"] != "")
		}
	}
	if !banner || !refused {
		t.Fatalf("banner record %v, explained refusal %v in\n%s", banner, refused, stderr)
	}
}

// TestShutdownAnswers503: a request still running when --shutdown-timeout
// ends gets a whole 503 JSON answer, not an empty reply; the node exits 1
// and says why.
func TestShutdownAnswers503(t *testing.T) {
	cmd := exec.Command(os.Args[0], "serve", "--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--media-port", "0", "--log-format", "json", "--shutdown-timeout", "1s")
	cmd.Env = binEnv()
	logs := new(syncBuffer)
	cmd.Stderr = logs
	base := startCmd(t, cmd)

	// A log-in whose body is slow to come: its handler waits on the body,
	// past the shutdown timeout.
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/auth/login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"email\":", strings.TrimPrefix(base, "http://"))
	time.Sleep(200 * time.Millisecond) // the request reaches its handler
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	answer, err := io.ReadAll(conn)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("reading the answer: %v (%q)", err, answer)
	}
	if !bytes.HasPrefix(answer, []byte("HTTP/1.1 503")) || !bytes.Contains(answer, []byte(`"code":"unavailable"`)) {
		t.Fatalf("answer after the shutdown timeout: %q", answer)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(logs.String(), `"msg":"shutdown timed out"`) || !strings.Contains(logs.String(), `"answered_503":1`) {
		t.Fatalf("the log does not say so:\n%s", logs)
	}
}

// readmeBlocks returns the ```sh blocks of the README section that starts
// with heading, in order.
func readmeBlocks(t *testing.T, heading string) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README has no section %q", heading)
	}
	s = s[i+len(heading)+2:]
	if j := strings.Index(s, "\n#"); j >= 0 {
		s = s[:j]
	}
	var blocks []string
	for {
		i := strings.Index(s, "```sh\n")
		if i < 0 {
			return blocks
		}
		s = s[i+len("```sh\n"):]
		j := strings.Index(s, "```")
		blocks = append(blocks, s[:j])
		s = s[j+3:]
	}
}

// shell runs script with bash in dir, with `pavilion` on PATH being this
// binary, and returns what it printed.
func shell(t *testing.T, dir, script string, env ...string) string {
	t.Helper()
	bin := t.TempDir()
	wrapper := fmt.Sprintf("#!/bin/sh\nPAVILION_TEST_MAIN=1 exec %q \"$@\"\n", os.Args[0])
	if err := os.WriteFile(filepath.Join(bin, "pavilion"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(binEnv(env...), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v running\n%s\noutput:\n%s", err, script, out)
	}
	return string(out)
}

// TestREADMEAccounts runs the README's production account sequence as
// printed on an empty PostgreSQL database.
func TestREADMEAccounts(t *testing.T) {
	pg := testinfra.Postgres(t)
	blocks := readmeBlocks(t, "## The first platform admin (production)")
	if len(blocks) != 1 {
		t.Fatalf("want one command block, got %d", len(blocks))
	}
	// The block sets PAVILION_DATABASE_URL to an example; point it at the
	// test's database instead, leaving every command as printed.
	script := strings.Replace(blocks[0], "export PAVILION_DATABASE_URL='postgres://pavilion:secret@db:5432/pavilion'", "export PAVILION_DATABASE_URL='"+pg+"'", 1)
	if script == blocks[0] {
		t.Fatal("the block no longer sets PAVILION_DATABASE_URL as expected")
	}
	out := shell(t, t.TempDir(), script)
	for _, want := range []string{
		"schema at version", "created you@example.com", "created brand maison-lumiere",
		"created camille@brand.example", "created lina@example.com", "mei@example.com now has roles [viewer member]",
		"camille@brand.example now has roles [viewer host brand_admin] and administers 1 brand(s)",
		"password reset for lina@example.com",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing from\n%s", want, out)
		}
	}
	if strings.Contains(out, "store: sqlite") {
		t.Errorf("a command used SQLite:\n%s", out)
	}
}

// TestBackupRestoreRunbook walks the README's PostgreSQL backup and restore
// as printed: a dump while the node serves, a sale after it, the restore,
// `pavilion migrate` and `pavilion gate reset`, after which the restored
// units sell at once; then a restore without the gate reset, which a
// starting node detects and repairs by itself.
func TestBackupRestoreRunbook(t *testing.T) {
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			if testinfra.InCI() {
				t.Fatalf("%s is not on PATH", tool)
			}
			t.Skipf("install %s (postgresql-client) to run the restore walk-through", tool)
		}
	}
	work := t.TempDir()
	st := sharedStores(t, "BACKUP="+filepath.Join(work, "pavilion.dump"))
	env, pg := st.env, st.pg
	blocks := readmeBlocks(t, "### Backups and restore")
	if len(blocks) != 3 {
		t.Fatalf("want 3 command blocks (backup, restore, SQLite), got %d", len(blocks))
	}
	backup, restore := blocks[0], blocks[1]

	node := func() (*exec.Cmd, string, *syncBuffer) {
		cmd := exec.Command(os.Args[0], "serve", "--http", "127.0.0.1:0", "--media-port", "0", "--log-format", "json")
		cmd.Env = binEnv(env...)
		logs := new(syncBuffer)
		cmd.Stderr = logs
		return cmd, startCmd(t, cmd), logs
	}
	stop := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	cmd, base, _ := node()
	creds := demoCreds(t, "--database-url", pg, "--public-url", base)
	a := newAPI(t, base)
	s := newSale(t, a, creds, 1, 2)
	tap := func(a *api, buyer int) int {
		status, _ := a.call("POST", "/api/reservations", s.buyers[buyer], uuid.NewString(), map[string]any{"offer_id": s.offerID, "quantity": 1})
		return status
	}

	shell(t, work, backup, env...)
	if st := tap(a, 0); st != 201 {
		t.Fatalf("first tap: %d", st)
	}
	if st := tap(a, 1); st != 409 {
		t.Fatalf("tap on a sold-out offer: %d", st)
	}
	stop(cmd)

	out := shell(t, work, restore, env...)
	if !strings.Contains(out, "reloaded the stock gate of") {
		t.Fatalf("restore:\n%s", out)
	}
	cmd, base, _ = node()
	a = newAPI(t, base)
	if st := tap(a, 1); st != 201 {
		t.Fatalf("after the restore and gate reset, the restored unit does not sell: %d", st)
	}
	stop(cmd)

	// The same restore without `pavilion gate reset`: the gate says sold
	// out, the ledger has the unit; a starting node finds and reloads it.
	shell(t, work, strings.Replace(restore, "pavilion gate reset", "", 1), env...)
	_, base, logs := node()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(logs.String(), "the stock gate disagreed with the ledger") {
		if time.Now().After(deadline) {
			t.Fatalf("a node starting on a restored ledger did not reload the gate:\n%s", logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := tap(newAPI(t, base), 1); st != 201 {
		t.Fatalf("after the node's own check, the restored unit does not sell: %d", st)
	}
}

// TestSQLiteBackupRestore runs the README's embedded backup block as
// printed beside a running server and starts a server on the copy.
func TestSQLiteBackupRestore(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		if testinfra.InCI() {
			t.Fatal("sqlite3 is not on PATH")
		}
		t.Skip("install sqlite3 to run the SQLite backup walk-through")
	}
	work := t.TempDir()
	blocks := readmeBlocks(t, "### Backups and restore")
	if len(blocks) != 3 {
		t.Fatalf("want 3 command blocks, got %d", len(blocks))
	}
	_, base, _ := startServer(t, filepath.Join(work, "data"), "--demo")
	if code, _ := get(t, base+"/api/shows/"+demo.ShowID.String(), ""); code != 200 {
		t.Fatalf("demo show: %d", code)
	}
	shell(t, work, blocks[2])
	_, base, _ = startServer(t, filepath.Join(work, "restored"))
	if code, body := get(t, base+"/api/shows/"+demo.ShowID.String(), ""); code != 200 {
		t.Fatalf("the demo show on the restored copy: %d %s", code, body)
	}
}
