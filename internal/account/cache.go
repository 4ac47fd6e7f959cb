package account

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// The credential cache. Authenticating from the store costs a read per
// request, and the first second of a drop is thousands of buyers tapping
// at once, so a verified credential is kept in memory. How long it may be
// trusted is what keeps a revoked one from working:
//
//   - Without a change log (Service.Changes nil, or a log that cannot be
//     read right now) an entry is trusted for CacheTTL (5 s) after the
//     store vouched for it: a revocation made elsewhere takes effect here
//     within 5 s.
//   - With a change log that FollowChanges is reading, an entry is kept
//     for FeedTTL (10 min): the log names every user whose credentials or
//     roles changed, wherever the change was made (this node, another
//     node, `pavilion user` on the command line), and each read drops
//     their entries. An entry older than CacheTTL is trusted only while
//     the last complete read of the log began less than CacheTTL ago, so
//     a log that stops being read falls back to the first rule.
//
// A store read that began before a drop may have read what the drop was
// about (a credential revoked while the read was in flight): remember
// keeps such an entry for CacheTTL only, whatever the log says later. The
// cache's generation, bumped by every drop, tells them apart.

// maxCached bounds the cache; past it the cache starts over, which costs a
// store read per active credential and nothing else.
const maxCached = 200_000

type cachedCredential struct {
	user     *User
	id       uuid.UUID
	kind     CredentialKind
	expires  time.Time // the credential's own expiry
	verified time.Time // when the store vouched for it (before the read)
	until    time.Time // when it must be read from the store again
	used     time.Time // the last use recorded (stored, or waiting for FlushUsage)
}

func (c *cachedCredential) principal() *Principal {
	return &Principal{User: c.user, CredentialID: c.id, Kind: c.kind, ExpiresAt: c.expires}
}

// credentialCache maps secret hashes to verified credentials, with an
// index by user for the drops the change log asks for.
type credentialCache struct {
	mu      sync.Mutex
	entries map[string]cachedCredential
	byUser  map[uuid.UUID][]string // hashes; may name hashes no longer cached
	gen     uint64                 // bumped by every drop
}

// generation is taken before a store read whose result may be remembered.
func (c *credentialCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// dropHash drops one credential's entry.
func (c *credentialCache) dropHash(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, hash)
}

// dropUser drops the user's entries that match (all of them when match is nil).
func (c *credentialCache) dropUser(id uuid.UUID, match func(string, *cachedCredential) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropUserLocked(id, match)
}

func (c *credentialCache) dropUserLocked(id uuid.UUID, match func(string, *cachedCredential) bool) {
	c.gen++
	var kept []string
	for _, h := range c.byUser[id] {
		e, ok := c.entries[h]
		switch {
		case !ok || e.user.ID != id:
		case match == nil || match(h, &e):
			delete(c.entries, h)
		default:
			kept = append(kept, h)
		}
	}
	if len(kept) == 0 {
		delete(c.byUser, id)
	} else {
		c.byUser[id] = kept
	}
}

// dropUsers drops every entry of the users.
func (c *credentialCache) dropUsers(ids map[uuid.UUID]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for id := range ids {
		c.dropUserLocked(id, nil)
	}
}

// dropAll empties the cache.
func (c *credentialCache) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries, c.byUser = nil, nil
}

// forgetUsers drops the users' cached credentials (their roles or password
// changed).
func (s *Service) forgetUsers(ids ...uuid.UUID) {
	m := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	s.cache.dropUsers(m)
}

func (s *Service) cacheTTL() time.Duration {
	if s.CacheTTL == 0 {
		return 5 * time.Second
	}
	return s.CacheTTL
}

func (s *Service) feedTTL() time.Duration {
	if s.FeedTTL == 0 {
		return 10 * time.Minute
	}
	return s.FeedTTL
}

// cached returns the cache entry for hash while it may be trusted, and
// records the use when the last recorded one is TouchEvery old.
func (s *Service) cached(hash []byte, now time.Time) (cachedCredential, bool) {
	if s.cacheTTL() < 0 {
		return cachedCredential{}, false
	}
	s.cache.mu.Lock()
	c, ok := s.cache.entries[string(hash)] // no string is made for a lookup
	if !ok || !s.trusted(&c, now) {
		s.cache.mu.Unlock()
		return cachedCredential{}, false
	}
	touch := now.Sub(c.used) >= TouchEvery
	if touch {
		c.used = now
		s.cache.entries[string(hash)] = c
	}
	s.cache.mu.Unlock()
	if touch {
		s.markUsed(c.id, now)
	}
	return c, true
}

// trusted says whether an entry still vouches at now (see the top of this file).
func (s *Service) trusted(c *cachedCredential, now time.Time) bool {
	if !now.Before(c.until) || !now.Before(c.expires) {
		return false
	}
	if now.Sub(c.verified) < s.cacheTTL() {
		return true
	}
	read := s.feed.read.Load()
	return read != 0 && now.Sub(time.Unix(0, read)) < s.cacheTTL()
}

// remember caches c, read from the store after the cache was at
// generation gen: kept for FeedTTL with a change log unless a drop came
// in between, for CacheTTL otherwise.
func (s *Service) remember(hash string, c cachedCredential, gen uint64) {
	if s.cacheTTL() < 0 {
		return
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	c.until = c.verified.Add(s.cacheTTL())
	if s.Changes != nil && s.cache.gen == gen {
		c.until = c.verified.Add(max(s.feedTTL(), s.cacheTTL()))
	}
	if s.cache.entries == nil || len(s.cache.entries) >= maxCached {
		s.cache.entries = make(map[string]cachedCredential)
		s.cache.byUser = make(map[uuid.UUID][]string)
	}
	if _, ok := s.cache.entries[hash]; !ok && !slices.Contains(s.cache.byUser[c.user.ID], hash) {
		s.cache.byUser[c.user.ID] = append(s.cache.byUser[c.user.ID], hash)
	}
	s.cache.entries[hash] = c
}

// ChangeLog is the store's own record of the account changes a cached
// credential must not outlive: a credential deleted before it expired, a
// user's roles or brand links taken away, a user's row changed. The
// database writes it (triggers), so no write path (this node's, another
// node's, the command line's) can leave an entry out.
type ChangeLog interface {
	// LastAccountChange is the newest entry's number (0 when there is none).
	LastAccountChange(ctx context.Context) (int64, error)
	// AccountChangesAfter returns at most limit entries numbered after seq,
	// in order. Numbers grow; with concurrent writers (PostgreSQL) a
	// smaller number may commit after a larger one.
	AccountChangesAfter(ctx context.Context, seq int64, limit int) ([]LoggedChange, error)
	// PruneAccountChanges deletes the entries written before t.
	PruneAccountChanges(ctx context.Context, before time.Time) (int64, error)
}

// LoggedChange is one entry of a ChangeLog: the user whose cached
// credentials are stale.
type LoggedChange struct {
	Seq    int64
	UserID uuid.UUID
}

// feedState is how far the change log has been read.
type feedState struct {
	// read is the Service clock's UnixNano at the start of the last read
	// of the log that left nothing it could see unapplied; 0: none yet.
	// Authenticate reads it without a lock.
	read atomic.Int64

	mu  sync.Mutex // one read of the log at a time
	cur changeCursor
}

// changesPage is how many log entries one query reads.
const changesPage = 1000

// gapWait is how long a missing entry number is waited for before it is
// passed over: a PostgreSQL transaction that took a number commits soon
// after it (the triggers run in short transactions), or rolled back and
// never will.
const gapWait = 10 * time.Second

// FollowChanges reads the change log every interval until ctx ends and
// drops the cached credentials of every user it names. Without a change
// log it returns at once.
func (s *Service) FollowChanges(ctx context.Context, interval time.Duration) {
	if s.Changes == nil {
		return
	}
	failing := false
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := s.ReadChanges(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			// Entries now fall back to CacheTTL, which is safe; said once.
			failing = true
			s.log().Warn("reading the account change log; cached credentials are trusted for the short TTL until it reads again", "err", err)
		case err == nil && failing:
			failing = false
			s.log().Info("reading the account change log again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// changeCursor is how far FollowChanges has read the log.
type changeCursor struct {
	started  bool
	safe     int64          // every entry up to safe is applied or passed over
	ahead    map[int64]bool // entries after a gap, applied
	gapSince time.Time      // when the entry after safe was first missed
}

// ReadChanges reads the log once and applies what it finds; the first read
// starts at the log's end and empties the cache (what was cached before
// cannot be checked against entries not read). FollowChanges calls it;
// tests call it to step the log.
func (s *Service) ReadChanges(ctx context.Context) error {
	if s.Changes == nil {
		return nil
	}
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	cur := &s.feed.cur
	start := s.now()
	if !cur.started {
		last, err := s.Changes.LastAccountChange(ctx)
		if err != nil {
			return err
		}
		s.cache.dropAll()
		cur.started, cur.safe = true, last
		s.feed.read.Store(start.UnixNano())
		return nil
	}
	after := cur.safe
	for {
		page, err := s.Changes.AccountChangesAfter(ctx, after, changesPage)
		if err != nil {
			return err
		}
		if users := cur.take(page); len(users) > 0 {
			s.cache.dropUsers(users)
		}
		if len(page) < changesPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	cur.advance(start)
	s.feed.read.Store(start.UnixNano())
	return nil
}

// take records the entries of page not applied yet and returns their users.
func (c *changeCursor) take(page []LoggedChange) map[uuid.UUID]bool {
	users := map[uuid.UUID]bool{}
	for _, e := range page {
		if e.Seq <= c.safe || c.ahead[e.Seq] {
			continue
		}
		if c.ahead == nil {
			c.ahead = map[int64]bool{}
		}
		c.ahead[e.Seq] = true
		users[e.UserID] = true
	}
	return users
}

// advance moves safe over the entries applied in order, and past a gap
// that has lasted gapWait.
func (c *changeCursor) advance(now time.Time) {
	for {
		for c.ahead[c.safe+1] {
			delete(c.ahead, c.safe+1)
			c.safe++
		}
		if len(c.ahead) == 0 {
			c.gapSince = time.Time{}
			return
		}
		if c.gapSince.IsZero() {
			c.gapSince = now
			return
		}
		if now.Sub(c.gapSince) < gapWait {
			return
		}
		next := int64(-1)
		for seq := range c.ahead {
			if next < 0 || seq < next {
				next = seq
			}
		}
		c.safe, c.gapSince = next-1, time.Time{}
	}
}
