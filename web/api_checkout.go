package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/wallet"
)

// IdempotencyHeader is the request header that makes reserve and place-order retryable.
const IdempotencyHeader = "Idempotency-Key"

func markReplay(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

func (s *Server) reserve(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	var req checkout.ReserveRequest
	if err := decodeReserve(r, &req); err != nil {
		return err
	}
	if req.OfferID == uuid.Nil {
		return apperr.Errorf(apperr.Invalid, "offer_id is required")
	}
	req.IdempotencyKey = r.Header.Get(IdempotencyHeader)
	res, replayed, err := s.Checkout.Reserve(r.Context(), u, req)
	if err != nil {
		return err
	}
	markReplay(w, replayed)
	return reply(w, http.StatusCreated, "reservation", res)
}

// listMyReservations answers the caller's active holds, ?show= for one show's.
func (s *Server) listMyReservations(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	var showID uuid.UUID
	if v := r.URL.Query().Get("show"); v != "" {
		if showID, err = uuid.Parse(v); err != nil {
			return apperr.Errorf(apperr.Invalid, "show must be a show id")
		}
	}
	list, err := s.Checkout.ActiveHolds(r.Context(), u, showID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "reservations", nonNil(list))
}

func (s *Server) getReservation(w http.ResponseWriter, r *http.Request) error {
	return replyForID(w, r, "reservation", "reservation", s.Checkout.Reservation)
}

func (s *Server) releaseReservation(w http.ResponseWriter, r *http.Request) error {
	return replyForID(w, r, "reservation", "reservation", s.Checkout.Release)
}

// placeOrder answers 201 with a paid order, 202 with a pending one (the
// payment outcome is being confirmed), 402 when the card was refused.
func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	var in struct {
		checkout.OrderRequest
		wallet.Choice
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	req := in.OrderRequest
	if req.ReservationID == uuid.Nil {
		return apperr.Errorf(apperr.Invalid, "reservation_id is required")
	}
	if in.Choice != (wallet.Choice{}) {
		if s.Wallet == nil {
			return apperr.Errorf(apperr.Invalid, "this server keeps no address book nor payment method: give shipping and payment_token")
		}
		if err := s.Wallet.Prepare(r.Context(), u.ID, &req, in.Choice); err != nil {
			return err
		}
	}
	req.IdempotencyKey = r.Header.Get(IdempotencyHeader)
	o, replayed, err := s.Checkout.PlaceOrder(r.Context(), u, req)
	markReplay(w, replayed)
	if err != nil {
		return err
	}
	if in.Choice != (wallet.Choice{}) {
		// The order is taken: what the wallet could not keep costs the buyer
		// a form next time, not this order.
		if err := s.Wallet.Settle(r.Context(), u.ID, req, in.Choice); err != nil {
			s.logger().WarnContext(r.Context(), "order taken, wallet not updated", "order", o.ID, "err", err)
		}
	}
	status := http.StatusCreated
	if o.State == checkout.Pending {
		status = http.StatusAccepted
	}
	return reply(w, status, "order", o)
}

func (s *Server) listMyOrders(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	offset, limit, err := page(r)
	if err != nil {
		return err
	}
	list, err := s.Checkout.MyOrders(r.Context(), u, offset, limit)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "orders", nonNil(list))
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) error {
	return replyForID(w, r, "order", "order", s.Checkout.Order)
}

// orderAction runs cancel, fulfil or refund on the {id} order.
func (s *Server) orderAction(action string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		u, id, err := userAndID(r, "order")
		if err != nil {
			return err
		}
		var o *checkout.Order
		switch action {
		case "cancel":
			o, err = s.Checkout.CancelOrder(r.Context(), u, id)
		case "fulfil":
			o, err = s.Checkout.FulfilOrder(r.Context(), u, id)
		case "refund":
			var in struct {
				Restock bool `json:"restock"`
			}
			if r.ContentLength != 0 {
				if err := decode(r, &in); err != nil {
					return err
				}
			}
			o, err = s.Checkout.RefundOrder(r.Context(), u, id, in.Restock)
		}
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, "order", o)
	}
}

// orderFilter reads ?show=&state= for brand-side listings.
func orderFilter(r *http.Request, brandID uuid.UUID) (checkout.OrderFilter, error) {
	f := checkout.OrderFilter{BrandID: brandID}
	q := r.URL.Query()
	if v := q.Get("show"); v != "" {
		id, err := uuid.Parse(v)
		if err != nil {
			return f, apperr.Errorf(apperr.Invalid, "show must be a show id")
		}
		f.ShowID = id
	}
	if v := q.Get("state"); v != "" {
		for st := range strings.SplitSeq(v, ",") {
			switch checkout.OrderState(st) {
			case checkout.Pending, checkout.Paid, checkout.Fulfilled, checkout.Cancelled, checkout.Refunded:
				f.States = append(f.States, checkout.OrderState(st))
			default:
				return f, apperr.Errorf(apperr.Invalid, "state %q must be pending, paid, fulfilled, cancelled or refunded", st)
			}
		}
	}
	return f, nil
}

// brandOrders reads the caller, the {id} brand and its order filter, for the
// brand-side order listings; whether the caller may see them is the
// checkout service's call.
func (s *Server) brandOrders(r *http.Request) (*account.User, *brand.Brand, checkout.OrderFilter, error) {
	u, err := requireUser(r)
	if err != nil {
		return nil, nil, checkout.OrderFilter{}, err
	}
	b, err := s.brandFor(r)
	if err != nil {
		return nil, nil, checkout.OrderFilter{}, err
	}
	f, err := orderFilter(r, b.ID)
	if err != nil {
		return nil, nil, checkout.OrderFilter{}, err
	}
	return u, b, f, nil
}

func (s *Server) listBrandOrders(w http.ResponseWriter, r *http.Request) error {
	u, _, f, err := s.brandOrders(r)
	if err != nil {
		return err
	}
	if f.Offset, f.Limit, err = page(r); err != nil {
		return err
	}
	list, err := s.Checkout.BrandOrders(r.Context(), u, f)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "orders", nonNil(list))
}

func (s *Server) brandOrdersCSV(w http.ResponseWriter, r *http.Request) error {
	u, b, f, err := s.brandOrders(r)
	if err != nil {
		return err
	}
	return s.writeOrdersCSV(w, r, u, f, "orders-"+b.Slug)
}

func (s *Server) showOrdersCSV(w http.ResponseWriter, r *http.Request) error {
	u, sh, err := s.callerShow(r)
	if err != nil {
		return err
	}
	if !account.CanHost(u, sh.BrandID, sh.HostIDs) {
		return apperr.Errorf(apperr.Forbidden, "only this show's hosts and brand admins can export its orders")
	}
	// Hosts see their own show's orders; the brand filter keeps it to the show's brand.
	f, err := orderFilter(r, sh.BrandID)
	if err != nil {
		return err
	}
	f.ShowID = sh.ID
	return s.writeOrdersCSV(w, r, nil, f, "orders-show-"+sh.ID.String())
}

// writeOrdersCSV streams every matching order, page by page. With u nil the
// caller was authorized already (a show's host). It returns an error only
// before writing anything; a failure once streaming has begun is logged.
func (s *Server) writeOrdersCSV(w http.ResponseWriter, r *http.Request, u *account.User, f checkout.OrderFilter, name string) error {
	list := func(f checkout.OrderFilter) ([]checkout.Order, error) {
		if u == nil {
			return s.Checkout.Ledger.ListOrders(r.Context(), f)
		}
		return s.Checkout.BrandOrders(r.Context(), u, f)
	}
	f.Limit = 1000
	first, err := list(f)
	if err != nil {
		return err
	}
	cw := startCSV(w, fmt.Sprintf("%s-%s.csv", name, time.Now().UTC().Format("20060102")))
	_ = cw.Write([]string{"order_id", "created_at", "state", "show_id", "offer_id", "sku_id", "quantity", "unit_price", "total", "currency",
		"payment_ref", "ship_name", "ship_line1", "ship_line2", "ship_city", "ship_region", "ship_postal_code", "ship_country", "ship_phone"})
	for batch := first; len(batch) > 0; {
		for _, o := range batch {
			sh := o.Shipping
			_ = cw.Write(csvSafe(o.ID.String(), o.CreatedAt.Format(time.RFC3339), string(o.State), o.ShowID.String(), o.OfferID.String(),
				o.SKUID.String(), strconv.Itoa(o.Quantity), minorString(o.UnitPriceMinor, o.Currency), minorString(o.TotalMinor, o.Currency),
				o.Currency, o.PaymentRef, sh.Name, sh.Line1, sh.Line2, sh.City, sh.Region, sh.PostalCode, sh.Country, sh.Phone))
		}
		if len(batch) < f.Limit {
			break
		}
		f.Offset += len(batch)
		if batch, err = list(f); err != nil {
			s.logger().ErrorContext(r.Context(), "orders export stopped", "err", err)
			break
		}
	}
	cw.Flush()
	return nil
}

// csvSafe defuses spreadsheet formula injection: a customer-written field
// starting with = + - @ would run as a formula when an analyst opens the file.
func csvSafe(fields ...string) []string {
	for i, f := range fields {
		if f != "" && strings.ContainsRune("=+-@\t\r", rune(f[0])) {
			fields[i] = "'" + f
		}
	}
	return fields
}

// minorExponent is the ISO 4217 exponent for the currencies that differ from 2.
var minorExponent = map[string]int{"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}

// minorString renders minor units as a decimal amount without floats.
func minorString(minor int64, currency string) string {
	exp, ok := minorExponent[currency]
	if !ok {
		exp = 2
	}
	if exp == 0 {
		return strconv.FormatInt(minor, 10)
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	div := int64(1)
	for range exp {
		div *= 10
	}
	return fmt.Sprintf("%s%d.%0*d", sign, minor/div, exp, minor%div)
}
