package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// AccountStore keeps what the dialects write differently about accounts:
// a user with its roles, the lookup by email and the batch reads and
// writes of credentials. The rest is sqlstore.UserStore and
// sqlstore.CredentialStore.
type AccountStore struct{ *conn }

// userCols selects a user with its roles and brand links; u is users.
const userCols = `u.id, u.email, u.display_name, u.avatar_url, u.created_at,
	(SELECT json_group_array(r.role) FROM user_roles r WHERE r.user_id = u.id),
	(SELECT json_group_array(a.brand_id ORDER BY a.position, a.brand_id) FROM brand_admins a WHERE a.user_id = u.id)`

// emailKey is the form emails are unique and looked up in.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateUser inserts u with its roles and brand links. The email is stored
// as given and unique compared lower-cased. A brand link to a missing brand
// is NotFound.
func (db AccountStore) CreateUser(ctx context.Context, u *account.User, passwordHash string) error {
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
		return db.shared.WriteRoles(ctx, querier{tx}, u.ID, roles, u.BrandIDs)
	})
}

// UserByEmail returns the user whose email matches, ignoring case, and the
// stored password hash.
func (db AccountStore) UserByEmail(ctx context.Context, email string) (*account.User, string, error) {
	var hash string
	u, err := scan.User(db.r.QueryRowContext(ctx,
		`SELECT `+userCols+`, u.password_hash FROM users u WHERE u.email_key = $1`, emailKey(email)), &hash)
	if err != nil {
		return nil, "", storeErr("user by email", noRows(err, "user"))
	}
	return u, hash, nil
}

// credentialBatch bounds the ids of one CredentialUsers query, well below
// SQLite's limit on bound parameters.
const credentialBatch = 500

// CredentialUsers returns the users of the credentials among ids unexpired
// at now, a query per 500 ids.
func (db AccountStore) CredentialUsers(ctx context.Context, ids []uuid.UUID, now time.Time) (map[uuid.UUID]*account.User, error) {
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
func (db AccountStore) TouchCredentials(ctx context.Context, used map[uuid.UUID]time.Time) error {
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

// inList is "($first, $first+1, …)" for n values.
func inList(first, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+i))
	}
	b.WriteByte(')')
	return b.String()
}
