package postgres

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// UserStore keeps accounts, their roles, sessions and tokens.
type UserStore struct{ *conn }

// userCols selects a user with its roles and brand links; u is users.
const userCols = `u.id, u.email, u.display_name, u.avatar_url, u.created_at,
	ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = u.id),
	ARRAY(SELECT a.brand_id FROM brand_admins a WHERE a.user_id = u.id ORDER BY a.position, a.brand_id)`

// writeRoles replaces the roles and brand links of user id inside tx.
func writeRoles(ctx context.Context, tx pgx.Tx, id uuid.UUID, roles []account.Role, brandIDs []uuid.UUID) error {
	if _, err := tx.Exec(ctx, `DELETE FROM user_roles WHERE user_id = $1`, id); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM brand_admins WHERE user_id = $1`, id); err != nil {
		return err
	}
	if len(roles) > 0 {
		if _, err := tx.Exec(ctx,
			`INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[])`, id, sqlstore.Strings(roles)); err != nil {
			return err
		}
	}
	if len(brandIDs) > 0 {
		if _, err := tx.Exec(ctx,
			`INSERT INTO brand_admins (brand_id, user_id, position)
			 SELECT b.id, $1, b.n FROM unnest($2::uuid[]) WITH ORDINALITY AS b(id, n)`,
			id, sqlstore.Distinct(brandIDs)); err != nil {
			return err
		}
	}
	return nil
}

// CreateUser inserts u with its roles and brand links. The email is stored as
// given and unique compared lower-cased. A brand link to a missing brand is NotFound.
func (db UserStore) CreateUser(ctx context.Context, u *account.User, passwordHash string) error {
	roles, err := sqlstore.Roles(u.Roles)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx,
			`INSERT INTO users (id, email, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
			u.ID, u.Email, u.DisplayName, passwordHash, u.CreatedAt); err != nil {
			return err
		}
		return writeRoles(ctx, tx, u.ID, roles, u.BrandIDs)
	})
	return storeErr("create user", err)
}

// UserByID returns the user with the given ID.
func (db UserStore) UserByID(ctx context.Context, id uuid.UUID) (*account.User, error) {
	u, err := scan.User(db.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = $1`, id))
	if err != nil {
		return nil, notFound("user by id", "user", err)
	}
	return u, nil
}

// UserByEmail returns the user whose email matches, ignoring case, and the
// stored password hash.
func (db UserStore) UserByEmail(ctx context.Context, email string) (*account.User, string, error) {
	var hash string
	u, err := scan.User(db.pool.QueryRow(ctx,
		`SELECT `+userCols+`, u.password_hash FROM users u WHERE lower(u.email) = lower($1)`,
		email), &hash)
	if err != nil {
		return nil, "", notFound("user by email", "user", err)
	}
	return u, hash, nil
}

// SetPassword replaces the user's password hash.
// SetAvatar sets the user's picture.
func (db UserStore) SetAvatar(ctx context.Context, id uuid.UUID, url string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE users SET avatar_url = $2 WHERE id = $1`, id, url)
	if err != nil {
		return storeErr("set avatar", err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.NotFound, "user not found")
	}
	return nil
}

func (db UserStore) SetPassword(ctx context.Context, id uuid.UUID, passwordHash string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, id, passwordHash)
	if err != nil {
		return storeErr("set password", err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.NotFound, "user not found")
	}
	return nil
}

// SetRoles replaces the user's roles and brand links in one transaction.
func (db UserStore) SetRoles(ctx context.Context, id uuid.UUID, roles []account.Role, brandIDs []uuid.UUID) error {
	rs, err := sqlstore.Roles(roles)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Lock the user so that concurrent SetRoles calls apply one after the other.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, id).Scan(&one); err != nil {
			return notFound("set roles", "user", err)
		}
		return writeRoles(ctx, tx, id, rs, brandIDs)
	})
	return storeErr("set roles", err)
}

// ListUsers lists users in creation order. A limit of 0 or less means 50;
// no page holds more than 200.
func (db UserStore) ListUsers(ctx context.Context, offset, limit int) ([]account.User, error) {
	offset, limit = sqlstore.Page(offset, limit)
	rows, err := db.pool.Query(ctx,
		`SELECT `+userCols+` FROM users u ORDER BY u.created_at, u.seq OFFSET $1 LIMIT $2`, offset, limit)
	users, err := collect(rows, err, func(r sqlstore.Row) (*account.User, error) { return scan.User(r) })
	if err != nil {
		return nil, storeErr("list users", err)
	}
	return users, nil
}

// CreateCredential stores a session or token. A credential for a missing
// user is NotFound; a repeated hash or id is a Conflict.
func (db UserStore) CreateCredential(ctx context.Context, c *account.Credential) error {
	_, err := db.pool.Exec(ctx,
		`INSERT INTO credentials (hash, id, user_id, kind, name, created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.Hash, c.ID, c.UserID, string(c.Kind), c.Name, c.CreatedAt, c.ExpiresAt, c.LastUsedAt)
	return storeErr("create credential", err)
}

// CredentialByHash returns the credential unless it is missing or expired at now.
func (db UserStore) CredentialByHash(ctx context.Context, hash string, now time.Time) (*account.Credential, error) {
	c, err := scan.Credential(db.pool.QueryRow(ctx,
		`SELECT `+sqlstore.CredentialCols+` FROM credentials WHERE hash = $1 AND expires_at > $2`, hash, now))
	if err != nil {
		return nil, notFound("credential by hash", "credential", err)
	}
	return c, nil
}

// CredentialWithUser returns the credential, unless it is missing or
// expired at now, and its user, in one query.
func (db UserStore) CredentialWithUser(ctx context.Context, hash string, now time.Time) (*account.Credential, *account.User, error) {
	var (
		c    account.Credential
		kind string
	)
	u, err := scan.User(db.pool.QueryRow(ctx,
		`SELECT `+userCols+`, c.hash, c.id, c.user_id, c.kind, c.name, c.created_at, c.expires_at, c.last_used_at
		 FROM credentials c JOIN users u ON u.id = c.user_id WHERE c.hash = $1 AND c.expires_at > $2`, hash, now),
		&c.Hash, &c.ID, &c.UserID, &kind, &c.Name, &c.CreatedAt, &c.ExpiresAt, &c.LastUsedAt)
	if err != nil {
		return nil, nil, notFound("credential with user", "credential", err)
	}
	c.Kind = account.CredentialKind(kind)
	c.CreatedAt, c.ExpiresAt = c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	if c.LastUsedAt != nil {
		t := c.LastUsedAt.UTC()
		c.LastUsedAt = &t
	}
	return &c, u, nil
}

// CredentialByID returns the credential unless it is missing or expired at now.
func (db UserStore) CredentialByID(ctx context.Context, id uuid.UUID, now time.Time) (*account.Credential, error) {
	c, err := scan.Credential(db.pool.QueryRow(ctx,
		`SELECT `+sqlstore.CredentialCols+` FROM credentials WHERE id = $1 AND expires_at > $2`, id, now))
	if err != nil {
		return nil, notFound("credential by id", "credential", err)
	}
	return c, nil
}

// CredentialsByUser lists the user's credentials unexpired at now, newest first.
func (db UserStore) CredentialsByUser(ctx context.Context, userID uuid.UUID, now time.Time) ([]account.Credential, error) {
	rows, err := db.pool.Query(ctx,
		`SELECT `+sqlstore.CredentialCols+` FROM credentials WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id`, userID, now)
	if err != nil {
		return nil, storeErr("credentials by user", err)
	}
	defer rows.Close()
	out := []account.Credential{}
	for rows.Next() {
		c, err := scan.Credential(rows)
		if err != nil {
			return nil, storeErr("credentials by user", err)
		}
		out = append(out, *c)
	}
	return out, storeErr("credentials by user", rows.Err())
}

// CredentialUsers returns the users of the credentials among ids unexpired
// at now, in one query.
func (db UserStore) CredentialUsers(ctx context.Context, ids []uuid.UUID, now time.Time) (map[uuid.UUID]*account.User, error) {
	out := make(map[uuid.UUID]*account.User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.pool.Query(ctx, `SELECT `+userCols+`, c.id FROM credentials c JOIN users u ON u.id = c.user_id
		WHERE c.id = ANY($1::uuid[]) AND c.expires_at > $2`, ids, now)
	if err != nil {
		return nil, storeErr("credential users", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		u, err := scan.User(rows, &id)
		if err != nil {
			return nil, storeErr("credential users", err)
		}
		out[id] = u
	}
	return out, storeErr("credential users", rows.Err())
}

// TouchCredentials records last-use times in one statement, never moving
// one backwards.
func (db UserStore) TouchCredentials(ctx context.Context, used map[uuid.UUID]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	// In id order, so two nodes touching the same rows lock them alike.
	ids := slices.SortedFunc(maps.Keys(used), func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	times := make([]time.Time, len(ids))
	for i, id := range ids {
		times[i] = used[id]
	}
	_, err := db.pool.Exec(ctx, `UPDATE credentials c SET last_used_at = v.at
		FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, at)
		WHERE c.id = v.id AND (c.last_used_at IS NULL OR c.last_used_at < v.at)`, ids, times)
	return storeErr("touch credentials", err)
}

// DeleteCredential removes one credential; a missing one is NotFound.
func (db UserStore) DeleteCredential(ctx context.Context, hash string) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM credentials WHERE hash = $1`, hash)
	if err != nil {
		return storeErr("delete credential", err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.NotFound, "credential not found")
	}
	return nil
}

// DeleteUserCredentials revokes every session and token of the user.
func (db UserStore) DeleteUserCredentials(ctx context.Context, userID uuid.UUID) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM credentials WHERE user_id = $1`, userID)
	return storeErr("delete user credentials", err)
}

// DeleteExpiredCredentials removes the credentials expired at now (the ones
// CredentialByHash no longer returns) and reports how many.
func (db UserStore) DeleteExpiredCredentials(ctx context.Context, now time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, `DELETE FROM credentials WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, storeErr("delete expired credentials", err)
	}
	return tag.RowsAffected(), nil
}
