package account_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
)

var cheap = account.Hasher{Time: 1, Memory: 64, Threads: 1}

// clock is a settable time for a Service.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// changes records what a Service announces.
type changes struct {
	mu   sync.Mutex
	seen []account.Change
}

func (c *changes) CredentialsChanged(_ context.Context, ch account.Change) {
	c.mu.Lock()
	c.seen = append(c.seen, ch)
	c.mu.Unlock()
}

func (c *changes) take() []account.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.seen
	c.seen = nil
	return out
}

// touchCounter counts the last-use writes that reach the store.
type touchCounter struct {
	account.Store
	mu      sync.Mutex
	batches []map[uuid.UUID]time.Time
}

func (s *touchCounter) TouchCredentials(ctx context.Context, used map[uuid.UUID]time.Time) error {
	s.mu.Lock()
	s.batches = append(s.batches, used)
	s.mu.Unlock()
	return s.Store.TouchCredentials(ctx, used)
}

type fixture struct {
	db      *sqlite.DB
	store   *touchCounter
	clock   *clock
	heard   *changes
	svc     *account.Service
	viewer  *account.User
	other   *account.User
	admin   *account.User
	viewerP string // the viewer's password
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, store: &touchCounter{Store: db}, clock: &clock{t: time.Now().UTC()}, heard: &changes{}, viewerP: "viewer password"}
	f.svc = &account.Service{Store: f.store, Hasher: cheap, Now: f.clock.now, Notifier: f.heard}
	mk := func(email, pw string, roles ...account.Role) *account.User {
		u, err := f.svc.Create(ctx, account.NewUser{Email: email, Password: pw, Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.viewer = mk("viewer@example.com", f.viewerP)
	f.other = mk("other@example.com", "other password")
	f.admin = mk("admin@example.com", "admin password", account.RoleAdmin)
	return f
}

func (f *fixture) token(t *testing.T, u *account.User, name string) (string, account.Token) {
	t.Helper()
	secret, tok, err := f.svc.IssueToken(context.Background(), u.ID, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	return secret, tok
}

func TestTokenLifetimeCap(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	day := 24 * time.Hour
	for _, c := range []struct {
		who  *account.User
		ttl  time.Duration
		want time.Duration // 0: refused
	}{
		{f.viewer, 0, 90 * day},
		{f.viewer, 90 * day, 90 * day},
		{f.viewer, 90*day + time.Second, 0},
		{f.viewer, 366 * day, 0},
		{f.viewer, -time.Second, 0},
		{f.admin, 0, 90 * day},
		{f.admin, 366 * day, 366 * day},
		{f.admin, 367 * day, 0},
	} {
		_, tok, err := f.svc.IssueToken(ctx, c.who.ID, "t", c.ttl)
		if c.want == 0 {
			if apperr.CodeOf(err) != apperr.Invalid {
				t.Errorf("%s, %v: err = %v, want invalid", c.who.Email, c.ttl, err)
			}
			continue
		}
		if err != nil || tok.ExpiresAt.Sub(tok.CreatedAt) != c.want {
			t.Errorf("%s, %v: token lives %v (%v), want %v", c.who.Email, c.ttl, tok.ExpiresAt.Sub(tok.CreatedAt), err, c.want)
		}
	}
	// A configured default longer than the cap is capped for non-admins.
	f.svc.TokenTTL = 200 * day
	if _, tok, err := f.svc.IssueToken(ctx, f.viewer.ID, "t", 0); err != nil || tok.ExpiresAt.Sub(tok.CreatedAt) != 90*day {
		t.Errorf("default 200 days for a viewer: %v, %v", tok, err)
	}
	_, _, err := f.svc.IssueToken(ctx, uuid.New(), "t", 0)
	if apperr.CodeOf(err) != apperr.NotFound {
		t.Errorf("token for nobody: %v", err)
	}
}

func TestListAndRevokeTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.Login(ctx, "viewer@example.com", f.viewerP); err != nil { // a session: not listed
		t.Fatal(err)
	}
	ciSecret, ci := f.token(t, f.viewer, "ci")
	f.clock.add(time.Second)
	_, laptop := f.token(t, f.viewer, "laptop")
	otherSecret, theirs := f.token(t, f.other, "theirs")

	list, err := f.svc.ListTokens(ctx, f.viewer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != laptop.ID || list[1].ID != ci.ID || list[1].Name != "ci" {
		t.Fatalf("ListTokens = %+v, want laptop then ci", list)
	}
	b, _ := json.Marshal(list)
	if strings.Contains(string(b), "hash") || strings.Contains(string(b), ciSecret) || strings.Contains(string(b), account.HashSecret(ciSecret)) {
		t.Fatalf("the list shows a secret or a hash: %s", b)
	}
	for _, k := range []string{`"id"`, `"name"`, `"created_at"`, `"expires_at"`, `"last_used_at":null`} {
		if !strings.Contains(string(b), k) {
			t.Fatalf("the list lacks %s: %s", k, b)
		}
	}

	// Another user's token, a session, nothing at all: not found for the viewer.
	p, err := f.svc.Authenticate(ctx, otherSecret)
	if err != nil {
		t.Fatal(err)
	}
	f.heard.take()
	for _, id := range []uuid.UUID{theirs.ID, uuid.New()} {
		if err := f.svc.RevokeToken(ctx, f.viewer, id); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("viewer revoking %s: %v", id, err)
		}
	}
	sessions, _ := f.db.CredentialsByUser(ctx, f.viewer.ID, f.clock.now())
	for _, c := range sessions {
		if c.Kind == account.KindSession {
			if err := f.svc.RevokeToken(ctx, f.viewer, c.ID); apperr.CodeOf(err) != apperr.NotFound {
				t.Fatalf("revoking a session as a token: %v", err)
			}
		}
	}
	if got := f.heard.take(); len(got) != 0 {
		t.Fatalf("refused revocations announced %v", got)
	}

	// Their own: gone, announced, and refused at once on this node.
	if _, err := f.svc.Authenticate(ctx, ciSecret); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.RevokeToken(ctx, f.viewer, ci.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, ciSecret); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Fatalf("a revoked token still authenticates: %v", err)
	}
	if got := f.heard.take(); len(got) != 1 || got[0] != (account.Change{Kind: account.CredentialEnded, UserID: f.viewer.ID, CredentialID: ci.ID}) {
		t.Fatalf("revocation announced %v", got)
	}
	if err := f.svc.RevokeToken(ctx, f.viewer, ci.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("revoking twice: %v", err)
	}
	// A platform admin may revoke anyone's.
	if err := f.svc.RevokeToken(ctx, f.admin, theirs.ID); err != nil {
		t.Fatal(err)
	}
	if got := f.heard.take(); len(got) != 1 || got[0].CredentialID != p.CredentialID || got[0].UserID != f.other.ID {
		t.Fatalf("admin revocation announced %v (principal %+v)", got, p)
	}
}

// TestAnnouncements: every end of a credential, and every change of roles,
// is announced with what a socket opened with the credential can match.
func TestAnnouncements(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, session, err := f.svc.Login(ctx, "viewer@example.com", f.viewerP)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, session)
	if err != nil {
		t.Fatal(err)
	}
	if p.User.ID != f.viewer.ID || p.CredentialID == uuid.Nil || p.Kind != account.KindSession || !p.ExpiresAt.After(f.clock.now()) {
		t.Fatalf("principal = %+v", p)
	}
	f.heard.take()

	if err := f.svc.Logout(ctx, session); err != nil {
		t.Fatal(err)
	}
	if got := f.heard.take(); len(got) != 1 || got[0] != (account.Change{Kind: account.CredentialEnded, UserID: f.viewer.ID, CredentialID: p.CredentialID}) {
		t.Fatalf("logout announced %v", got)
	}
	if err := f.svc.Logout(ctx, session); err != nil { // already out: nothing more to say
		t.Fatal(err)
	}
	if got := f.heard.take(); len(got) != 0 {
		t.Fatalf("second logout announced %v", got)
	}

	if err := f.svc.ResetPassword(ctx, "viewer@example.com", "a new password"); err != nil {
		t.Fatal(err)
	}
	if got := f.heard.take(); len(got) != 1 || got[0] != (account.Change{Kind: account.UserSignedOut, UserID: f.viewer.ID}) {
		t.Fatalf("password reset announced %v", got)
	}
	if _, err := f.svc.SetRoles(ctx, "viewer@example.com", []account.Role{account.RoleMember}, nil); err != nil {
		t.Fatal(err)
	}
	if got := f.heard.take(); len(got) != 1 || got[0] != (account.Change{Kind: account.UserChanged, UserID: f.viewer.ID}) {
		t.Fatalf("role change announced %v", got)
	}
}

// TestLastUsedBatched: a credential in constant use costs one write a
// minute, batched, not one per request; the owner sees the use at once.
func TestLastUsedBatched(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	secret, tok := f.token(t, f.viewer, "ci")
	other, _ := f.token(t, f.other, "theirs")
	start := f.clock.now()
	for range 50 { // 50 requests over 50 s, past several cache refreshes
		for _, s := range []string{secret, other} {
			if _, err := f.svc.Authenticate(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		f.clock.add(time.Second)
	}
	// Not yet written, but listed.
	list, _ := f.svc.ListTokens(ctx, f.viewer.ID)
	if len(list) != 1 || list[0].LastUsedAt == nil || list[0].LastUsedAt.Before(start) || list[0].LastUsedAt.After(f.clock.now()) {
		t.Fatalf("before the flush the list says %+v, want last used since %v", list, start)
	}
	listed := *list[0].LastUsedAt
	if err := f.svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.FlushUsage(ctx); err != nil { // nothing new: no write
		t.Fatal(err)
	}
	if n := len(f.store.batches); n != 1 || len(f.store.batches[0]) != 2 {
		t.Fatalf("%d writes for 100 requests (%v), want one batch of two", n, f.store.batches)
	}
	stored, err := f.db.CredentialByID(ctx, tok.ID, f.clock.now())
	if err != nil || stored.LastUsedAt == nil || !stored.LastUsedAt.Equal(listed.Truncate(time.Microsecond)) {
		t.Fatalf("stored last use = %v, %v; want %v", stored.LastUsedAt, err, listed)
	}
	// A minute after the recorded use, the next request is recorded again.
	f.clock.add(listed.Add(time.Minute).Sub(f.clock.now()))
	if _, err := f.svc.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.FlushUsage(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(f.store.batches); n != 2 || len(f.store.batches[1]) != 1 || f.store.batches[1][tok.ID].IsZero() {
		t.Fatalf("after a minute: writes %v", f.store.batches)
	}
}

// TestRevocationReachesOtherNodes: a node that cached a credential stops
// honouring it once another node revokes it: at once when told (Forget),
// and within CacheTTL when not.
func TestRevocationReachesOtherNodes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other := &account.Service{Store: f.db, Hasher: cheap, Now: f.clock.now}
	a, _ := f.token(t, f.viewer, "a")
	b, tokB := f.token(t, f.viewer, "b")
	for _, s := range []string{a, b} {
		if _, err := other.Authenticate(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	// Told: at once.
	if err := f.svc.RevokeToken(ctx, f.viewer, tokB.ID); err != nil {
		t.Fatal(err)
	}
	for _, ch := range f.heard.take() {
		other.Forget(ch)
	}
	if _, err := other.Authenticate(ctx, b); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Fatalf("told of the revocation, the other node still honours it: %v", err)
	}
	// Not told (a bus message lost): within the cache's 5 s.
	aID, _ := other.Authenticate(ctx, a)
	f.svc.Notifier = nil
	if err := f.svc.RevokeToken(ctx, f.viewer, aID.CredentialID); err != nil {
		t.Fatal(err)
	}
	f.clock.add(5 * time.Second)
	if _, err := other.Authenticate(ctx, a); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Fatalf("5 s after a revocation the other node still honours it: %v", err)
	}
}
