// Package wallet keeps what makes a viewer's next purchase one tap: an
// address book per account (the address used last is the default), the
// payment method the account last paid with, and whether the account takes
// part in the live room's "just bought" notices. It never holds a card
// number: a payment method is the provider's reusable reference and a label
// to show.
package wallet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// MaxAddresses bounds an account's address book.
const MaxAddresses = 20

// Address is one entry of an account's address book.
type Address struct {
	ID     uuid.UUID `json:"id"`
	UserID uuid.UUID `json:"-"`
	checkout.Shipping
	CreatedAt time.Time `json:"created_at"`
	UsedAt    time.Time `json:"used_at"`
	// Default is true for the entry used (or saved) last.
	Default bool `json:"default"`
}

// Key is the address's identity in the book: its fields, trimmed and
// folded, so that the same address saved twice is one entry.
func Key(sh checkout.Shipping) string {
	sum := sha256.New()
	for _, f := range []string{sh.Name, sh.Line1, sh.Line2, sh.City, sh.Region, sh.PostalCode, sh.Country, sh.Phone} {
		sum.Write([]byte(strings.ToLower(strings.Join(strings.Fields(f), " "))))
		sum.Write([]byte{0})
	}
	return hex.EncodeToString(sum.Sum(nil)[:16])
}

// PaymentMethod is the method an account last paid with.
type PaymentMethod struct {
	Provider  string    `json:"provider"`
	Ref       string    `json:"-"` // the provider's reference: used, never shown
	Label     string    `json:"label"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Store persists address books, payment methods and privacy choices. A
// missing address (or one of another account) is NotFound.
type Store interface {
	// Addresses lists the account's book, the most recently used first.
	Addresses(ctx context.Context, userID uuid.UUID) ([]Address, error)
	// SaveAddress adds a to the book, or when an entry with the same Key
	// exists, marks that one used at a.UsedAt and returns it. A book holding
	// max entries already refuses a new one with Conflict.
	SaveAddress(ctx context.Context, a *Address, max int) (*Address, error)
	// UseAddress marks the account's address id used at at and returns it.
	UseAddress(ctx context.Context, userID, id uuid.UUID, at time.Time) (*Address, error)
	DeleteAddress(ctx context.Context, userID, id uuid.UUID) error

	// PaymentMethod is the remembered method, NotFound when there is none.
	PaymentMethod(ctx context.Context, userID uuid.UUID) (*PaymentMethod, error)
	SetPaymentMethod(ctx context.Context, userID uuid.UUID, m *PaymentMethod) error
	ForgetPaymentMethod(ctx context.Context, userID uuid.UUID) error

	// HidesPurchases reports whether the account opted out of "just
	// bought" notices (false when it never chose).
	HidesPurchases(ctx context.Context, userID uuid.UUID) (bool, error)
	SetHidesPurchases(ctx context.Context, userID uuid.UUID, hide bool) error
}
