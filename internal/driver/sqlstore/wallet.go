package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/wallet"
)

// WalletStore keeps a buyer's address book, payment method and privacy
// setting (wallet.Store).
type WalletStore struct{ db *Conn }

// usedAt moves an address's used_at to $1 unless it is later already (the
// portable spelling of GREATEST, which SQLite lacks).
const usedAt = `used_at = CASE WHEN used_at > $1 THEN used_at ELSE $1 END`

// Addresses lists the account's address book, the most recently used first.
func (s WalletStore) Addresses(ctx context.Context, userID uuid.UUID) ([]wallet.Address, error) {
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.Address,
		`SELECT `+AddressCols+` FROM addresses WHERE user_id = $1 ORDER BY used_at DESC, seq DESC`, userID)
	return list, s.db.Errs.Wrap("addresses", err)
}

// SaveAddress adds a to the book, or marks the same address already there
// used. The account's row is locked (Dialect.Lock) so that two saves cannot
// both pass the book's size limit.
func (s WalletStore) SaveAddress(ctx context.Context, a *wallet.Address, max int) (*wallet.Address, error) {
	var out *wallet.Address
	key := wallet.Key(a.Shipping)
	d := s.db.Dialect
	err := s.db.Tx(ctx, func(tx Querier) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1`+d.Lock, a.UserID).Scan(&one); err != nil {
			return NotFound(err, "user")
		}
		var err error
		out, err = s.db.Scan.Address(tx.QueryRow(ctx, `UPDATE addresses SET `+usedAt+` WHERE user_id = $2 AND dedup_key = $3
			RETURNING `+AddressCols, d.Time(a.UsedAt), a.UserID, key))
		if !errors.Is(err, ErrNoRows) {
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
		out, err = s.db.Scan.Address(tx.QueryRow(ctx, `INSERT INTO addresses (id, user_id, dedup_key, name, line1, line2, city, region, postal_code, country, phone, created_at, used_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING `+AddressCols,
			a.ID, a.UserID, key, sh.Name, sh.Line1, sh.Line2, sh.City, sh.Region, sh.PostalCode, sh.Country, sh.Phone,
			d.Time(a.CreatedAt), d.Time(a.UsedAt)))
		return err
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("save address", err)
	}
	return out, nil
}

// UseAddress marks the account's address used at at.
func (s WalletStore) UseAddress(ctx context.Context, userID, id uuid.UUID, at time.Time) (*wallet.Address, error) {
	var out *wallet.Address
	err := s.db.Tx(ctx, func(tx Querier) error {
		var err error
		out, err = s.db.Scan.Address(tx.QueryRow(ctx, `UPDATE addresses SET `+usedAt+` WHERE user_id = $2 AND id = $3
			RETURNING `+AddressCols, s.db.Dialect.Time(at), userID, id))
		return NotFound(err, "address")
	})
	if err != nil {
		return nil, s.db.Errs.Wrap("use address", err)
	}
	return out, nil
}

// DeleteAddress removes an address from the account's book.
func (s WalletStore) DeleteAddress(ctx context.Context, userID, id uuid.UUID) error {
	return s.db.Errs.Wrap("delete address", s.db.ExecOne(ctx, "address", `DELETE FROM addresses WHERE user_id = $1 AND id = $2`, userID, id))
}

// PaymentMethod is the account's remembered payment method.
func (s WalletStore) PaymentMethod(ctx context.Context, userID uuid.UUID) (*wallet.PaymentMethod, error) {
	var m wallet.PaymentMethod
	err := s.db.Read.QueryRow(ctx, `SELECT provider, ref, label, updated_at FROM payment_methods WHERE user_id = $1`, userID).
		Scan(&m.Provider, &m.Ref, &m.Label, s.db.Scan.Time(&m.UpdatedAt))
	if err != nil {
		return nil, s.db.Errs.Wrap("payment method", NotFound(err, "payment method"))
	}
	return &m, nil
}

// SetPaymentMethod remembers m as the account's payment method.
func (s WalletStore) SetPaymentMethod(ctx context.Context, userID uuid.UUID, m *wallet.PaymentMethod) error {
	_, err := s.db.Exec(ctx, `INSERT INTO payment_methods (user_id, provider, ref, label, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id) DO UPDATE SET provider = excluded.provider, ref = excluded.ref, label = excluded.label, updated_at = excluded.updated_at`,
		userID, m.Provider, m.Ref, m.Label, s.db.Dialect.Time(m.UpdatedAt))
	return s.db.Errs.Wrap("set payment method", s.db.Errs.Ref(err, "user"))
}

// ForgetPaymentMethod forgets the account's payment method; none is not an error.
func (s WalletStore) ForgetPaymentMethod(ctx context.Context, userID uuid.UUID) error {
	_, err := s.db.Exec(ctx, `DELETE FROM payment_methods WHERE user_id = $1`, userID)
	return s.db.Errs.Wrap("forget payment method", err)
}

// HidesPurchases reports whether the account opted out of "just bought" notices.
func (s WalletStore) HidesPurchases(ctx context.Context, userID uuid.UUID) (bool, error) {
	var hide bool
	err := s.db.Read.QueryRow(ctx, `SELECT hide_purchases FROM buyer_privacy WHERE user_id = $1`, userID).Scan(&hide)
	if errors.Is(err, ErrNoRows) {
		return false, nil
	}
	return hide, s.db.Errs.Wrap("hides purchases", err)
}

// SetHidesPurchases records the account's choice.
func (s WalletStore) SetHidesPurchases(ctx context.Context, userID uuid.UUID, hide bool) error {
	_, err := s.db.Exec(ctx, `INSERT INTO buyer_privacy (user_id, hide_purchases) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET hide_purchases = excluded.hide_purchases`, userID, hide)
	return s.db.Errs.Wrap("set hides purchases", s.db.Errs.Ref(err, "user"))
}

var _ wallet.Store = WalletStore{}
