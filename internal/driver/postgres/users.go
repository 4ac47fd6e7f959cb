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
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// AccountStore keeps what the dialects write differently about accounts:
// a user with its roles, the lookup by email and the batch reads and
// writes of credentials. The rest is sqlstore.UserStore and
// sqlstore.CredentialStore.
type AccountStore struct{ *conn }

// userCols selects a user with its roles and brand links; u is users.
const userCols = `u.id, u.email, u.display_name, u.avatar_url, u.created_at,
	ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = u.id),
	ARRAY(SELECT a.brand_id FROM brand_admins a WHERE a.user_id = u.id ORDER BY a.position, a.brand_id)`

// CreateUser inserts u with its roles and brand links. The email is stored as
// given and unique compared lower-cased. A brand link to a missing brand is NotFound.
func (db AccountStore) CreateUser(ctx context.Context, u *account.User, passwordHash string) error {
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
		return db.shared.WriteRoles(ctx, querier{tx}, u.ID, roles, u.BrandIDs)
	})
	return storeErr("create user", err)
}

// UserByEmail returns the user whose email matches, ignoring case, and the
// stored password hash.
func (db AccountStore) UserByEmail(ctx context.Context, email string) (*account.User, string, error) {
	var hash string
	u, err := scan.User(db.pool.QueryRow(ctx,
		`SELECT `+userCols+`, u.password_hash FROM users u WHERE lower(u.email) = lower($1)`,
		email), &hash)
	if err != nil {
		return nil, "", notFound("user by email", "user", err)
	}
	return u, hash, nil
}

// CredentialUsers returns the users of the credentials among ids unexpired
// at now, in one query.
func (db AccountStore) CredentialUsers(ctx context.Context, ids []uuid.UUID, now time.Time) (map[uuid.UUID]*account.User, error) {
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
func (db AccountStore) TouchCredentials(ctx context.Context, used map[uuid.UUID]time.Time) error {
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
