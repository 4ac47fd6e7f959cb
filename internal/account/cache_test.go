package account_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// readCounter counts the credential reads that reach the store, and can
// run a hook in the middle of one (what happens while a read is in flight).
type readCounter struct {
	account.Store
	reads  atomic.Int64
	mu     sync.Mutex
	during func()
}

func (s *readCounter) CredentialWithUser(ctx context.Context, hash string, now time.Time) (*account.Credential, *account.User, error) {
	s.reads.Add(1)
	c, u, err := s.Store.CredentialWithUser(ctx, hash, now)
	s.mu.Lock()
	hook := s.during
	s.during = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	return c, u, err
}

// node is a second node's account service over the fixture's database,
// reading its change log; nothing announces changes to it.
func (f *fixture) node(t *testing.T) (*account.Service, *readCounter) {
	t.Helper()
	reads := &readCounter{Store: f.db}
	n := &account.Service{Store: reads, Hasher: cheap, Now: f.clock.now, Changes: f.db}
	readLog(t, n)
	return n, reads
}

// readLog has node read the change log once.
func readLog(t *testing.T, node *account.Service) {
	t.Helper()
	if err := node.ReadChanges(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// authenticates checks that node honours secret (for a user with the
// roles wanted, when given) and how many store reads that took.
func authenticates(t *testing.T, node *account.Service, reads *readCounter, secret string, wantReads int64, roles ...account.Role) {
	t.Helper()
	before := reads.reads.Load()
	p, err := node.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatalf("the credential is refused: %v", err)
	}
	if got := reads.reads.Load() - before; got != wantReads {
		t.Fatalf("authenticating read the store %d times, want %d", got, wantReads)
	}
	for _, r := range roles {
		if !p.User.Has(r) {
			t.Fatalf("the principal's roles are %v, want %s among them", p.User.Roles, r)
		}
	}
}

func refused(t *testing.T, node *account.Service, secret, what string) {
	t.Helper()
	if _, err := node.Authenticate(context.Background(), secret); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Fatalf("%s: the other node still honours the credential (%v)", what, err)
	}
}

// TestChangeLogKeepsCredentialsFresh: a node that reads the change log
// keeps a verified credential for minutes without reading the store, and
// still drops it at its next read of the log after a change made anywhere
// else: a revocation on another node, a role taken away through the store
// (as `pavilion user roles` does), a password reset.
func TestChangeLogKeepsCredentialsFresh(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, reads := f.node(t)
	secret, tok := f.token(t, f.viewer, "a")

	authenticates(t, a, reads, secret, 1)
	for range 5 { // five minutes, the log read every second (here: every minute)
		f.clock.add(time.Minute)
		readLog(t, a)
		authenticates(t, a, reads, secret, 0)
	}

	// Revoked on another node, which tells nobody.
	if err := f.svc.RevokeToken(ctx, f.viewer, tok.ID); err != nil {
		t.Fatal(err)
	}
	readLog(t, a)
	refused(t, a, secret, "revoked elsewhere, after a read of the log")

	// A role taken away through the store, beside the server.
	hostUser, err := f.svc.Create(ctx, account.NewUser{Email: "host@example.com", Password: "host password", Roles: []account.Role{account.RoleHost}})
	if err != nil {
		t.Fatal(err)
	}
	hostSecret, _ := f.token(t, hostUser, "h")
	authenticates(t, a, reads, hostSecret, 1, account.RoleHost)
	if err := f.db.SetRoles(ctx, hostUser.ID, []account.Role{account.RoleViewer}, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.add(time.Minute)
	readLog(t, a)
	p, err := a.Authenticate(ctx, hostSecret)
	if err != nil || p.User.Has(account.RoleHost) {
		t.Fatalf("after the role was taken away: %+v, %v; want a viewer", p, err)
	}

	// A password reset on another node ends every credential of the account.
	s2, _ := f.token(t, f.other, "o")
	authenticates(t, a, reads, s2, 1)
	if err := f.svc.ResetPassword(ctx, f.other.Email, "a new password"); err != nil {
		t.Fatal(err)
	}
	readLog(t, a)
	refused(t, a, s2, "after a password reset elsewhere")
}

// TestUnreadChangeLogFallsBackToShortTTL: while the log is not read (the
// database unreachable, the loop stopped), a cached credential is trusted
// for CacheTTL only, as without a log.
func TestUnreadChangeLogFallsBackToShortTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, reads := f.node(t)
	secret, tok := f.token(t, f.viewer, "a")
	authenticates(t, a, reads, secret, 1)
	f.clock.add(4 * time.Second)
	authenticates(t, a, reads, secret, 0)
	f.clock.add(time.Second)
	authenticates(t, a, reads, secret, 1) // 5 s since the last read of the log: the store again
	if err := f.svc.RevokeToken(ctx, f.viewer, tok.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.add(5 * time.Second)
	refused(t, a, secret, "5 s after a revocation, the log unread")
}

// TestRevocationDuringAReadIsNotCachedLong: a credential revoked while
// this node's store read of it was in flight (and the log read in the same
// moment) is not kept for minutes on the strength of that read.
func TestRevocationDuringAReadIsNotCachedLong(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, reads := f.node(t)
	secret, tok := f.token(t, f.viewer, "a")
	reads.mu.Lock()
	reads.during = func() {
		if err := f.svc.RevokeToken(ctx, f.viewer, tok.ID); err != nil {
			t.Error(err)
		}
		if err := a.ReadChanges(ctx); err != nil {
			t.Error(err)
		}
	}
	reads.mu.Unlock()
	authenticates(t, a, reads, secret, 1) // read before the revocation
	f.clock.add(5 * time.Second)
	readLog(t, a)
	refused(t, a, secret, "revoked during the read that cached it")
}

// TestIssuedCredentialIsCached: the node that issues a credential needs no
// store read for its holder's first request (a crowd signed in before a
// drop), and keeps it while it reads the log.
func TestIssuedCredentialIsCached(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, reads := f.node(t)
	token, _, err := a.IssueToken(ctx, f.viewer.ID, "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, session, err := a.Login(ctx, f.other.Email, "other password")
	if err != nil {
		t.Fatal(err)
	}
	_, signup, err := a.Signup(ctx, "new@example.com", "New", "new password")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.add(time.Minute)
	readLog(t, a)
	for _, s := range []string{token, session, signup} {
		authenticates(t, a, reads, s, 0, account.RoleViewer)
	}
}
