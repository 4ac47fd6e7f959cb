package checkout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/textcheck"
)

// OrderRequest turns a reservation into an order: where to send it and how to pay.
type OrderRequest struct {
	ReservationID uuid.UUID `json:"reservation_id"`
	Shipping      Shipping  `json:"shipping"`
	PaymentToken  string    `json:"payment_token"`
	// CouponCode, when set, takes a coupon of the show's brand off the order.
	CouponCode     string `json:"coupon_code"`
	IdempotencyKey string `json:"-"`
}

var countryRE = regexp.MustCompile(`^[A-Z]{2}$`)

// Validate trims the address and checks that a parcel could reach it.
func (sh *Shipping) Validate() error {
	for _, f := range []struct {
		name string
		v    *string
	}{
		{"name", &sh.Name}, {"line1", &sh.Line1}, {"line2", &sh.Line2}, {"city", &sh.City},
		{"region", &sh.Region}, {"postal_code", &sh.PostalCode}, {"country", &sh.Country}, {"phone", &sh.Phone},
	} {
		*f.v = strings.TrimSpace(*f.v)
		if utf8.RuneCountInString(*f.v) > 200 {
			return apperr.Errorf(apperr.Invalid, "shipping.%s is at most 200 characters", f.name)
		}
		if err := textcheck.Line("shipping."+f.name, *f.v); err != nil {
			return err
		}
	}
	sh.Country = strings.ToUpper(sh.Country)
	switch {
	case sh.Name == "":
		return apperr.Errorf(apperr.Invalid, "shipping.name is required")
	case sh.Line1 == "":
		return apperr.Errorf(apperr.Invalid, "shipping.line1 is required")
	case sh.City == "":
		return apperr.Errorf(apperr.Invalid, "shipping.city is required")
	case !countryRE.MatchString(sh.Country):
		return apperr.Errorf(apperr.Invalid, "shipping.country must be a two-letter ISO 3166 code such as FR or CN")
	}
	return nil
}

// PlaceOrder pays for a held reservation. The order is written as pending
// before the card is charged (so a crash mid-payment loses nothing: the
// reconciler asks the provider what happened), then marked paid. A declined
// card leaves the reservation held, so the customer can try another card
// while the hold lasts. A payment that does not answer in time leaves the
// order pending (accepted, not failed) for the reconciler.
//
// With an idempotency key every outcome — paid, pending or declined — is
// replayed to a retry, and a charge is never made twice: the provider is
// charged with the order ID as its own idempotency key.
func (s *Service) PlaceOrder(ctx context.Context, u *account.User, req OrderRequest) (*Order, bool, error) {
	if u == nil {
		return nil, false, apperr.Errorf(apperr.Unauthorized, "sign in to buy")
	}
	if err := checkKey(req.IdempotencyKey); err != nil {
		return nil, false, err
	}
	if err := req.Shipping.Validate(); err != nil {
		return nil, false, err
	}
	req.PaymentToken = strings.TrimSpace(req.PaymentToken)
	if len(req.PaymentToken) > 200 {
		return nil, false, apperr.Errorf(apperr.Invalid, "payment_token is at most 200 characters")
	}
	sh := req.Shipping
	req.CouponCode = normCode(req.CouponCode)
	hash := requestHash(req.ReservationID.String(), sh.Name, sh.Line1, sh.Line2, sh.City, sh.Region, sh.PostalCode, sh.Country, sh.Phone, req.PaymentToken, req.CouponCode)
	if req.IdempotencyKey != "" {
		rec, fresh, err := s.Ledger.ClaimIdempotency(ctx, &Idempotency{UserID: u.ID, Key: req.IdempotencyKey, Op: opOrder, RequestHash: hash, CreatedAt: s.now()})
		if err != nil {
			return nil, false, err
		}
		if !fresh {
			return replay[Order](rec, hash)
		}
	}
	o, err := s.placeOrder(ctx, u, req)
	if req.IdempotencyKey != "" {
		switch {
		case err == nil:
			err2 := s.finishKey(ctx, u.ID, opOrder, req.IdempotencyKey, outcome[Order]{Result: o})
			if err2 != nil {
				s.log().WarnContext(ctx, "storing an idempotent result", "err", err2)
			}
		case apperr.CodeOf(err) == apperr.PaymentFailed:
			var ae *apperr.Error
			errors.As(err, &ae)
			if err2 := s.finishKey(ctx, u.ID, opOrder, req.IdempotencyKey, outcome[Order]{Error: &apperr.Error{Code: ae.Code, Message: ae.Message}}); err2 != nil {
				s.log().WarnContext(ctx, "storing an idempotent result", "err", err2)
			}
		default:
			// Refused before anything happened: a retry runs afresh.
			s.dropKey(ctx, u.ID, opOrder, req.IdempotencyKey)
		}
	}
	return o, false, err
}

func (s *Service) placeOrder(ctx context.Context, u *account.User, req OrderRequest) (*Order, error) {
	r, err := s.Ledger.ReservationByID(ctx, req.ReservationID)
	if err == nil && r.UserID != u.ID {
		err = apperr.Errorf(apperr.NotFound, "reservation %s not found", req.ReservationID)
	}
	if err != nil {
		return nil, err
	}
	_, sh, err := s.offer(ctx, r.OfferID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	o := &Order{ID: uuid.New(), UserID: u.ID, ReservationID: r.ID, OfferID: r.OfferID, ShowID: r.ShowID, SKUID: r.SKUID,
		BrandID: sh.BrandID, Quantity: r.Quantity, UnitPriceMinor: r.PriceMinor, TotalMinor: r.PriceMinor * int64(r.Quantity),
		Currency: r.Currency, State: Pending, Shipping: req.Shipping, CreatedAt: now, UpdatedAt: now}
	if req.CouponCode != "" {
		c, d, err := s.priceCoupon(ctx, u, sh, r, req.CouponCode)
		if err != nil {
			return nil, err
		}
		o.CouponID, o.CouponCode, o.DiscountMinor, o.TotalMinor = &c.ID, c.Code, d, o.TotalMinor-d
	}
	if o.TotalMinor > 0 && req.PaymentToken == "" {
		return nil, apperr.Errorf(apperr.Invalid, "payment_token is required")
	}
	if err := s.Ledger.BeginOrder(ctx, o, now); err != nil {
		if apperr.CodeOf(err) == apperr.Gone && !isCouponRefusal(err) {
			return nil, apperr.Errorf(apperr.Gone, "the hold on this reservation has ended; reserve again")
		}
		return nil, err
	}

	if o.TotalMinor == 0 {
		// Nothing to charge (a giveaway prize, a 100 % coupon): no card is
		// asked, and the order is paid at once with no payment reference.
		paid, err := s.Ledger.CompletePayment(context.WithoutCancel(ctx), o.ID, "", s.now())
		if err != nil {
			return nil, err
		}
		s.Metrics.payment("free")
		s.orderChanged(paid)
		return paid, nil
	}
	// The charge runs to its own deadline even if the customer's connection
	// drops: stopping half-way would leave the outcome unknown for no gain.
	payCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.paymentTimeout())
	defer cancel()
	charge, err := s.Payments.Charge(payCtx, ChargeRequest{Key: o.ID.String(), AmountMinor: o.TotalMinor, Currency: o.Currency,
		Token: req.PaymentToken, Description: fmt.Sprintf("Pavilion order %s", o.ID)})
	switch {
	case err == nil:
		paid, err := s.Ledger.CompletePayment(context.WithoutCancel(ctx), o.ID, charge.Ref, s.now())
		if err != nil {
			// The money is taken; the reconciler will record it.
			s.Metrics.payment("unknown")
			return nil, fmt.Errorf("recording payment of order %s: %w", o.ID, err)
		}
		s.Metrics.payment("paid")
		s.orderChanged(paid)
		return paid, nil
	case apperr.CodeOf(err) == apperr.PaymentFailed:
		if aerr := s.Ledger.AbandonOrder(context.WithoutCancel(ctx), o.ID, s.now()); aerr != nil {
			s.log().WarnContext(ctx, "abandoning a declined order", "order", o.ID, "err", aerr)
		}
		s.Metrics.payment("failed")
		s.lost(o.ShowID, o.OfferID, LostPaymentDeclined)
		return nil, err
	default:
		// Unknown outcome: the order stays pending until the reconciler asks the provider.
		s.log().WarnContext(ctx, "payment outcome unknown; left for reconciliation", "order", o.ID, "err", err)
		s.Metrics.payment("unknown")
		s.orderChanged(o)
		return o, nil
	}
}

func (s *Service) paymentTimeout() time.Duration {
	if s.PaymentTimeout > 0 {
		return s.PaymentTimeout
	}
	return 10 * time.Second
}

func (s *Service) orderChanged(o *Order) {
	if s.Notifier != nil {
		s.Notifier.OrderChanged(o)
	}
}

// reconcile settles pending orders whose payment call ended without an
// answer (a timeout, a crash): the provider's record decides.
func (s *Service) reconcile(ctx context.Context) error {
	cutoff := s.now().Add(-2 * s.paymentTimeout())
	pending, err := s.Ledger.PendingOrders(ctx, cutoff, 100)
	if err != nil {
		return err
	}
	for _, o := range pending {
		c, err := s.Payments.Lookup(ctx, o.ID.String())
		switch {
		case err == nil && c.Status == ChargeSucceeded:
			paid, err := s.Ledger.CompletePayment(ctx, o.ID, c.Ref, s.now())
			if err != nil {
				if apperr.CodeOf(err) == apperr.Conflict {
					continue // another node settled it
				}
				return err
			}
			s.Metrics.payment("reconciled_paid")
			s.orderChanged(paid)
		case err == nil || errors.Is(err, apperr.E(apperr.NotFound)):
			if err := s.Ledger.AbandonOrder(ctx, o.ID, s.now()); err != nil && apperr.CodeOf(err) != apperr.Conflict && apperr.CodeOf(err) != apperr.NotFound {
				return err
			}
			s.Metrics.payment("reconciled_abandoned")
			s.lost(o.ShowID, o.OfferID, LostPaymentDeclined)
		default:
			s.log().WarnContext(ctx, "looking up a pending payment", "order", o.ID, "err", err)
		}
	}
	return nil
}

// Order returns an order its buyer or the brand's admins may see.
func (s *Service) Order(ctx context.Context, u *account.User, id uuid.UUID) (*Order, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	o, err := s.Ledger.OrderByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.UserID != u.ID && !account.CanAdminBrand(u, o.BrandID) {
		return nil, apperr.Errorf(apperr.NotFound, "order %s not found", id)
	}
	return o, nil
}

// MyOrders lists the caller's own orders, newest first.
func (s *Service) MyOrders(ctx context.Context, u *account.User, offset, limit int) ([]Order, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	return s.Ledger.ListOrders(ctx, OrderFilter{UserID: u.ID, Offset: offset, Limit: limit})
}

// BrandOrders lists a brand's orders (optionally of one show) for its admins.
func (s *Service) BrandOrders(ctx context.Context, u *account.User, f OrderFilter) ([]Order, error) {
	if !account.CanAdminBrand(u, f.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this brand")
	}
	f.UserID = uuid.Nil
	return s.Ledger.ListOrders(ctx, f)
}

// CancelOrder cancels a paid order before it ships: the money goes back and
// the units return to the offer. The buyer or the brand's admins may cancel.
func (s *Service) CancelOrder(ctx context.Context, u *account.User, id uuid.UUID) (*Order, error) {
	o, err := s.Order(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if o.State != Paid {
		return nil, apperr.Errorf(apperr.Conflict, "only a paid order that has not shipped can be cancelled; this one is %s", o.State)
	}
	return s.settle(ctx, o, Cancelled, true, true)
}

// FulfilOrder marks a paid order shipped. Brand admins only.
func (s *Service) FulfilOrder(ctx context.Context, u *account.User, id uuid.UUID) (*Order, error) {
	o, err := s.Order(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, o.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "only the brand's admins fulfil orders")
	}
	return s.settle(ctx, o, Fulfilled, false, false)
}

// RefundOrder gives the money back for a paid or fulfilled order. Restock
// says the goods are sellable again (returned unopened, or never shipped).
// Brand admins only.
func (s *Service) RefundOrder(ctx context.Context, u *account.User, id uuid.UUID, restock bool) (*Order, error) {
	o, err := s.Order(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if !account.CanAdminBrand(u, o.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "only the brand's admins refund orders")
	}
	return s.settle(ctx, o, Refunded, restock, true)
}

// settle moves the order in the ledger first (so two admins cannot refund
// twice), then returns the money and the units.
func (s *Service) settle(ctx context.Context, o *Order, to OrderState, restock, refund bool) (*Order, error) {
	updated, err := s.Ledger.SetOrderState(ctx, o.ID, to, restock, s.now())
	if err != nil {
		return nil, err
	}
	if refund && o.PaymentRef != "" {
		if err := s.Payments.Refund(context.WithoutCancel(ctx), o.PaymentRef, o.TotalMinor); err != nil {
			// The order is already refunded in the ledger; the money must follow.
			s.log().ErrorContext(ctx, "refund failed after the order was settled; refund by hand", "order", o.ID, "ref", o.PaymentRef, "err", err)
		}
	}
	if restock {
		off := &Offer{ID: o.OfferID, ShowID: o.ShowID}
		s.give(ctx, off, o.UserID, o.Quantity)
		s.stockChanged(off)
	}
	s.orderChanged(updated)
	return updated, nil
}
