package sqlstore

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
)

// UserStore reads and changes accounts. Inserting a user and finding one
// by email (SQLite keeps a lower-cased key column, PostgreSQL an index on
// lower(email)) and the batch reads and writes of credentials are each
// driver's; both write a user's roles with WriteRoles.
type UserStore struct{ db *Conn }

// The tables u of WriteRoles.
var (
	roleCols  = Cols("role text")
	adminCols = Cols("brand_id uuid, position integer")
)

// WriteRoles replaces the roles and brand links of user id inside tx. A
// link to a missing brand is NotFound.
func (c *Conn) WriteRoles(ctx context.Context, tx Querier, id uuid.UUID, roles []account.Role, brandIDs []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1`, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM brand_admins WHERE user_id = $1`, id); err != nil {
		return err
	}
	if _, err := c.Dialect.ExecRows(ctx, tx, roleCols, column(strs(roles)),
		`INSERT INTO user_roles (user_id, role) SELECT $1, role FROM u WHERE true`, id); err != nil {
		return err
	}
	admins := make([][]any, 0, len(brandIDs))
	for i, b := range Distinct(brandIDs) {
		admins = append(admins, []any{b, int64(i)})
	}
	_, err := c.Dialect.ExecRows(ctx, tx, adminCols, admins,
		`INSERT INTO brand_admins (brand_id, user_id, position) SELECT brand_id, $1, position FROM u WHERE true`, id)
	return c.Errs.Ref(err, "brand")
}

// SetRoles replaces the user's roles and brand links in one transaction.
// The user's row is locked first (SQLite's write transaction holds the
// file), so concurrent calls apply one after the other.
func (s UserStore) SetRoles(ctx context.Context, id uuid.UUID, roles []account.Role, brandIDs []uuid.UUID) error {
	rs, err := Roles(roles)
	if err != nil {
		return err
	}
	err = s.db.Tx(ctx, func(tx Querier) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1`+s.db.Dialect.Lock, id).Scan(&one); err != nil {
			return NotFound(err, "user")
		}
		return s.db.WriteRoles(ctx, tx, id, rs, brandIDs)
	})
	return s.db.Errs.Wrap("set roles", err)
}

// UserByID returns the user with the given ID.
func (s UserStore) UserByID(ctx context.Context, id uuid.UUID) (*account.User, error) {
	return readOne(ctx, s.db, "user by id", "user", func(r Row) (*account.User, error) { return s.db.Scan.User(r) },
		`SELECT `+s.db.Dialect.UserCols+` FROM users u WHERE u.id = $1`, id)
}

// SetPassword replaces the user's password hash.
func (s UserStore) SetPassword(ctx context.Context, id uuid.UUID, passwordHash string) error {
	return s.db.Errs.Wrap("set password", s.db.ExecOne(ctx, "user",
		`UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, id))
}

// SetAvatar sets the user's picture.
func (s UserStore) SetAvatar(ctx context.Context, id uuid.UUID, url string) error {
	return s.db.Errs.Wrap("set avatar", s.db.ExecOne(ctx, "user", `UPDATE users SET avatar_url = $1 WHERE id = $2`, url, id))
}

// ListUsers lists users in creation order. A limit of 0 or less means 50;
// no page holds more than 200.
func (s UserStore) ListUsers(ctx context.Context, offset, limit int) ([]account.User, error) {
	offset, limit = Page(offset, limit)
	users, err := QueryAll(ctx, s.db.Read, func(r Row) (*account.User, error) { return s.db.Scan.User(r) },
		`SELECT `+s.db.Dialect.UserCols+` FROM users u ORDER BY u.created_at, u.seq LIMIT $1 OFFSET $2`, limit, offset)
	return users, s.db.Errs.Wrap("list users", err)
}

// CredentialStore keeps sessions and tokens, one at a time.
type CredentialStore struct{ db *Conn }

// CreateCredential stores a session or token. A credential for a missing
// user is NotFound; a repeated hash or id is a Conflict.
func (s CredentialStore) CreateCredential(ctx context.Context, c *account.Credential) error {
	d := s.db.Dialect
	_, err := s.db.Exec(ctx,
		`INSERT INTO credentials (hash, id, user_id, kind, name, created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.Hash, c.ID, c.UserID, string(c.Kind), c.Name, d.Time(c.CreatedAt), d.Time(c.ExpiresAt), d.NullTime(c.LastUsedAt))
	return s.db.Errs.Wrap("create credential", s.db.Errs.Ref(err, "user"))
}

// credential reads one credential of CredentialCols that cond selects.
func (s CredentialStore) credential(ctx context.Context, op, cond string, args ...any) (*account.Credential, error) {
	c, err := s.db.Scan.Credential(s.db.Read.QueryRow(ctx, `SELECT `+CredentialCols+` FROM credentials WHERE `+cond, args...))
	if err != nil {
		return nil, s.db.Errs.Wrap(op, NotFound(err, "credential"))
	}
	return c, nil
}

// CredentialByHash returns the credential unless it is missing or expired at now.
func (s CredentialStore) CredentialByHash(ctx context.Context, hash string, now time.Time) (*account.Credential, error) {
	return s.credential(ctx, "credential by hash", `hash = $1 AND expires_at > $2`, hash, s.db.Dialect.Time(now))
}

// CredentialByID returns the credential unless it is missing or expired at now.
func (s CredentialStore) CredentialByID(ctx context.Context, id uuid.UUID, now time.Time) (*account.Credential, error) {
	return s.credential(ctx, "credential by id", `id = $1 AND expires_at > $2`, id, s.db.Dialect.Time(now))
}

// CredentialWithUser returns the credential, unless it is missing or
// expired at now, and its user, in one query.
func (s CredentialStore) CredentialWithUser(ctx context.Context, hash string, now time.Time) (*account.Credential, *account.User, error) {
	var (
		c    account.Credential
		kind string
		sc   = s.db.Scan
	)
	u, err := sc.User(s.db.Read.QueryRow(ctx,
		`SELECT `+s.db.Dialect.UserCols+`, c.hash, c.id, c.user_id, c.kind, c.name, c.created_at, c.expires_at, c.last_used_at
		 FROM credentials c JOIN users u ON u.id = c.user_id WHERE c.hash = $1 AND c.expires_at > $2`, hash, s.db.Dialect.Time(now)),
		&c.Hash, &c.ID, &c.UserID, &kind, &c.Name, sc.Time(&c.CreatedAt), sc.Time(&c.ExpiresAt), sc.NullTime(&c.LastUsedAt))
	if err != nil {
		return nil, nil, s.db.Errs.Wrap("credential with user", NotFound(err, "credential"))
	}
	c.Kind = account.CredentialKind(kind)
	return &c, u, nil
}

// CredentialsByUser lists the user's credentials unexpired at now, newest first.
func (s CredentialStore) CredentialsByUser(ctx context.Context, userID uuid.UUID, now time.Time) ([]account.Credential, error) {
	creds, err := QueryAll(ctx, s.db.Read, s.db.Scan.Credential,
		`SELECT `+CredentialCols+` FROM credentials WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id`,
		userID, s.db.Dialect.Time(now))
	return creds, s.db.Errs.Wrap("credentials by user", err)
}

// DeleteCredential removes one credential; a missing one is NotFound.
func (s CredentialStore) DeleteCredential(ctx context.Context, hash string) error {
	return s.db.Errs.Wrap("delete credential", s.db.ExecOne(ctx, "credential", `DELETE FROM credentials WHERE hash = $1`, hash))
}

// DeleteUserCredentials revokes every session and token of the user.
func (s CredentialStore) DeleteUserCredentials(ctx context.Context, userID uuid.UUID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM credentials WHERE user_id = $1`, userID)
	return s.db.Errs.Wrap("delete user credentials", err)
}

// DeleteExpiredCredentials removes the credentials expired at now (the ones
// CredentialByHash no longer returns) and reports how many.
func (s CredentialStore) DeleteExpiredCredentials(ctx context.Context, now time.Time) (int64, error) {
	n, err := s.db.Exec(ctx, `DELETE FROM credentials WHERE expires_at <= $1`, s.db.Dialect.Time(now))
	return n, s.db.Errs.Wrap("delete expired credentials", err)
}

// LastAccountChange is the newest entry of the account change log, 0 when
// it is empty.
func (s CredentialStore) LastAccountChange(ctx context.Context) (int64, error) {
	var seq int64
	err := s.db.Read.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM account_changes`).Scan(&seq)
	return seq, s.db.Errs.Wrap("last account change", err)
}

// AccountChangesAfter reads the change log after seq, in order.
func (s CredentialStore) AccountChangesAfter(ctx context.Context, seq int64, limit int) ([]account.LoggedChange, error) {
	changes, err := QueryAll(ctx, s.db.Read, func(r Row) (*account.LoggedChange, error) {
		var c account.LoggedChange
		return &c, r.Scan(&c.Seq, &c.UserID)
	}, `SELECT seq, user_id FROM account_changes WHERE seq > $1 ORDER BY seq LIMIT $2`, seq, limit)
	return changes, s.db.Errs.Wrap("account changes", err)
}

// PruneAccountChanges deletes the change log's entries written before t.
func (s CredentialStore) PruneAccountChanges(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.db.Exec(ctx, `DELETE FROM account_changes WHERE at < $1`, s.db.Dialect.Time(before))
	return n, s.db.Errs.Wrap("prune account changes", err)
}
