package account

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// credStore is the part of a Store that authenticating reads, over a map,
// counting the reads one by one and in batches.
type credStore struct {
	Store // nil: any other call panics
	mu    sync.Mutex
	creds map[string]Credential
	users map[uuid.UUID]*User
	one   int // CredentialWithUser calls
	batch int // CredentialUsers calls
}

func (s *credStore) CredentialWithUser(_ context.Context, hash string, now time.Time) (*Credential, *User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.one++
	c, ok := s.creds[hash]
	if !ok || !c.ExpiresAt.After(now) {
		return nil, nil, apperr.Errorf(apperr.NotFound, "credential not found")
	}
	u := *s.users[c.UserID]
	return &c, &u, nil
}

func (s *credStore) CredentialUsers(_ context.Context, ids []uuid.UUID, now time.Time) (map[uuid.UUID]*User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batch++
	out := map[uuid.UUID]*User{}
	for _, c := range s.creds {
		for _, id := range ids {
			if c.ID == id && c.ExpiresAt.After(now) {
				u := *s.users[c.UserID]
				out[id] = &u
			}
		}
	}
	return out, nil
}

func (s *credStore) TouchCredentials(context.Context, map[uuid.UUID]time.Time) error { return nil }

func (s *credStore) counts() (one, batch int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.one, s.batch
}

// settle waits until no refresh runs.
func settle(t *testing.T, s *Service) {
	t.Helper()
	for range 500 {
		s.cacheMu.Lock()
		busy := s.refreshing
		s.cacheMu.Unlock()
		if !busy {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the refresh did not end")
}

// TestCacheRefreshesCredentialsInUse: a credential used in the last third
// of its cache entry's trust is read again in a batch, off the request
// path, and stays trusted without a read of its own; the batch read sees
// roles changed elsewhere and drops a revoked credential, which is then
// refused at once.
func TestCacheRefreshesCredentialsInUse(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	at := func(d time.Duration) { mu.Lock(); now = t0.Add(d); mu.Unlock() }
	u := &User{ID: uuid.New(), Email: "buyer@example.com", Roles: []Role{RoleViewer}}
	st := &credStore{
		creds: map[string]Credential{},
		users: map[uuid.UUID]*User{u.ID: u},
	}
	secrets := []string{"pvt_first-secret", "pvt_second-secret"}
	for _, sec := range secrets {
		st.creds[HashSecret(sec)] = Credential{ID: uuid.New(), Hash: HashSecret(sec), UserID: u.ID, Kind: KindToken,
			CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	s := &Service{Store: st, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }, CacheTTL: 6 * time.Second}
	auth := func(sec string) (*Principal, error) {
		t.Helper()
		p, err := s.Authenticate(ctx, sec)
		settle(t, s)
		return p, err
	}
	for _, sec := range secrets {
		if _, err := auth(sec); err != nil {
			t.Fatal(err)
		}
	}
	if one, batch := st.counts(); one != 2 || batch != 0 {
		t.Fatalf("first use: %d reads one by one, %d in batches; want 2 and 0", one, batch)
	}
	at(3 * time.Second) // half the trust left: not due
	if _, err := auth(secrets[0]); err != nil {
		t.Fatal(err)
	}
	if _, batch := st.counts(); batch != 0 {
		t.Fatalf("a use with half the trust left started a refresh")
	}
	at(5 * time.Second) // the last third: both used, both due, one batch
	for _, sec := range secrets {
		if _, err := auth(sec); err != nil {
			t.Fatal(err)
		}
	}
	if one, batch := st.counts(); one != 2 || batch < 1 {
		t.Fatalf("uses in the last third: %d reads one by one, %d in batches; want 2 and at least 1", one, batch)
	}
	// Roles changed elsewhere, and the second credential revoked elsewhere.
	st.mu.Lock()
	st.users[u.ID] = &User{ID: u.ID, Email: u.Email, Roles: []Role{RoleViewer, RoleMember}}
	delete(st.creds, HashSecret(secrets[1]))
	st.mu.Unlock()
	// Past the first entries' trust (6 s), within the refreshed one's (5 + 6 s):
	// the first credential needs no read of its own.
	at(8 * time.Second)
	if _, err := auth(secrets[0]); err != nil {
		t.Fatal(err)
	}
	if one, _ := st.counts(); one != 2 {
		t.Fatalf("a credential refreshed in a batch was read again by itself (%d reads)", one)
	}
	at(10 * time.Second) // due again: the batch reads the new roles and the revocation
	for _, sec := range secrets {
		_, _ = auth(sec)
	}
	p, err := auth(secrets[0])
	if err != nil {
		t.Fatal(err)
	}
	if !p.User.Has(RoleMember) {
		t.Errorf("after the refresh the roles are %v; want the stored ones", p.User.Roles)
	}
	if _, err := auth(secrets[1]); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Errorf("a revoked credential after a refresh: err = %v; want unauthorized", err)
	}
	// Nothing is trusted longer than CacheTTL after the read that vouched.
	st.mu.Lock()
	delete(st.creds, HashSecret(secrets[0]))
	st.mu.Unlock()
	at(10*time.Second + 6*time.Second)
	if _, err := auth(secrets[0]); apperr.CodeOf(err) != apperr.Unauthorized {
		t.Errorf("CacheTTL after the last read of a revoked credential: err = %v; want unauthorized", err)
	}
}
