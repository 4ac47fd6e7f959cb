package web

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Coupons: brand admins make and withdraw them, viewers see a show's and
// quote one against a hold; an order takes one with coupon_code. Thin
// handlers: the rules are in checkout (coupon.go).

// createCoupon makes a coupon for the brand or one of its shows.
func (s *Server) createCoupon(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "brand")
	if err != nil {
		return err
	}
	var in checkout.NewCoupon
	if err := decode(r, &in); err != nil {
		return err
	}
	c, err := s.Checkout.CreateCoupon(r.Context(), u, id, in)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, "coupon", c)
}

// listCoupons lists the brand's coupons with their uses and spent money.
func (s *Server) listCoupons(w http.ResponseWriter, r *http.Request) error {
	return replyForID(w, r, "brand", "coupons", s.Checkout.BrandCoupons)
}

// patchCoupon withdraws a coupon or puts it back: {"disabled": true}.
func (s *Server) patchCoupon(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "coupon")
	if err != nil {
		return err
	}
	var in struct {
		Disabled *bool `json:"disabled"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Disabled == nil {
		return apperr.Errorf(apperr.Invalid, "disabled is required")
	}
	c, err := s.Checkout.SetCouponDisabled(r.Context(), u, id, *in.Disabled)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "coupon", c)
}

// showCoupons lists the coupons a viewer may use in the show now.
func (s *Server) showCoupons(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "show")
	if err != nil {
		return err
	}
	list, err := s.Checkout.ShowCoupons(r.Context(), UserFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "coupons", list)
}

// quoteCoupon says what a code takes off an order of the caller's hold.
func (s *Server) quoteCoupon(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	var in struct {
		ReservationID uuid.UUID `json:"reservation_id"`
		Code          string    `json:"code"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.ReservationID == uuid.Nil {
		return apperr.Errorf(apperr.Invalid, "reservation_id is required")
	}
	q, err := s.Checkout.QuoteCoupon(r.Context(), u, in.ReservationID, in.Code)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "quote", q)
}
