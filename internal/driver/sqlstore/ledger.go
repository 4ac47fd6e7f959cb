package sqlstore

import (
	"context"
	"time"

	"github.com/google/uuid"

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

// LedgerReader reads reservations, orders and idempotency keys, and keeps
// the keys' outcomes. Holding, releasing, ordering and paying are each
// driver's: they lock and batch as the dialect allows.
type LedgerReader struct{ db *Conn }

// ReservationByID returns the reservation with the given ID.
func (s LedgerReader) ReservationByID(ctx context.Context, id uuid.UUID) (*checkout.Reservation, error) {
	return readOne(ctx, s.db, "reservation by id", "reservation", s.db.Scan.Reservation,
		`SELECT `+ReservationCols+` FROM reservations WHERE id = $1`, id)
}

// ActiveReservations lists the customer's held and ordering reservations,
// in one show or (showID zero) in all, soonest to expire first.
func (s LedgerReader) ActiveReservations(ctx context.Context, userID, showID uuid.UUID) ([]checkout.Reservation, error) {
	q, args := ActiveReservations(userID, showID)
	list, err := QueryAll(ctx, s.db.Read, s.db.Scan.Reservation, q, args...)
	return list, s.db.Errs.Wrap("active reservations", err)
}

// CustomerUnits is how many units of the offer the customer holds or bought.
func (s LedgerReader) CustomerUnits(ctx context.Context, offerID, userID uuid.UUID) (int, error) {
	var n int64
	if err := s.db.Read.QueryRow(ctx, CustomerUnits, offerID, userID).Scan(&n); err != nil {
		return 0, s.db.Errs.Wrap("customer units", err)
	}
	return int(n), nil
}

// OfferCustomers maps each customer with held or bought units of the offer
// to that count.
func (s LedgerReader) OfferCustomers(ctx context.Context, offerID uuid.UUID) (map[uuid.UUID]int, error) {
	type units struct {
		user uuid.UUID
		n    int64
	}
	rows, err := QueryAll(ctx, s.db.Read, func(r Row) (*units, error) {
		var u units
		return &u, r.Scan(&u.user, &u.n)
	}, `SELECT user_id, CAST(sum(quantity) AS bigint) FROM reservations
		WHERE offer_id = $1 AND state IN `+LiveStates+` GROUP BY user_id`, offerID)
	if err != nil {
		return nil, s.db.Errs.Wrap("offer customers", err)
	}
	m := make(map[uuid.UUID]int, len(rows))
	for _, u := range rows {
		m[u.user] = int(u.n)
	}
	return m, nil
}

// OrderByID returns the order with the given ID.
func (s LedgerReader) OrderByID(ctx context.Context, id uuid.UUID) (*checkout.Order, error) {
	return readOne(ctx, s.db, "order by id", "order", s.db.Scan.Order,
		`SELECT `+OrderCols+` FROM orders WHERE id = $1`, id)
}

// ListOrders returns the orders f selects, newest first.
func (s LedgerReader) ListOrders(ctx context.Context, f checkout.OrderFilter) ([]checkout.Order, error) {
	q, args := s.db.Dialect.ListOrders(f)
	orders, err := QueryAll(ctx, s.db.Read, s.db.Scan.Order, q, args...)
	if err != nil {
		return nil, s.db.Errs.Wrap("list orders", err)
	}
	return orders, nil
}

// PendingOrders lists orders still pending that were created before
// createdBefore, oldest first. A limit of 0 or less means 50; at most 1000.
func (s LedgerReader) PendingOrders(ctx context.Context, createdBefore time.Time, limit int) ([]checkout.Order, error) {
	_, limit = OrderPage(0, limit)
	orders, err := QueryAll(ctx, s.db.Read, s.db.Scan.Order,
		`SELECT `+OrderCols+` FROM orders WHERE state = 'pending' AND created_at < $1
		 ORDER BY created_at, seq LIMIT $2`,
		s.db.Dialect.Time(createdBefore), limit)
	if err != nil {
		return nil, s.db.Errs.Wrap("pending orders", err)
	}
	return orders, nil
}

// LookupIdempotency returns the stored record of (userID, op, key).
func (s LedgerReader) LookupIdempotency(ctx context.Context, userID uuid.UUID, op, key string) (*checkout.Idempotency, error) {
	return readOne(ctx, s.db, "lookup idempotency key", "idempotency key", s.db.Scan.Idempotency,
		`SELECT `+IdempotencyCols+` FROM idempotency_keys WHERE user_id = $1 AND op = $2 AND key = $3`, userID, op, key)
}

// FinishIdempotency stores the outcome of a claimed key. NotFound when the
// key is not claimed.
func (s LedgerReader) FinishIdempotency(ctx context.Context, userID uuid.UUID, op, key string, result []byte) error {
	if result == nil {
		result = []byte{} // stored, not NULL: the key is finished
	}
	return s.db.Errs.Wrap("finish idempotency key", s.db.ExecOne(ctx, "idempotency key",
		`UPDATE idempotency_keys SET result = $1 WHERE user_id = $2 AND op = $3 AND key = $4`, result, userID, op, key))
}

// DropIdempotency forgets a claimed key whose request failed without
// effect, so a retry runs afresh. Dropping a key that is not there is no
// error: the retry of a drop finds nothing to do.
func (s LedgerReader) DropIdempotency(ctx context.Context, userID uuid.UUID, op, key string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_id = $1 AND op = $2 AND key = $3`, userID, op, key)
	return s.db.Errs.Wrap("drop idempotency key", err)
}

// ReleaseAnswers answers each of a release batch's ids (ReleaseBatch): its
// reservation among released, else Gone when found lists it (it exists, no
// longer held), else NotFound.
func ReleaseAnswers(ids []uuid.UUID, released []checkout.Reservation, found []uuid.UUID) ([]*checkout.Reservation, []error) {
	exists := make(map[uuid.UUID]bool, len(found))
	for _, id := range found {
		exists[id] = true
	}
	byID := make(map[uuid.UUID]*checkout.Reservation, len(released))
	for i := range released {
		byID[released[i].ID] = &released[i]
	}
	ended, errs := make([]*checkout.Reservation, len(ids)), make([]error, len(ids))
	for i, id := range ids {
		switch r, ok := byID[id]; {
		case ok:
			ended[i] = r
		case exists[id]:
			errs[i] = ErrNotHeld
		default:
			errs[i] = apperr.Errorf(apperr.NotFound, "reservation not found")
		}
	}
	return ended, errs
}

// Unreleased lists the ids of a release batch that released does not hold:
// the ones whose existence decides their answer.
func Unreleased(ids []uuid.UUID, released []checkout.Reservation) []uuid.UUID {
	got := make(map[uuid.UUID]bool, len(released))
	for _, r := range released {
		got[r.ID] = true
	}
	var rest []uuid.UUID
	for _, id := range ids {
		if !got[id] {
			rest = append(rest, id)
		}
	}
	return rest
}
