package sqlstore

import (
	"time"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// The checks both ledgers make, inside their transactions, on the rows they
// have read.

// ErrNotHeld answers for a reservation that exists but is no longer held.
var ErrNotHeld = &apperr.Error{Code: apperr.Gone, Message: "reservation is no longer held"}

// CheckRelease refuses a release to any state but Released or Expired.
func CheckRelease(to checkout.ReservationState) error {
	if to != checkout.Released && to != checkout.Expired {
		return apperr.Errorf(apperr.Invalid, "a reservation is released or expired, not %s", to)
	}
	return nil
}

// CheckOrder says whether o may begin on reservation r at at: r is the
// customer's, still held and unexpired, and o buys what r holds.
func CheckOrder(r *checkout.Reservation, o *checkout.Order, at time.Time) error {
	switch {
	case r.UserID != o.UserID:
		return apperr.Errorf(apperr.NotFound, "reservation not found")
	case r.State != checkout.Held:
		return ErrNotHeld
	case !at.Before(r.ExpiresAt):
		return apperr.Errorf(apperr.Gone, "reservation has expired")
	case o.OfferID != r.OfferID || o.ShowID != r.ShowID || o.SKUID != r.SKUID || o.Quantity != r.Quantity:
		return apperr.Errorf(apperr.Invalid, "the order does not buy what its reservation holds")
	}
	return nil
}
