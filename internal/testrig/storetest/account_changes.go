package storetest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
)

// testAccountChanges: the change log names the user of every change that
// makes a cached credential stale, whichever write made it, and nothing
// for a new user, a new credential, a use, or the sweep of expired ones.
func testAccountChanges(t *testing.T, s account.Store) {
	ctx := context.Background()
	log, ok := s.(account.ChangeLog)
	if !ok {
		t.Fatalf("%T keeps no account change log (account.ChangeLog)", s)
	}
	since, err := log.LastAccountChange(ctx)
	must(t, err)
	// next returns the users of the entries written since the last call.
	next := func() []uuid.UUID {
		t.Helper()
		page, err := log.AccountChangesAfter(ctx, since, 100)
		must(t, err)
		var users []uuid.UUID
		for i, c := range page {
			if c.Seq <= since || (i > 0 && c.Seq <= page[i-1].Seq) {
				t.Fatalf("entries out of order after %d: %+v", since, page)
			}
			users = append(users, c.UserID)
		}
		if len(page) > 0 {
			since = page[len(page)-1].Seq
		}
		return users
	}
	want := func(what string, users ...uuid.UUID) {
		t.Helper()
		got := next()
		if !maps.Equal(set(got), set(users)) {
			t.Fatalf("%s: log names %v, want %v", what, got, users)
		}
	}

	u := newUser("changes@example.com", account.RoleViewer, account.RoleHost)
	other := newUser("bystander@example.com")
	must(t, s.CreateUser(ctx, u, "h"))
	must(t, s.CreateUser(ctx, other, "h"))
	t0 := now()
	cred := func(hash string, ttl time.Duration) *account.Credential {
		return &account.Credential{ID: uuid.New(), Hash: hash, UserID: u.ID, Kind: account.KindSession, CreatedAt: t0, ExpiresAt: t0.Add(ttl)}
	}
	must(t, s.CreateCredential(ctx, cred("ch01", time.Hour)))
	must(t, s.CreateCredential(ctx, cred("ch02", time.Hour)))
	must(t, s.TouchCredentials(ctx, map[uuid.UUID]time.Time{}))
	want("new users and credentials")

	must(t, s.DeleteCredential(ctx, "ch01"))
	want("a log-out", u.ID)
	must(t, s.SetRoles(ctx, u.ID, []account.Role{account.RoleViewer}, nil))
	want("a role taken away", u.ID)
	must(t, s.SetAvatar(ctx, u.ID, "/images/a.webp"))
	want("a new picture", u.ID)
	must(t, s.SetPassword(ctx, u.ID, "h2"))
	want("a new password", u.ID)
	must(t, s.DeleteUserCredentials(ctx, u.ID))
	want("a password reset's revocation", u.ID)

	// An expired credential is refused by every cache: its sweep logs nothing.
	must(t, s.CreateCredential(ctx, cred("ch03", time.Millisecond)))
	time.Sleep(5 * time.Millisecond)
	n, err := s.DeleteExpiredCredentials(ctx, now())
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredCredentials removed %d, want 1", n)
	}
	want("the sweep of an expired credential")

	// Pages, and pruning by age.
	for range 3 {
		must(t, s.SetAvatar(ctx, other.ID, "/images/b.webp"))
	}
	page, err := log.AccountChangesAfter(ctx, since, 2)
	must(t, err)
	if len(page) != 2 || page[0].UserID != other.ID {
		t.Fatalf("a page of 2 = %+v", page)
	}
	last, err := log.LastAccountChange(ctx)
	must(t, err)
	if last <= page[1].Seq {
		t.Fatalf("LastAccountChange = %d after %d and three more entries", last, since)
	}
	pruned, err := log.PruneAccountChanges(ctx, time.Now().Add(-time.Hour))
	must(t, err)
	if pruned != 0 {
		t.Fatalf("pruning entries older than an hour removed %d of this minute's", pruned)
	}
	pruned, err = log.PruneAccountChanges(ctx, time.Now().Add(time.Minute))
	must(t, err)
	if pruned < 8 {
		t.Fatalf("pruning everything removed %d entries, want at least the 8 written here", pruned)
	}
	if page, err := log.AccountChangesAfter(ctx, 0, 100); err != nil || len(page) != 0 {
		t.Fatalf("after pruning everything: %+v, %v", page, err)
	}
}

// set is the distinct users of a list.
func set(users []uuid.UUID) map[uuid.UUID]bool {
	m := make(map[uuid.UUID]bool, len(users))
	for _, u := range users {
		m[u] = true
	}
	return m
}
