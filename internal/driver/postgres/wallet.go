package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
	"github.com/pavilion-live/pavilion/internal/wallet"
)

// WalletStore keeps a buyer's address book, payment method and privacy
// setting.
type WalletStore struct{ *conn }

// Addresses lists the account's address book, the most recently used first.
func (db WalletStore) Addresses(ctx context.Context, userID uuid.UUID) ([]wallet.Address, error) {
	rows, err := db.pool.Query(ctx, `SELECT `+sqlstore.AddressCols+` FROM addresses WHERE user_id = $1 ORDER BY used_at DESC, seq DESC`, userID)
	list, err := collect(rows, err, scan.Address)
	return list, storeErr("addresses", err)
}

// SaveAddress adds a to the book, or marks the same address already there
// used. The account's row is locked so that two saves cannot both pass the
// book's size limit.
func (db WalletStore) SaveAddress(ctx context.Context, a *wallet.Address, max int) (*wallet.Address, error) {
	var out *wallet.Address
	key := wallet.Key(a.Shipping)
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR UPDATE`, a.UserID).Scan(&one); err != nil {
			return notFound("save address", "user", err)
		}
		var err error
		out, err = scan.Address(tx.QueryRow(ctx, `UPDATE addresses SET used_at = GREATEST(used_at, $3) WHERE user_id = $1 AND dedup_key = $2
			RETURNING `+sqlstore.AddressCols, a.UserID, key, a.UsedAt))
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var count int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM addresses WHERE user_id = $1`, a.UserID).Scan(&count); err != nil {
			return err
		}
		if count >= max {
			return apperr.Errorf(apperr.Conflict, "the address book is full (%d addresses): delete one first", max)
		}
		sh := a.Shipping
		out, err = scan.Address(tx.QueryRow(ctx, `INSERT INTO addresses (id, user_id, dedup_key, name, line1, line2, city, region, postal_code, country, phone, created_at, used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING `+sqlstore.AddressCols,
			a.ID, a.UserID, key, sh.Name, sh.Line1, sh.Line2, sh.City, sh.Region, sh.PostalCode, sh.Country, sh.Phone, a.CreatedAt, a.UsedAt))
		return err
	})
	if err != nil {
		return nil, storeErr("save address", err)
	}
	return out, nil
}

// UseAddress marks the account's address used at at.
func (db WalletStore) UseAddress(ctx context.Context, userID, id uuid.UUID, at time.Time) (*wallet.Address, error) {
	a, err := scan.Address(db.pool.QueryRow(ctx, `UPDATE addresses SET used_at = GREATEST(used_at, $3) WHERE user_id = $1 AND id = $2
		RETURNING `+sqlstore.AddressCols, userID, id, at))
	if err != nil {
		return nil, notFound("use address", "address", err)
	}
	return a, nil
}

// DeleteAddress removes an address from the account's book.
func (db WalletStore) DeleteAddress(ctx context.Context, userID, id uuid.UUID) error {
	tag, err := db.pool.Exec(ctx, `DELETE FROM addresses WHERE user_id = $1 AND id = $2`, userID, id)
	if err != nil {
		return storeErr("delete address", err)
	}
	if tag.RowsAffected() == 0 {
		return apperr.Errorf(apperr.NotFound, "address not found")
	}
	return nil
}

// PaymentMethod is the account's remembered payment method.
func (db WalletStore) PaymentMethod(ctx context.Context, userID uuid.UUID) (*wallet.PaymentMethod, error) {
	var m wallet.PaymentMethod
	err := db.pool.QueryRow(ctx, `SELECT provider, ref, label, updated_at FROM payment_methods WHERE user_id = $1`, userID).
		Scan(&m.Provider, &m.Ref, &m.Label, &m.UpdatedAt)
	if err != nil {
		return nil, notFound("payment method", "payment method", err)
	}
	m.UpdatedAt = m.UpdatedAt.UTC()
	return &m, nil
}

// SetPaymentMethod remembers m as the account's payment method.
func (db WalletStore) SetPaymentMethod(ctx context.Context, userID uuid.UUID, m *wallet.PaymentMethod) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO payment_methods (user_id, provider, ref, label, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET provider = excluded.provider, ref = excluded.ref, label = excluded.label, updated_at = excluded.updated_at`,
		userID, m.Provider, m.Ref, m.Label, m.UpdatedAt)
	return storeErr("set payment method", err)
}

// ForgetPaymentMethod forgets the account's payment method; none is not an error.
func (db WalletStore) ForgetPaymentMethod(ctx context.Context, userID uuid.UUID) error {
	_, err := db.pool.Exec(ctx, `DELETE FROM payment_methods WHERE user_id = $1`, userID)
	return storeErr("forget payment method", err)
}

// HidesPurchases reports whether the account opted out of "just bought" notices.
func (db WalletStore) HidesPurchases(ctx context.Context, userID uuid.UUID) (bool, error) {
	var hide bool
	err := db.pool.QueryRow(ctx, `SELECT hide_purchases FROM buyer_privacy WHERE user_id = $1`, userID).Scan(&hide)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return hide, storeErr("hides purchases", err)
}

// SetHidesPurchases records the account's choice.
func (db WalletStore) SetHidesPurchases(ctx context.Context, userID uuid.UUID, hide bool) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO buyer_privacy (user_id, hide_purchases) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET hide_purchases = excluded.hide_purchases`, userID, hide)
	return storeErr("set hides purchases", err)
}

var _ wallet.Store = (*DB)(nil)
