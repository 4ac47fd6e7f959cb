package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// IdempotencyHeader is the request header that makes reserve and place-order retryable.
const IdempotencyHeader = "Idempotency-Key"

func markReplay(w http.ResponseWriter, replayed bool) {
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
}

func (s *Server) reserve(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req checkout.ReserveRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.OfferID == uuid.Nil {
		s.writeError(w, r, apperr.Errorf(apperr.Invalid, "offer_id is required"))
		return
	}
	req.IdempotencyKey = r.Header.Get(IdempotencyHeader)
	res, replayed, err := s.Checkout.Reserve(r.Context(), u, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	markReplay(w, replayed)
	writeJSON(w, http.StatusCreated, map[string]any{"reservation": res})
}

func (s *Server) getReservation(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathID(r, "reservation")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Checkout.Reservation(r.Context(), u, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reservation": res})
}

func (s *Server) releaseReservation(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathID(r, "reservation")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Checkout.Release(r.Context(), u, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reservation": res})
}

// placeOrder answers 201 with a paid order, 202 with a pending one (the
// payment outcome is being confirmed), 402 when the card was refused.
func (s *Server) placeOrder(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req checkout.OrderRequest
	if err := decode(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.ReservationID == uuid.Nil {
		s.writeError(w, r, apperr.Errorf(apperr.Invalid, "reservation_id is required"))
		return
	}
	req.IdempotencyKey = r.Header.Get(IdempotencyHeader)
	o, replayed, err := s.Checkout.PlaceOrder(r.Context(), u, req)
	markReplay(w, replayed)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusCreated
	if o.State == checkout.Pending {
		status = http.StatusAccepted
	}
	writeJSON(w, status, map[string]any{"order": o})
}

func (s *Server) listMyOrders(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	offset, limit, err := page(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.Checkout.MyOrders(r.Context(), u, offset, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": nonNil(list)})
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	id, err := pathID(r, "order")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.Checkout.Order(r.Context(), u, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"order": o})
}

// orderAction runs cancel, fulfil or refund on the {id} order.
func (s *Server) orderAction(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := requireUser(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		id, err := pathID(r, "order")
		if err != nil {
			s.writeError(w, r, err)
			return
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
					s.writeError(w, r, err)
					return
				}
			}
			o, err = s.Checkout.RefundOrder(r.Context(), u, id, in.Restock)
		}
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"order": o})
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

func (s *Server) listBrandOrders(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b, err := s.brandFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := orderFilter(r, b.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Offset, f.Limit, err = page(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.Checkout.BrandOrders(r.Context(), u, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"orders": nonNil(list)})
}

func (s *Server) brandOrdersCSV(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	b, err := s.brandFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := orderFilter(r, b.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeOrdersCSV(w, r, u, f, "orders-"+b.Slug)
}

func (s *Server) showOrdersCSV(w http.ResponseWriter, r *http.Request) {
	u, err := requireUser(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sh, err := s.visibleShow(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !account.CanHost(u, sh.BrandID, sh.HostIDs) {
		s.writeError(w, r, apperr.Errorf(apperr.Forbidden, "only this show's hosts and brand admins can export its orders"))
		return
	}
	// Hosts see their own show's orders; the brand filter keeps it to the show's brand.
	f, err := orderFilter(r, sh.BrandID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.ShowID = sh.ID
	s.writeOrdersCSV(w, r, nil, f, "orders-show-"+sh.ID.String())
}

// writeOrdersCSV streams every matching order, page by page. With u nil the
// caller was authorized already (a show's host).
func (s *Server) writeOrdersCSV(w http.ResponseWriter, r *http.Request, u *account.User, f checkout.OrderFilter, name string) {
	list := func(f checkout.OrderFilter) ([]checkout.Order, error) {
		if u == nil {
			return s.Checkout.Ledger.ListOrders(r.Context(), f)
		}
		return s.Checkout.BrandOrders(r.Context(), u, f)
	}
	f.Limit = 1000
	first, err := list(f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, name, time.Now().UTC().Format("20060102")))
	cw := csv.NewWriter(w)
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
