package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/wallet"
)

// WalletStore keeps a buyer's address book, payment method and privacy
// setting.
type WalletStore struct{ *conn }

// Addresses lists the account's address book, the most recently used first.
func (db WalletStore) Addresses(ctx context.Context, userID uuid.UUID) ([]wallet.Address, error) {
	list, err := queryAll(ctx, db.r, scan.Address,
		`SELECT `+sqlstore.AddressCols+` FROM addresses WHERE user_id = $1 ORDER BY used_at DESC, seq DESC`, userID)
	return list, storeErr("addresses", err)
}

// SaveAddress adds a to the book, or marks the same address already there used.
func (db WalletStore) SaveAddress(ctx context.Context, a *wallet.Address, max int) (*wallet.Address, error) {
	var out *wallet.Address
	err := db.write(ctx, "save address", func(tx *sql.Tx) error {
		key := wallet.Key(a.Shipping)
		res, err := tx.ExecContext(ctx, `UPDATE addresses SET used_at = max(used_at, $1) WHERE user_id = $2 AND dedup_key = $3`,
			micros(a.UsedAt), a.UserID, key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var count int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM addresses WHERE user_id = $1`, a.UserID).Scan(&count); err != nil {
				return err
			}
			if count >= max {
				return apperr.Errorf(apperr.Conflict, "the address book is full (%d addresses): delete one first", max)
			}
			sh := a.Shipping
			_, err := tx.ExecContext(ctx, `INSERT INTO addresses (id, user_id, dedup_key, name, line1, line2, city, region, postal_code, country, phone, created_at, used_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, a.ID, a.UserID, key, sh.Name, sh.Line1, sh.Line2, sh.City, sh.Region,
				sh.PostalCode, sh.Country, sh.Phone, micros(a.CreatedAt), micros(a.UsedAt))
			if err != nil {
				return refErr(err, "user")
			}
		}
		out, err = scan.Address(tx.QueryRowContext(ctx, `SELECT `+sqlstore.AddressCols+` FROM addresses WHERE user_id = $1 AND dedup_key = $2`, a.UserID, key))
		return err
	})
	return out, err
}

// UseAddress marks the account's address used at at.
func (db WalletStore) UseAddress(ctx context.Context, userID, id uuid.UUID, at time.Time) (*wallet.Address, error) {
	var out *wallet.Address
	err := db.write(ctx, "use address", func(tx *sql.Tx) error {
		var err error
		out, err = scan.Address(tx.QueryRowContext(ctx, `UPDATE addresses SET used_at = max(used_at, $1) WHERE user_id = $2 AND id = $3
			RETURNING `+sqlstore.AddressCols, micros(at), userID, id))
		return noRows(err, "address")
	})
	return out, err
}

// DeleteAddress removes an address from the account's book.
func (db WalletStore) DeleteAddress(ctx context.Context, userID, id uuid.UUID) error {
	return storeErr("delete address", db.execOne(ctx, "address", `DELETE FROM addresses WHERE user_id = $1 AND id = $2`, userID, id))
}

// PaymentMethod is the account's remembered payment method.
func (db WalletStore) PaymentMethod(ctx context.Context, userID uuid.UUID) (*wallet.PaymentMethod, error) {
	var m wallet.PaymentMethod
	err := db.r.QueryRowContext(ctx, `SELECT provider, ref, label, updated_at FROM payment_methods WHERE user_id = $1`, userID).
		Scan(&m.Provider, &m.Ref, &m.Label, asTime(&m.UpdatedAt))
	if err != nil {
		return nil, storeErr("payment method", noRows(err, "payment method"))
	}
	return &m, nil
}

// SetPaymentMethod remembers m as the account's payment method.
func (db WalletStore) SetPaymentMethod(ctx context.Context, userID uuid.UUID, m *wallet.PaymentMethod) error {
	_, err := db.exec(ctx, `INSERT INTO payment_methods (user_id, provider, ref, label, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET provider = excluded.provider, ref = excluded.ref, label = excluded.label, updated_at = excluded.updated_at`,
		userID, m.Provider, m.Ref, m.Label, micros(m.UpdatedAt))
	return storeErr("set payment method", refErr(err, "user"))
}

// ForgetPaymentMethod forgets the account's payment method; none is not an error.
func (db WalletStore) ForgetPaymentMethod(ctx context.Context, userID uuid.UUID) error {
	_, err := db.exec(ctx, `DELETE FROM payment_methods WHERE user_id = $1`, userID)
	return storeErr("forget payment method", err)
}

// HidesPurchases reports whether the account opted out of "just bought" notices.
func (db WalletStore) HidesPurchases(ctx context.Context, userID uuid.UUID) (bool, error) {
	var hide bool
	err := db.r.QueryRowContext(ctx, `SELECT hide_purchases FROM buyer_privacy WHERE user_id = $1`, userID).Scan(&hide)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return hide, storeErr("hides purchases", err)
}

// SetHidesPurchases records the account's choice.
func (db WalletStore) SetHidesPurchases(ctx context.Context, userID uuid.UUID, hide bool) error {
	_, err := db.exec(ctx, `INSERT INTO buyer_privacy (user_id, hide_purchases) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET hide_purchases = excluded.hide_purchases`, userID, hide)
	return storeErr("set hides purchases", refErr(err, "user"))
}

var _ wallet.Store = (*DB)(nil)
