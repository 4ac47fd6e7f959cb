package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// UserStore keeps accounts, their roles, sessions and tokens.
type UserStore struct{ *conn }

// userCols selects a user with its roles and brand links; u is users.
const userCols = `u.id, u.email, u.display_name, u.avatar_url, u.created_at,
	(SELECT json_group_array(r.role) FROM user_roles r WHERE r.user_id = u.id),
	(SELECT json_group_array(a.brand_id ORDER BY a.position, a.brand_id) FROM brand_admins a WHERE a.user_id = u.id)`

// emailKey is the form emails are unique and looked up in.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// writeRoles replaces the roles and brand links of user id inside tx. A link
// to a missing brand is NotFound.
func writeRoles(ctx context.Context, tx *sql.Tx, id uuid.UUID, roles []account.Role, brandIDs []uuid.UUID) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = $1`, id); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM brand_admins WHERE user_id = $1`, id); err != nil {
		return err
	}
	for _, r := range roles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES ($1, $2)`, id, r); err != nil {
			return err
		}
	}
	for i, b := range sqlstore.Distinct(brandIDs) {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO brand_admins (brand_id, user_id, position) VALUES ($1, $2, $3)`, b, id, i); err != nil {
			return refErr(err, "brand")
		}
	}
	return nil
}

// CreateUser inserts u with its roles and brand links. The email is stored
// as given and unique compared lower-cased. A brand link to a missing brand
// is NotFound.
func (db UserStore) CreateUser(ctx context.Context, u *account.User, passwordHash string) error {
	roles, err := sqlstore.Roles(u.Roles)
	if err != nil {
		return err
	}
	return db.write(ctx, "create user", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO users (id, email, email_key, display_name, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			u.ID, u.Email, emailKey(u.Email), u.DisplayName, passwordHash, micros(u.CreatedAt)); err != nil {
			return err
		}
		return writeRoles(ctx, tx, u.ID, roles, u.BrandIDs)
	})
}

// UserByID returns the user with the given ID.
func (db UserStore) UserByID(ctx context.Context, id uuid.UUID) (*account.User, error) {
	u, err := scan.User(db.r.QueryRowContext(ctx, `SELECT `+userCols+` FROM users u WHERE u.id = $1`, id))
	if err != nil {
		return nil, storeErr("user by id", noRows(err, "user"))
	}
	return u, nil
}

// UserByEmail returns the user whose email matches, ignoring case, and the
// stored password hash.
func (db UserStore) UserByEmail(ctx context.Context, email string) (*account.User, string, error) {
	var hash string
	u, err := scan.User(db.r.QueryRowContext(ctx,
		`SELECT `+userCols+`, u.password_hash FROM users u WHERE u.email_key = $1`, emailKey(email)), &hash)
	if err != nil {
		return nil, "", storeErr("user by email", noRows(err, "user"))
	}
	return u, hash, nil
}

// SetPassword replaces the user's password hash.
func (db UserStore) SetPassword(ctx context.Context, id uuid.UUID, passwordHash string) error {
	return storeErr("set password", db.execOne(ctx, "user",
		`UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, id))
}

// SetAvatar sets the user's picture.
func (db UserStore) SetAvatar(ctx context.Context, id uuid.UUID, url string) error {
	return storeErr("set avatar", db.execOne(ctx, "user", `UPDATE users SET avatar_url = $1 WHERE id = $2`, url, id))
}

// SetRoles replaces the user's roles and brand links in one transaction.
func (db UserStore) SetRoles(ctx context.Context, id uuid.UUID, roles []account.Role, brandIDs []uuid.UUID) error {
	roles, err := sqlstore.Roles(roles)
	if err != nil {
		return err
	}
	return db.write(ctx, "set roles", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = $1`, id).Scan(&one); err != nil {
			return noRows(err, "user")
		}
		return writeRoles(ctx, tx, id, roles, brandIDs)
	})
}

// ListUsers lists users in creation order. A limit of 0 or less means 50;
// no page holds more than 200.
func (db UserStore) ListUsers(ctx context.Context, offset, limit int) ([]account.User, error) {
	offset, limit = sqlstore.Page(offset, limit)
	users, err := queryAll(ctx, db.r, func(r row) (*account.User, error) { return scan.User(r) },
		`SELECT `+userCols+` FROM users u ORDER BY u.created_at, u.seq LIMIT $1 OFFSET $2`, limit, offset)
	return users, storeErr("list users", err)
}

// CreateCredential stores a session or token. A credential for a missing
// user is NotFound; a repeated hash or id is a Conflict.
func (db UserStore) CreateCredential(ctx context.Context, c *account.Credential) error {
	_, err := db.exec(ctx,
		`INSERT INTO credentials (hash, id, user_id, kind, name, created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		c.Hash, c.ID, c.UserID, c.Kind, c.Name, micros(c.CreatedAt), micros(c.ExpiresAt), nullMicros(c.LastUsedAt))
	return storeErr("create credential", refErr(err, "user"))
}

// CredentialByHash returns the credential unless it is missing or expired at now.
func (db UserStore) CredentialByHash(ctx context.Context, hash string, now time.Time) (*account.Credential, error) {
	c, err := scan.Credential(db.r.QueryRowContext(ctx,
		`SELECT `+sqlstore.CredentialCols+` FROM credentials WHERE hash = $1 AND expires_at > $2`, hash, micros(now)))
	if err != nil {
		return nil, storeErr("credential by hash", noRows(err, "credential"))
	}
	return c, nil
}

// CredentialWithUser returns the credential, unless it is missing or
// expired at now, and its user, in one query.
func (db UserStore) CredentialWithUser(ctx context.Context, hash string, now time.Time) (*account.Credential, *account.User, error) {
	var c account.Credential
	u, err := scan.User(db.r.QueryRowContext(ctx,
		`SELECT `+userCols+`, c.hash, c.id, c.user_id, c.kind, c.name, c.created_at, c.expires_at, c.last_used_at
		 FROM credentials c JOIN users u ON u.id = c.user_id WHERE c.hash = $1 AND c.expires_at > $2`, hash, micros(now)),
		&c.Hash, &c.ID, &c.UserID, &c.Kind, &c.Name, asTime(&c.CreatedAt), asTime(&c.ExpiresAt), asNullTime(&c.LastUsedAt))
	if err != nil {
		return nil, nil, storeErr("credential with user", noRows(err, "credential"))
	}
	return &c, u, nil
}

// CredentialByID returns the credential unless it is missing or expired at now.
func (db UserStore) CredentialByID(ctx context.Context, id uuid.UUID, now time.Time) (*account.Credential, error) {
	c, err := scan.Credential(db.r.QueryRowContext(ctx,
		`SELECT `+sqlstore.CredentialCols+` FROM credentials WHERE id = $1 AND expires_at > $2`, id, micros(now)))
	if err != nil {
		return nil, storeErr("credential by id", noRows(err, "credential"))
	}
	return c, nil
}

// CredentialsByUser lists the user's credentials unexpired at now, newest first.
func (db UserStore) CredentialsByUser(ctx context.Context, userID uuid.UUID, now time.Time) ([]account.Credential, error) {
	creds, err := queryAll(ctx, db.r, scan.Credential,
		`SELECT `+sqlstore.CredentialCols+` FROM credentials WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id`,
		userID, micros(now))
	return creds, storeErr("credentials by user", err)
}

// credentialBatch bounds the ids of one CredentialUsers query, well below
// SQLite's limit on bound parameters.
const credentialBatch = 500

// CredentialUsers returns the users of the credentials among ids unexpired
// at now, a query per 500 ids.
func (db UserStore) CredentialUsers(ctx context.Context, ids []uuid.UUID, now time.Time) (map[uuid.UUID]*account.User, error) {
	out := make(map[uuid.UUID]*account.User, len(ids))
	for batch := range slices.Chunk(ids, credentialBatch) {
		args := make([]any, 0, len(batch)+1)
		args = append(args, micros(now))
		for _, id := range batch {
			args = append(args, id)
		}
		rows, err := db.r.QueryContext(ctx, `SELECT `+userCols+`, c.id FROM credentials c JOIN users u ON u.id = c.user_id
			WHERE c.expires_at > $1 AND c.id IN `+inList(2, len(batch)), args...)
		if err != nil {
			return nil, storeErr("credential users", err)
		}
		for rows.Next() {
			var id uuid.UUID
			u, err := scan.User(rows, &id)
			if err != nil {
				rows.Close()
				return nil, storeErr("credential users", err)
			}
			out[id] = u
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, storeErr("credential users", err)
		}
	}
	return out, nil
}

// TouchCredentials records last-use times in one transaction, never moving
// one backwards.
func (db UserStore) TouchCredentials(ctx context.Context, used map[uuid.UUID]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return db.write(ctx, "touch credentials", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx,
			`UPDATE credentials SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, at := range used {
			if _, err := stmt.ExecContext(ctx, micros(at), id); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteCredential removes one credential; a missing one is NotFound.
func (db UserStore) DeleteCredential(ctx context.Context, hash string) error {
	return storeErr("delete credential", db.execOne(ctx, "credential",
		`DELETE FROM credentials WHERE hash = $1`, hash))
}

// DeleteUserCredentials revokes every session and token of the user.
func (db UserStore) DeleteUserCredentials(ctx context.Context, userID uuid.UUID) error {
	_, err := db.exec(ctx, `DELETE FROM credentials WHERE user_id = $1`, userID)
	return storeErr("delete user credentials", err)
}

// DeleteExpiredCredentials removes the credentials expired at now (the ones
// CredentialByHash no longer returns) and reports how many.
func (db UserStore) DeleteExpiredCredentials(ctx context.Context, now time.Time) (int64, error) {
	n, err := db.exec(ctx, `DELETE FROM credentials WHERE expires_at <= $1`, micros(now))
	return n, storeErr("delete expired credentials", err)
}
