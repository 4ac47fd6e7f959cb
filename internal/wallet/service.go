package wallet

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Methods is what the payment provider tells the wallet about what a buyer
// paid with.
type Methods interface {
	// Reusable answers the provider's reusable reference for a token or
	// card and a label to show ("Visa •••• 4242"); ok is false when the
	// provider keeps nothing that could be charged again.
	Reusable(tokenOrCard string) (ref, label string, ok bool)
}

// Service applies the wallet's rules over a Store.
type Service struct {
	Store Store
	// Methods and Provider describe the payment provider; with Methods nil
	// no payment method is ever remembered.
	Methods  Methods
	Provider string
	Now      func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// Choice is what an order may ask of the wallet beside its shipping and
// payment token.
type Choice struct {
	// AddressID ships to an address of the book instead of the order's shipping.
	AddressID uuid.UUID `json:"address_id,omitzero"`
	// SaveAddress keeps the order's shipping in the book once the order is taken.
	SaveAddress bool `json:"save_address,omitempty"`
	// UseSavedPayment pays with the remembered method instead of a token.
	UseSavedPayment bool `json:"use_saved_payment,omitempty"`
	// RememberPayment keeps the order's payment method once the order is taken.
	RememberPayment bool `json:"remember_payment,omitempty"`
}

// Prepare fills req's shipping and payment from the book and the remembered
// method as c asks. Asking for both a saved and a given one is an error, so
// that an order never ships or charges other than the buyer saw.
func (s *Service) Prepare(ctx context.Context, userID uuid.UUID, req *checkout.OrderRequest, c Choice) error {
	if c.AddressID != uuid.Nil {
		if req.Shipping != (checkout.Shipping{}) {
			return apperr.Errorf(apperr.Invalid, "give shipping or address_id, not both")
		}
		if c.SaveAddress {
			return apperr.Errorf(apperr.Invalid, "save_address is for a new address, not address_id")
		}
		a, err := s.address(ctx, userID, c.AddressID)
		if err != nil {
			return err
		}
		req.Shipping = a.Shipping
	}
	if c.UseSavedPayment {
		if req.PaymentToken != "" {
			return apperr.Errorf(apperr.Invalid, "give payment_token or use_saved_payment, not both")
		}
		m, err := s.Store.PaymentMethod(ctx, userID)
		if errors.Is(err, apperr.E(apperr.NotFound)) {
			return apperr.Errorf(apperr.Invalid, "no payment method is remembered: give payment_token")
		} else if err != nil {
			return err
		}
		req.PaymentToken = m.Ref
	}
	return nil
}

func (s *Service) address(ctx context.Context, userID, id uuid.UUID) (*Address, error) {
	list, err := s.Store.Addresses(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].ID == id {
			return &list[i], nil
		}
	}
	return nil, apperr.Errorf(apperr.NotFound, "address not found")
}

// Settle keeps what c asked to keep of an order that was taken (paid, or
// pending its payment's outcome); a declined order keeps nothing.
func (s *Service) Settle(ctx context.Context, userID uuid.UUID, req checkout.OrderRequest, c Choice) error {
	at := s.now()
	var errs []error
	switch {
	case c.AddressID != uuid.Nil:
		_, err := s.Store.UseAddress(ctx, userID, c.AddressID, at)
		errs = append(errs, err)
	case c.SaveAddress:
		_, err := s.SaveAddress(ctx, userID, req.Shipping)
		errs = append(errs, err)
	}
	if c.RememberPayment && !c.UseSavedPayment {
		errs = append(errs, s.Remember(ctx, userID, req.PaymentToken))
	}
	return errors.Join(errs...)
}

// SaveAddress checks sh and puts it in the account's book as its default.
func (s *Service) SaveAddress(ctx context.Context, userID uuid.UUID, sh checkout.Shipping) (*Address, error) {
	if err := sh.Validate(); err != nil {
		return nil, err
	}
	at := s.now()
	return s.Store.SaveAddress(ctx, &Address{ID: uuid.New(), UserID: userID, Shipping: sh, CreatedAt: at, UsedAt: at}, MaxAddresses)
}

// Addresses lists the account's book, its default first and marked.
func (s *Service) Addresses(ctx context.Context, userID uuid.UUID) ([]Address, error) {
	list, err := s.Store.Addresses(ctx, userID)
	if len(list) > 0 {
		list[0].Default = true
	}
	return list, err
}

// Remember keeps the provider's reusable reference for tokenOrCard; a
// method the provider cannot charge again is refused.
func (s *Service) Remember(ctx context.Context, userID uuid.UUID, tokenOrCard string) error {
	if s.Methods == nil {
		return apperr.Errorf(apperr.Invalid, "this server's payment provider remembers no payment method")
	}
	ref, label, ok := s.Methods.Reusable(tokenOrCard)
	if !ok {
		return apperr.Errorf(apperr.Invalid, "this payment method cannot be remembered")
	}
	return s.Store.SetPaymentMethod(ctx, userID, &PaymentMethod{Provider: s.Provider, Ref: ref, Label: label, UpdatedAt: s.now()})
}
