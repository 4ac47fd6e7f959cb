// Package account owns people and how they prove who they are: users and
// their roles, password hashing, sessions (cookies) and bearer tokens, and the
// authorization rules that say which user may act on what. It defines the
// Store it needs; the SQLite and PostgreSQL drivers implement it.
package account

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Role is what a user may do. A user holds a set of roles; every signed-in
// user is at least a viewer.
type Role string

const (
	RoleViewer     Role = "viewer"
	RoleMember     Role = "member"      // Pavilion membership: may watch members-only shows
	RoleHost       Role = "host"        // may be assigned to shows and run them from the studio
	RoleBrandAdmin Role = "brand_admin" // administers the brands listed in User.BrandIDs
	RoleAdmin      Role = "admin"       // platform admin: everything
)

// Roles lists every role, in the order of increasing power.
var Roles = []Role{RoleViewer, RoleMember, RoleHost, RoleBrandAdmin, RoleAdmin}

// ParseRole checks that s names a role.
func ParseRole(s string) (Role, bool) {
	r := Role(s)
	return r, slices.Contains(Roles, r)
}

// User is an account.
type User struct {
	ID          uuid.UUID   `json:"id"`
	Email       string      `json:"email"`
	DisplayName string      `json:"display_name"`
	Roles       []Role      `json:"roles"`
	BrandIDs    []uuid.UUID `json:"brand_ids"` // brands this user administers
	// AvatarURL is the person's picture (an uploaded image, /media/…); empty: none.
	AvatarURL string    `json:"avatar_url"`
	CreatedAt time.Time `json:"created_at"`
}

// Has reports whether u holds role r. Admins hold every role.
func (u *User) Has(r Role) bool {
	if u == nil {
		return false
	}
	return slices.Contains(u.Roles, r) || slices.Contains(u.Roles, RoleAdmin)
}

// CredentialKind separates browser sessions from script tokens: sessions come
// from a cookie and are subject to cross-origin checks; tokens come from an
// Authorization header.
type CredentialKind string

const (
	KindSession CredentialKind = "session"
	KindToken   CredentialKind = "token"
)

// Credential is a stored session or bearer token. Only the SHA-256 of the
// secret is stored, so a leaked database does not leak live credentials.
type Credential struct {
	// ID names the credential where its hash must not travel: in token
	// lists, revocation URLs, and announcements between nodes.
	ID        uuid.UUID
	Hash      string // hex SHA-256 of the secret
	UserID    uuid.UUID
	Kind      CredentialKind
	Name      string // for tokens: what the user called it
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastUsedAt is when the credential last vouched for a request, to about
	// a minute (see Service.Authenticate); nil: never.
	LastUsedAt *time.Time
}

// Principal is a caller a credential vouched for: the user, and which
// credential it was, until when. Long-lived connections keep it, so they can
// end when the credential does.
type Principal struct {
	User *User
	// CredentialID is zero for a principal no credential stands behind
	// (tests, internal callers): nothing ends it.
	CredentialID uuid.UUID
	Kind         CredentialKind
	ExpiresAt    time.Time
}

// ChangeKind says what a Change announces.
type ChangeKind string

const (
	// CredentialEnded: one credential no longer vouches (log-out, revocation).
	CredentialEnded ChangeKind = "credential_ended"
	// UserSignedOut: every credential of the user ended (password reset).
	UserSignedOut ChangeKind = "user_signed_out"
	// UserChanged: the user's roles or brand links changed; their
	// credentials still vouch, for the new roles.
	UserChanged ChangeKind = "user_changed"
)

// Change is an end of credentials, or a change of a user, that whatever
// keeps a caller for longer than a request (the live room's sockets) must
// act on.
type Change struct {
	Kind         ChangeKind `json:"kind"`
	UserID       uuid.UUID  `json:"user_id"`
	CredentialID uuid.UUID  `json:"credential_id,omitzero"` // CredentialEnded only
}

// Notifier hears of credential ends and user changes (chat.Hub, which
// carries them to every node). Account never imports its listeners.
type Notifier interface {
	CredentialsChanged(ctx context.Context, c Change)
}

// Store persists users and credentials. Implementations return
// *apperr.Error with NotFound for a missing row and Conflict for a duplicate.
type Store interface {
	// CreateUser inserts u with its roles and brand links. Email is unique
	// (compared lower-cased); a duplicate is a Conflict.
	CreateUser(ctx context.Context, u *User, passwordHash string) error
	UserByID(ctx context.Context, id uuid.UUID) (*User, error)
	// UserByEmail returns the user and the stored password hash.
	UserByEmail(ctx context.Context, email string) (*User, string, error)
	SetPassword(ctx context.Context, id uuid.UUID, passwordHash string) error
	// SetAvatar sets the user's picture (a missing user is NotFound).
	SetAvatar(ctx context.Context, id uuid.UUID, url string) error
	// SetRoles replaces the user's roles and brand links.
	SetRoles(ctx context.Context, id uuid.UUID, roles []Role, brandIDs []uuid.UUID) error
	// ListUsers lists users in creation order, at most limit after the given offset.
	ListUsers(ctx context.Context, offset, limit int) ([]User, error)

	// CreateCredential stores c; c.ID and c.Hash are each unique (Conflict).
	CreateCredential(ctx context.Context, c *Credential) error
	// CredentialByHash returns the credential; expired ones are NotFound.
	CredentialByHash(ctx context.Context, hash string, now time.Time) (*Credential, error)
	// CredentialWithUser is CredentialByHash and the credential's user, in
	// one read: what authenticating a request needs when the cache misses,
	// once per new buyer of a burst.
	CredentialWithUser(ctx context.Context, hash string, now time.Time) (*Credential, *User, error)
	// CredentialByID returns the credential; expired ones are NotFound.
	CredentialByID(ctx context.Context, id uuid.UUID, now time.Time) (*Credential, error)
	// CredentialsByUser lists the user's credentials unexpired at now, newest first.
	CredentialsByUser(ctx context.Context, userID uuid.UUID, now time.Time) ([]Credential, error)
	// CredentialUsers returns, for each of ids naming a credential unexpired
	// at now, that credential's user as stored now. Ids of missing or
	// expired credentials are absent from the map.
	CredentialUsers(ctx context.Context, ids []uuid.UUID, now time.Time) (map[uuid.UUID]*User, error)
	// TouchCredentials records when credentials were last used. A time
	// earlier than the stored one, or a missing credential, is ignored.
	TouchCredentials(ctx context.Context, used map[uuid.UUID]time.Time) error
	DeleteCredential(ctx context.Context, hash string) error
	// DeleteUserCredentials revokes all of a user's credentials (after a password reset).
	DeleteUserCredentials(ctx context.Context, userID uuid.UUID) error
	// DeleteExpiredCredentials removes credentials that expired before now.
	DeleteExpiredCredentials(ctx context.Context, now time.Time) (int64, error)
}
