package account

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Token is what its owner may see of a bearer token: never the secret, nor
// its hash.
type Token struct {
	ID         uuid.UUID  `json:"id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // to about a minute; null: never used
}

func tokenOf(c *Credential) Token {
	return Token{ID: c.ID, Name: c.Name, CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, LastUsedAt: c.LastUsedAt}
}

// ListTokens lists the user's unexpired bearer tokens, newest first.
func (s *Service) ListTokens(ctx context.Context, userID uuid.UUID) ([]Token, error) {
	creds, err := s.Store.CredentialsByUser(ctx, userID, s.now())
	if err != nil {
		return nil, err
	}
	out := []Token{}
	s.usedMu.Lock()
	defer s.usedMu.Unlock()
	for i := range creds {
		c := &creds[i]
		if c.Kind != KindToken {
			continue
		}
		// A use not yet written is still a use.
		if t, ok := s.used[c.ID]; ok && (c.LastUsedAt == nil || t.After(*c.LastUsedAt)) {
			c.LastUsedAt = &t
		}
		out = append(out, tokenOf(c))
	}
	return out, nil
}

// RevokeToken ends the bearer token id, and whatever was opened with it.
// Its owner may revoke it, and so may a platform admin (a leaked token is
// an incident); for anyone else it does not exist.
func (s *Service) RevokeToken(ctx context.Context, caller *User, id uuid.UUID) error {
	notFound := apperr.Errorf(apperr.NotFound, "token %s not found", id)
	if caller == nil {
		return apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	c, err := s.Store.CredentialByID(ctx, id, s.now())
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		return notFound
	}
	if err != nil {
		return err
	}
	if c.Kind != KindToken || (c.UserID != caller.ID && !caller.Has(RoleAdmin)) {
		return notFound
	}
	return s.end(ctx, c.Hash, c)
}

// CredentialUsers returns, for each of ids that still vouches (not revoked,
// not expired), its user as stored now: what a long-lived connection
// opened with one of them checks itself against. It reads the store, never
// the cache, so changes made elsewhere (another node, the command line)
// show at once.
func (s *Service) CredentialUsers(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*User, error) {
	return s.Store.CredentialUsers(ctx, ids, s.now())
}

// Forget drops what this node's cache holds that c makes stale: a change
// announced by another node then takes effect here at once instead of
// within CacheTTL.
func (s *Service) Forget(c Change) {
	if c.Kind != CredentialEnded {
		s.forgetUsers(c.UserID)
		return
	}
	s.cache.dropUser(c.UserID, func(_ string, e *cachedCredential) bool { return e.id == c.CredentialID })
}

// TouchEvery is how stale a credential's last-use time may get: a
// credential in constant use costs one write per TouchEvery, not one per
// request.
const TouchEvery = time.Minute

// maxPendingUses bounds the uses waiting for a flush; past it new ones are
// not recorded until the next flush (last-use times are advice, not a ledger).
const maxPendingUses = 200_000

// markUsed queues the credential's use for the next FlushUsage.
func (s *Service) markUsed(id uuid.UUID, at time.Time) {
	s.usedMu.Lock()
	defer s.usedMu.Unlock()
	if s.used == nil {
		s.used = map[uuid.UUID]time.Time{}
	}
	if _, ok := s.used[id]; ok || len(s.used) < maxPendingUses {
		s.used[id] = at
	}
}

// FlushUsage writes the queued last-use times in one batch.
func (s *Service) FlushUsage(ctx context.Context) error {
	s.usedMu.Lock()
	used := s.used
	s.used = nil
	s.usedMu.Unlock()
	if len(used) == 0 {
		return nil
	}
	if err := s.Store.TouchCredentials(ctx, used); err != nil {
		return err
	}
	return nil
}

// Run flushes last-use times every interval until ctx ends. The owner
// calls FlushUsage once more on the way out, before the store closes.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.FlushUsage(ctx); err != nil && ctx.Err() == nil {
				s.log().Warn("recording credential use", "err", err)
			}
		}
	}
}
