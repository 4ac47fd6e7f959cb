package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
)

// caller is the world's Hub.Caller: a bearer secret is checked by the
// node's account service (withAccounts); else the X-Test-User header names
// a user no credential stands behind.
func (w *world) caller(r *http.Request) *account.Principal {
	if secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && w.accounts != nil {
		p, err := w.accounts.Authenticate(r.Context(), secret)
		if err != nil {
			return nil
		}
		return p
	}
	if u := w.user(r); u != nil {
		return &account.Principal{User: u}
	}
	return nil
}

// withAccounts gives the node its own account service over the shared
// store, wired as cmd wires it: it announces to the node's hub, and the hub
// checks its sockets' credentials with it. announceOnly makes the check
// fail, so only announcements (through the bus) end sockets.
func withAccounts(announceOnly bool) option {
	return func(c *nodeConfig) {
		c.setup = func(w *world) {
			w.accounts = &account.Service{Store: w.db, Hasher: account.Hasher{Time: 1, Memory: 64, Threads: 1}}
			w.accounts.Notifier = w.hub
			w.hub.Credentials = w.accounts
			if announceOnly {
				w.hub.Credentials = uncheckable{w.accounts}
			}
		}
	}
}

// uncheckable is an account service whose store cannot be asked: sockets
// stay as they are until an announcement says otherwise.
type uncheckable struct{ *account.Service }

func (uncheckable) CredentialUsers(context.Context, []uuid.UUID) (map[uuid.UUID]*account.User, error) {
	return nil, errors.New("the store is not asked in this test")
}

// dialSecret opens a socket with a bearer credential, for test t.
func (w *world) dialSecret(t *testing.T, secret string) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(w.url(""), http.Header{"Authorization": {"Bearer " + secret}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &client{t: t, ws: ws, record: w.record}
	if you := obj(c.next("welcome"), "you"); you["signed_in"] != true {
		t.Fatalf("welcome says %v: the credential did not sign in", you)
	}
	return c
}

// endWait bounds the wait for a socket to close. The promise is 5 s; the
// bound is wider so a loaded machine does not fail the test. A deadline
// against hangs, not a speed claim.
const endWait = 20 * time.Second

// expectEnd reads until the server closes the socket, and wants code.
func (c *client) expectEnd(code int) {
	c.t.Helper()
	deadline := time.Now().Add(endWait)
	for {
		_, _, err := c.read(time.Until(deadline))
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != code || ce.Text == "" {
				c.t.Fatalf("closed with %d %q; want %d with a reason", ce.Code, ce.Text, code)
			}
			return
		}
		if err != nil && !strings.Contains(err.Error(), "non-text") && !strings.Contains(err.Error(), "JSON object") {
			c.t.Fatalf("want close %d, got %v", code, err)
		}
	}
}

// stillOpen shows the socket works: its chat comes back to it.
func (c *client) stillOpen(text string) {
	c.t.Helper()
	c.send(map[string]any{"type": "chat", "text": text})
	c.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == text }, "its own chat "+text)
}

// person makes an account with a password on w's account service.
func person(t *testing.T, w *world, name string, roles ...account.Role) *account.User {
	t.Helper()
	u, err := w.accounts.Create(context.Background(), account.NewUser{Email: name + "@creds.example", Password: "password " + name, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func login(t *testing.T, w *world, name string) string {
	t.Helper()
	_, secret, err := w.accounts.Login(context.Background(), name+"@creds.example", "password "+name)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func issueToken(t *testing.T, w *world, u *account.User, ttl time.Duration) (string, account.Token) {
	t.Helper()
	secret, tok, err := w.accounts.IssueToken(context.Background(), u.ID, "test", ttl)
	if err != nil {
		t.Fatal(err)
	}
	return secret, tok
}

// TestSocketEndsWithItsCredential: a socket lasts exactly as long as the
// credential it opened with, whatever ends it; other sockets stay.
func TestSocketEndsWithItsCredential(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, memory.NewBus(), withAccounts(false))
	bystander, _ := w.join("viewer") // a user no credential stands behind
	anon, _ := w.join("")

	t.Run("logout", func(t *testing.T) {
		person(t, w, "ada")
		first, second := login(t, w, "ada"), login(t, w, "ada")
		a, b := w.dialSecret(t, first), w.dialSecret(t, second)
		if err := w.accounts.Logout(ctx, first); err != nil {
			t.Fatal(err)
		}
		a.expectEnd(chat.CloseSignedOut)
		b.stillOpen("the other session of ada stays") // only that session ended
	})
	t.Run("token revocation", func(t *testing.T) {
		u := person(t, w, "bo")
		secret, tok := issueToken(t, w, u, 0)
		other, _ := issueToken(t, w, u, 0)
		a, b := w.dialSecret(t, secret), w.dialSecret(t, other)
		if err := w.accounts.RevokeToken(ctx, u, tok.ID); err != nil {
			t.Fatal(err)
		}
		a.expectEnd(chat.CloseSignedOut)
		b.stillOpen("bo's other token stays")
	})
	t.Run("password reset", func(t *testing.T) {
		u := person(t, w, "cy")
		tokenSecret, _ := issueToken(t, w, u, 0)
		a, b := w.dialSecret(t, login(t, w, "cy")), w.dialSecret(t, tokenSecret)
		if err := w.accounts.ResetPassword(ctx, "cy@creds.example", "a brand new password"); err != nil {
			t.Fatal(err)
		}
		a.expectEnd(chat.CloseSignedOut)
		b.expectEnd(chat.CloseSignedOut)
	})
	t.Run("role change", func(t *testing.T) {
		person(t, w, "di", account.RoleMember)
		secret := login(t, w, "di")
		a := w.dialSecret(t, secret)
		if _, err := w.accounts.SetRoles(ctx, "di@creds.example", []account.Role{account.RoleViewer}, nil); err != nil {
			t.Fatal(err)
		}
		a.expectEnd(chat.CloseAccountChanged)
		// The credential still vouches: a new socket opens, with the new roles.
		w.dialSecret(t, secret).stillOpen("di is back as a viewer")
	})
	t.Run("expiry", func(t *testing.T) {
		u := person(t, w, "ed")
		secret, _ := issueToken(t, w, u, 2*time.Second)
		a := w.dialSecret(t, secret)
		a.expectEnd(chat.CloseSignedOut)
	})
	bystander.stillOpen("the test user stays")
	anon.next("chat") // anonymous viewers stay and read
}

// TestSocketEndsWithoutAnnouncement: a change made where no hub hears it —
// the command line (`pavilion user reset-password`, `roles`) works on the
// store beside the running server — still ends the sockets, through the sweep.
func TestSocketEndsWithoutAnnouncement(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, memory.NewBus(), withAccounts(false))
	cli := &account.Service{Store: w.db, Hasher: account.Hasher{Time: 1, Memory: 64, Threads: 1}} // no notifier
	person(t, w, "fay")
	person(t, w, "gus", account.RoleHost)
	fay, gus := w.dialSecret(t, login(t, w, "fay")), w.dialSecret(t, login(t, w, "gus"))
	if err := cli.ResetPassword(ctx, "fay@creds.example", "another password"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.SetRoles(ctx, "gus@creds.example", nil, nil); err != nil {
		t.Fatal(err)
	}
	fay.expectEnd(chat.CloseSignedOut)
	gus.expectEnd(chat.CloseAccountChanged)
}

// Two nodes: the change is made on node A; the socket is on node B, whose
// hub does not check the store, so only the bus can end it there.
func TestSocketEndsOnEveryNodeMemoryBus(t *testing.T) {
	bus := memory.NewBus()
	a := newWorld(t, bus, withAccounts(false))
	b := a.node(bus, withAccounts(true))
	testSocketEndsOnEveryNode(t, a, b)
}

func TestSocketEndsOnEveryNodeRedisBus(t *testing.T) {
	open := redisBuses(t)
	a := newWorld(t, open(), withAccounts(false))
	b := a.node(open(), withAccounts(true))
	testSocketEndsOnEveryNode(t, a, b)
}

func testSocketEndsOnEveryNode(t *testing.T, a, b *world) {
	ctx := context.Background()
	u := person(t, a, "hal")
	person(t, a, "ivy", account.RoleMember)
	session := login(t, a, "hal")
	tokenSecret, tok := issueToken(t, a, u, 0)
	ivy := login(t, a, "ivy")

	// Node B has cached the credentials (its HTTP side would honour them).
	for _, s := range []string{session, tokenSecret, ivy} {
		if _, err := b.accounts.Authenticate(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	bySession, byToken, ivyOnB := b.dialSecret(t, session), b.dialSecret(t, tokenSecret), b.dialSecret(t, ivy)
	// B subscribes to announcements as its hub starts; wait until it hears
	// them: a role change of a probe account, on a fresh socket each time.
	person(t, a, "probe")
	deadline := time.Now().Add(endWait)
	for i := 0; !heard(t, a, b, i); i++ {
		if time.Now().After(deadline) {
			t.Fatal("node B never heard an announcement")
		}
	}

	if err := a.accounts.RevokeToken(ctx, u, tok.ID); err != nil {
		t.Fatal(err)
	}
	byToken.expectEnd(chat.CloseSignedOut)
	if err := a.accounts.Logout(ctx, session); err != nil {
		t.Fatal(err)
	}
	bySession.expectEnd(chat.CloseSignedOut)
	if _, err := a.accounts.SetRoles(ctx, "ivy@creds.example", nil, nil); err != nil {
		t.Fatal(err)
	}
	ivyOnB.expectEnd(chat.CloseAccountChanged)

	// Node B's HTTP side stopped honouring them too, without waiting for its cache.
	for _, s := range []string{session, tokenSecret} {
		if p, err := b.accounts.Authenticate(ctx, s); err == nil {
			t.Fatalf("node B still honours an ended credential for %s", p.User.Email)
		}
	}
}

// heard reports whether a role change of the probe account made on node a
// closed the probe's new socket on node b within a second.
func heard(t *testing.T, a, b *world, i int) bool {
	t.Helper()
	probe := b.dialSecret(t, login(t, a, "probe"))
	defer probe.ws.Close()
	roles := []account.Role{account.RoleMember}
	if i%2 == 1 {
		roles = nil
	}
	if _, err := a.accounts.SetRoles(context.Background(), "probe@creds.example", roles, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		_, _, err := probe.read(time.Until(deadline))
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code == chat.CloseAccountChanged
		}
		if err != nil && !strings.Contains(err.Error(), "non-text") && !strings.Contains(err.Error(), "JSON object") {
			return false // the second passed
		}
	}
}

// TestCloseCodesDocumented: PROTOCOL.md's table of close codes and
// protocol.json's x-close-codes list the same codes, the credential codes
// among them.
func TestCloseCodesDocumented(t *testing.T) {
	md, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(md), "## Close codes")
	if !ok {
		t.Fatal("PROTOCOL.md has no close codes section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	inDoc := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d{4}) \|`).FindAllStringSubmatch(table, -1) {
		n, _ := strconv.Atoi(m[1])
		inDoc[n] = true
	}
	var schema struct {
		Codes []struct {
			Code    int    `json:"code"`
			Meaning string `json:"meaning"`
			Action  string `json:"action"`
		} `json:"x-close-codes"`
	}
	b, err := os.ReadFile("protocol.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	inSchema := map[int]bool{}
	for _, c := range schema.Codes {
		if c.Meaning == "" || c.Action == "" {
			t.Errorf("protocol.json: close code %d lacks a meaning or an action", c.Code)
		}
		inSchema[c.Code] = true
	}
	for _, code := range []int{chat.CloseSignedOut, chat.CloseAccountChanged, chat.CloseSlow, chat.CloseInternal, chat.CloseHidden} {
		if !inDoc[code] || !inSchema[code] {
			t.Errorf("close code %d: in PROTOCOL.md %v, in protocol.json %v", code, inDoc[code], inSchema[code])
		}
	}
	if !maps.Equal(inDoc, inSchema) {
		t.Errorf("PROTOCOL.md lists close codes %v, protocol.json %v", slices.Sorted(maps.Keys(inDoc)), slices.Sorted(maps.Keys(inSchema)))
	}
}

// heldBus holds back what the credentials channel delivers until release is
// closed, as a loaded bus does: the echo of a node's own announcement then
// arrives after the user has reconnected.
type heldBus struct {
	chat.Bus
	release chan struct{}
}

func (b *heldBus) Subscribe(ctx context.Context, channel string) (chat.Subscription, error) {
	s, err := b.Bus.Subscribe(ctx, channel)
	if err != nil || !strings.HasSuffix(channel, "credentials") {
		return s, err
	}
	return &heldSub{Subscription: s, c: b.hold(s.C())}, nil
}

func (b *heldBus) hold(in <-chan []byte) <-chan []byte {
	out := make(chan []byte)
	go func() {
		defer close(out)
		var held [][]byte
		for {
			select {
			case m, ok := <-in:
				if !ok {
					return
				}
				held = append(held, m)
				continue
			case <-b.release:
			}
			for _, m := range held {
				out <- m
			}
			for m := range in {
				out <- m
			}
			return
		}
	}()
	return out
}

type heldSub struct {
	chat.Subscription
	c <-chan []byte
}

func (s *heldSub) C() <-chan []byte { return s.c }

// TestLateEchoKeepsTheNewSocket: a role change closes the account's sockets
// at once on this node; when the bus brings the same announcement back after
// the user reconnected with the new roles, the new socket stays.
func TestLateEchoKeepsTheNewSocket(t *testing.T) {
	ctx := context.Background()
	bus := &heldBus{Bus: memory.NewBus(), release: make(chan struct{})}
	w := newWorld(t, bus, withAccounts(false))
	person(t, w, "flo", account.RoleMember)
	secret := login(t, w, "flo")
	a := w.dialSecret(t, secret)
	if _, err := w.accounts.SetRoles(ctx, "flo@creds.example", []account.Role{account.RoleViewer}, nil); err != nil {
		t.Fatal(err)
	}
	a.expectEnd(chat.CloseAccountChanged)
	b := w.dialSecret(t, secret)
	b.stillOpen("flo is back as a viewer")
	close(bus.release)
	// The echo is now delivered; a chat line after it comes back only if the
	// socket survived it. Two lines leave the watcher time to handle the echo.
	b.stillOpen("still here")
	time.Sleep(200 * time.Millisecond)
	b.stillOpen("still here after the echo")
}
