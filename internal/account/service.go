package account

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/textcheck"
)

// Prefixes make a leaked secret recognisable by secret scanners and by eye.
const (
	SessionPrefix = "pvs_"
	TokenPrefix   = "pvt_"
)

// Service runs sign-up, log-in and credential checks over a Store.
// The zero values of its tunables are replaced by sensible defaults.
type Service struct {
	Store  Store
	Hasher Hasher           // zero: DefaultHasher
	Now    func() time.Time // zero: time.Now

	SessionTTL time.Duration // zero: 30 days
	TokenTTL   time.Duration // zero: 90 days
	// CacheTTL is how long a verified credential is trusted without asking
	// the store again when no change log vouches for it (zero: 5 s;
	// negative: never cached). A stampede of buyers would otherwise cost
	// a store read per tap. A logout or a password reset clears this
	// node's cache at once; other nodes notice within CacheTTL.
	CacheTTL time.Duration
	// Changes, when set, is the store's log of account changes, which
	// FollowChanges reads: while it is read, a verified credential is kept
	// for FeedTTL instead of CacheTTL, and a revocation made anywhere
	// (another node, the command line) still reaches this node's cache
	// within a read of the log. See cache.go.
	Changes ChangeLog
	FeedTTL time.Duration // zero: 10 minutes
	// Notifier hears of every credential that ends and every user whose
	// roles change here, so open sockets end with them; nil: nobody.
	Notifier Notifier
	Logger   *slog.Logger // zero: slog.Default()

	cache credentialCache
	feed  feedState

	// usedMu guards used: credentials' last-use times waiting for the next
	// FlushUsage, at most one per credential.
	usedMu sync.Mutex
	used   map[uuid.UUID]time.Time

	// dummyHash is verified against in every refused log-in that has no
	// password hash of its own to check (an unknown email, a token-only
	// account), so each refusal costs what a wrong password costs.
	dummyOnce sync.Once
	dummyHash string
	// verify checks a password against an encoded hash; zero: Verify. Tests
	// count its calls.
	verify func(password, encoded string) (bool, error)
}

func (s *Service) log() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

// announce tells the notifier, if any, about c.
func (s *Service) announce(ctx context.Context, c Change) {
	if s.Notifier != nil {
		s.Notifier.CredentialsChanged(ctx, c)
	}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) hasher() Hasher {
	if s.Hasher == (Hasher{}) {
		return DefaultHasher
	}
	return s.Hasher
}

// NewUser is what an operator or a sign-up form supplies.
type NewUser struct {
	Email       string
	DisplayName string
	Password    string
	Roles       []Role
	BrandIDs    []uuid.UUID
	// NoPassword makes an account that cannot log in with a password: it
	// works only through bearer tokens an admin issues (load-test buyers,
	// integrations).
	NoPassword bool
}

// MinPasswordLen follows NIST SP 800-63B's floor for user-chosen secrets.
const MinPasswordLen = 8

func validate(n *NewUser) error {
	n.Email = strings.ToLower(strings.TrimSpace(n.Email))
	n.DisplayName = strings.TrimSpace(n.DisplayName)
	// net/mail takes any Unicode in an address (RFC 6532), bidi overrides too.
	if err := textcheck.Line("email", n.Email); err != nil {
		return err
	}
	addr, err := mail.ParseAddress(n.Email)
	if err != nil || addr.Address != n.Email || len(n.Email) > 254 {
		return apperr.Errorf(apperr.Invalid, "email %q is not a valid address", n.Email)
	}
	if n.DisplayName == "" {
		n.DisplayName, _, _ = strings.Cut(n.Email, "@")
	}
	if utf8.RuneCountInString(n.DisplayName) > 64 {
		return apperr.Errorf(apperr.Invalid, "display name is longer than 64 characters")
	}
	if err := textcheck.Line("display name", n.DisplayName); err != nil {
		return err
	}
	if n.NoPassword {
		if n.Password != "" {
			return apperr.Errorf(apperr.Invalid, "give a password or ask for a token-only account, not both")
		}
	} else if utf8.RuneCountInString(n.Password) < MinPasswordLen {
		return apperr.Errorf(apperr.Invalid, "password must be at least %d characters", MinPasswordLen)
	}
	if len(n.Password) > 1024 {
		return apperr.Errorf(apperr.Invalid, "password is longer than 1024 bytes")
	}
	if !slices.Contains(n.Roles, RoleViewer) {
		n.Roles = append([]Role{RoleViewer}, n.Roles...)
	}
	for _, r := range n.Roles {
		if _, ok := ParseRole(string(r)); !ok {
			return apperr.Errorf(apperr.Invalid, "unknown role %q", r)
		}
	}
	if n.BrandIDs == nil {
		n.BrandIDs = []uuid.UUID{}
	}
	if len(n.BrandIDs) > 0 && !slices.Contains(n.Roles, RoleBrandAdmin) {
		return apperr.Errorf(apperr.Invalid, "only brand admins are linked to brands")
	}
	return nil
}

// Create makes an account with the given roles. Sign-up uses it with no
// roles (a viewer); operators use it for every other role.
func (s *Service) Create(ctx context.Context, n NewUser) (*User, error) {
	if err := validate(&n); err != nil {
		return nil, err
	}
	hash := "" // matches no password: Verify refuses it
	if !n.NoPassword {
		var err error
		if hash, err = s.hasher().Hash(n.Password); err != nil {
			return nil, err
		}
	}
	u := &User{ID: uuid.New(), Email: n.Email, DisplayName: n.DisplayName, Roles: n.Roles, BrandIDs: n.BrandIDs,
		CreatedAt: s.now().Truncate(time.Microsecond)}
	if err := s.Store.CreateUser(ctx, u, hash); err != nil {
		return nil, err
	}
	return u, nil
}

// Signup makes a viewer account and logs it in.
func (s *Service) Signup(ctx context.Context, email, displayName, password string) (*User, string, error) {
	gen := s.cache.generation()
	u, err := s.Create(ctx, NewUser{Email: email, DisplayName: displayName, Password: password})
	if err != nil {
		return nil, "", err
	}
	secret, _, err := s.issue(ctx, gen, u, KindSession, "", s.sessionTTL())
	if err != nil {
		return nil, "", err
	}
	return u, secret, nil
}

var errBadLogin = apperr.Errorf(apperr.Unauthorized, "wrong email or password")

// Login checks a password and starts a session. The answer for an unknown
// email, for an account without a password (token-only) and for a wrong
// password is the same, in content and in time: each costs one password
// verification, so answers cannot tell which accounts exist.
func (s *Service) Login(ctx context.Context, email, password string) (*User, string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	gen := s.cache.generation()
	u, hash, err := s.Store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, apperr.E(apperr.NotFound)) {
		return nil, "", err
	}
	if err != nil || hash == "" {
		// No hash of its own to check (unknown email, token-only account):
		// check one of the same cost that matches nothing.
		s.dummyOnce.Do(func() { s.dummyHash, _ = s.hasher().Hash(randomSecret()) })
		hash = s.dummyHash
		u = nil
	}
	verify := s.verify
	if verify == nil {
		verify = Verify
	}
	ok, err := verify(password, hash)
	if err != nil || !ok || u == nil {
		return nil, "", errBadLogin
	}
	secret, _, err := s.issue(ctx, gen, u, KindSession, "", s.sessionTTL())
	if err != nil {
		return nil, "", err
	}
	return u, secret, nil
}

// Logout ends the session (or revokes the token) that secret names, and
// whatever was opened with it. An unknown secret is not an error: the
// result is the same.
func (s *Service) Logout(ctx context.Context, secret string) error {
	hash := HashSecret(secret)
	c, err := s.Store.CredentialByHash(ctx, hash, s.now())
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		c, err = nil, nil // unknown or expired: there is nothing to announce
	}
	if err != nil {
		return err
	}
	return s.end(ctx, hash, c)
}

// end deletes the credential with the given hash and announces c's end.
func (s *Service) end(ctx context.Context, hash string, c *Credential) error {
	s.cache.dropHash(hash)
	err := s.Store.DeleteCredential(ctx, hash)
	if err != nil && !errors.Is(err, apperr.E(apperr.NotFound)) {
		return err
	}
	if c != nil {
		s.announce(ctx, Change{Kind: CredentialEnded, UserID: c.UserID, CredentialID: c.ID})
	}
	return nil
}

// Token lifetimes: a leaked token of an ordinary account stops working
// within MaxTokenTTL; platform admins may issue longer ones (integrations).
const (
	MaxTokenTTL      = 90 * 24 * time.Hour
	MaxAdminTokenTTL = 366 * 24 * time.Hour
)

// IssueToken creates a bearer token for scripts; ttl 0 means the default
// (TokenTTL, within the owner's maximum).
func (s *Service) IssueToken(ctx context.Context, userID uuid.UUID, name string, ttl time.Duration) (string, Token, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 64 {
		return "", Token{}, apperr.Errorf(apperr.Invalid, "token name is longer than 64 characters")
	}
	if err := textcheck.Line("token name", name); err != nil {
		return "", Token{}, err
	}
	gen := s.cache.generation()
	owner, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return "", Token{}, err
	}
	limit, days := MaxTokenTTL, 90
	if owner.Has(RoleAdmin) {
		limit, days = MaxAdminTokenTTL, 366
	}
	if ttl < 0 || ttl > limit {
		return "", Token{}, apperr.Errorf(apperr.Invalid, "token lifetime must be between 1 second and %d days", days)
	}
	if ttl == 0 {
		ttl = min(cmp.Or(s.TokenTTL, MaxTokenTTL), limit)
	}
	secret, c, err := s.issue(ctx, gen, owner, KindToken, name, ttl)
	if err != nil {
		return "", Token{}, err
	}
	return secret, tokenOf(c), nil
}

func (s *Service) sessionTTL() time.Duration {
	if s.SessionTTL == 0 {
		return 30 * 24 * time.Hour
	}
	return s.SessionTTL
}

func (s *Service) issue(ctx context.Context, gen uint64, u *User, kind CredentialKind, name string, ttl time.Duration) (string, *Credential, error) {
	prefix := SessionPrefix
	if kind == KindToken {
		prefix = TokenPrefix
	}
	secret := prefix + randomSecret()
	t := s.now().Truncate(time.Microsecond)
	c := &Credential{ID: uuid.New(), Hash: HashSecret(secret), UserID: u.ID, Kind: kind, Name: name, CreatedAt: t, ExpiresAt: t.Add(ttl)}
	if err := s.Store.CreateCredential(ctx, c); err != nil {
		return "", nil, err
	}
	// The node that issued a credential knows whom it vouches for: its
	// holder's first requests here need no store read (a crowd that signed
	// in before a drop taps at once). gen was taken before u was read, so
	// a change of u seen since keeps this entry short (remember).
	s.remember(c.Hash, cachedCredential{user: u, id: c.ID, kind: kind, expires: c.ExpiresAt, verified: t}, gen)
	return secret, c, nil
}

// Authenticate resolves a session or token secret to its user and the
// credential that vouches. Anything unknown, malformed or expired is
// Unauthorized. A verified credential is trusted for CacheTTL without asking
// the store again, and its use is recorded (see FlushUsage).
func (s *Service) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	if len(secret) < 8 || len(secret) > 128 {
		return nil, apperr.Errorf(apperr.Unauthorized, "invalid or expired credentials")
	}
	var buf [64]byte // the hash in hex, on the stack: a cache hit allocates no string
	hashed := hashSecretTo(&buf, secret)
	now := s.now()
	if c, ok := s.cached(hashed, now); ok {
		return c.principal(), nil
	}
	gen := s.cache.generation()
	hash := string(hashed)
	c, u, err := s.Store.CredentialWithUser(ctx, hash, now)
	if errors.Is(err, apperr.E(apperr.NotFound)) {
		return nil, apperr.Errorf(apperr.Unauthorized, "invalid or expired credentials")
	}
	if err != nil {
		return nil, err
	}
	entry := cachedCredential{user: u, id: c.ID, kind: c.Kind, expires: c.ExpiresAt, verified: now}
	if c.LastUsedAt != nil {
		entry.used = *c.LastUsedAt
	}
	if now.Sub(entry.used) >= TouchEvery {
		entry.used = now
		s.markUsed(c.ID, now)
	}
	s.remember(hash, entry, gen)
	return entry.principal(), nil
}

// ResetPassword sets a new password and revokes every session and token of
// the account, so whoever knew the old one is out, open sockets included.
func (s *Service) ResetPassword(ctx context.Context, email, password string) error {
	n := NewUser{Email: email, Password: password}
	if err := validate(&n); err != nil {
		return err
	}
	u, _, err := s.Store.UserByEmail(ctx, n.Email)
	if err != nil {
		return err
	}
	hash, err := s.hasher().Hash(password)
	if err != nil {
		return err
	}
	if err := s.Store.SetPassword(ctx, u.ID, hash); err != nil {
		return err
	}
	err = s.Store.DeleteUserCredentials(ctx, u.ID)
	s.forgetUsers(u.ID)
	if err != nil {
		return err
	}
	s.announce(ctx, Change{Kind: UserSignedOut, UserID: u.ID})
	return nil
}

// SetRoles replaces a user's roles and brand links. A brand_admin given
// no brands keeps the ones they administer.
func (s *Service) SetRoles(ctx context.Context, email string, roles []Role, brandIDs []uuid.UUID) (*User, error) {
	u, _, err := s.Store.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(email)))
	if err != nil {
		return nil, err
	}
	if !slices.Contains(roles, RoleViewer) {
		roles = append([]Role{RoleViewer}, roles...)
	}
	for _, r := range roles {
		if _, ok := ParseRole(string(r)); !ok {
			return nil, apperr.Errorf(apperr.Invalid, "unknown role %q", r)
		}
	}
	// A brand admin who stays one keeps the brands they administer unless
	// others are named: a role change must not silently take them away.
	if len(brandIDs) == 0 && slices.Contains(roles, RoleBrandAdmin) {
		brandIDs = u.BrandIDs
	}
	if err := s.Store.SetRoles(ctx, u.ID, roles, brandIDs); err != nil {
		return nil, err
	}
	s.forgetUsers(u.ID)
	s.announce(ctx, Change{Kind: UserChanged, UserID: u.ID})
	return s.Store.UserByID(ctx, u.ID)
}

// HashSecret is how secrets are stored: hex SHA-256. A fast hash is right
// here (unlike passwords): secrets are 256 random bits, not guessable.
func HashSecret(secret string) string {
	var buf [64]byte
	return string(hashSecretTo(&buf, secret))
}

// hashSecretTo writes HashSecret(secret) to buf and returns it. Secrets
// longer than 128 bytes are hashed from a copy on the heap.
func hashSecretTo(buf *[64]byte, secret string) []byte {
	var in [128]byte // []byte(secret) would allocate past 32 bytes
	var sum [sha256.Size]byte
	if len(secret) <= len(in) {
		sum = sha256.Sum256(in[:copy(in[:], secret)])
	} else {
		sum = sha256.Sum256([]byte(secret))
	}
	hex.Encode(buf[:], sum[:])
	return buf[:]
}

func randomSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}
