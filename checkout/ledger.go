package checkout

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Errors the buy path answers with. Clients switch on the codes.
var (
	// ErrSoldOut: no units left for this offer (or its SKU).
	ErrSoldOut = &apperr.Error{Code: apperr.SoldOut, Message: "sold out"}
	// ErrLimitReached: this customer already holds or bought the offer's per-customer limit.
	ErrLimitReached = &apperr.Error{Code: apperr.LimitReached, Message: "per-customer limit reached for this offer"}
	// ErrDropClosed: the offer is a flash drop whose window is not open.
	ErrDropClosed = &apperr.Error{Code: apperr.DropClosed, Message: "this drop is not open"}
	// ErrPrize: the offer is priced 0, a giveaway's prize: it is won, not bought.
	ErrPrize = &apperr.Error{Code: apperr.Conflict, Message: "this is a giveaway prize: it is won in the show's giveaway, not bought"}
	// ErrKeyTaken: Reserve was given an idempotency record whose key is
	// already stored; nothing was reserved. The caller replays the stored one.
	ErrKeyTaken = &apperr.Error{Code: apperr.Conflict, Message: "idempotency key already used"}
)

// MaxActiveHolds bounds a listing of one customer's active holds: each
// hold takes units of a per-customer limit, so real customers have few.
const MaxActiveHolds = 200

// ReservationState is where a hold is in its life.
type ReservationState string

const (
	// Held: units are set aside for the customer until ExpiresAt.
	Held ReservationState = "held"
	// Ordering: an order is paying for it; the sweeper leaves it alone.
	Ordering ReservationState = "ordering"
	// Ordered: a paid order consumed it.
	Ordered ReservationState = "ordered"
	// Released: the customer let it go; units went back.
	Released ReservationState = "released"
	// Expired: the hold ran out; units went back.
	Expired ReservationState = "expired"
	// Returned: its order was cancelled or refunded with restock; units went back.
	Returned ReservationState = "returned"
)

// Reservation holds units of an offer for one customer.
type Reservation struct {
	ID         uuid.UUID        `json:"id"`
	OfferID    uuid.UUID        `json:"offer_id"`
	ShowID     uuid.UUID        `json:"show_id"`
	SKUID      uuid.UUID        `json:"sku_id"`
	UserID     uuid.UUID        `json:"user_id"`
	Quantity   int              `json:"quantity"`
	PriceMinor int64            `json:"price_minor"` // unit price, fixed when reserved
	Currency   string           `json:"currency"`
	State      ReservationState `json:"state"`
	CreatedAt  time.Time        `json:"created_at"`
	ExpiresAt  time.Time        `json:"expires_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
	// Checkout says a payment was submitted for the hold at least once (an
	// order was begun on it). Only ExpireDue fills it: a hold that expires
	// after checkout is an abandoned checkout, not a forgotten hold.
	Checkout bool `json:"-"`
}

// OrderState is where an order is in its life: pending → paid → fulfilled,
// or cancelled / refunded.
type OrderState string

const (
	Pending   OrderState = "pending" // payment under way or being confirmed
	Paid      OrderState = "paid"
	Fulfilled OrderState = "fulfilled"
	Cancelled OrderState = "cancelled"
	Refunded  OrderState = "refunded"
)

// Shipping is where an order goes.
type Shipping struct {
	Name       string `json:"name"`
	Line1      string `json:"line1"`
	Line2      string `json:"line2"`
	City       string `json:"city"`
	Region     string `json:"region"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"` // ISO 3166-1 alpha-2
	Phone      string `json:"phone"`
}

// Order buys the units of one reservation.
type Order struct {
	ID             uuid.UUID `json:"id"`
	UserID         uuid.UUID `json:"user_id"`
	ReservationID  uuid.UUID `json:"reservation_id"`
	OfferID        uuid.UUID `json:"offer_id"`
	ShowID         uuid.UUID `json:"show_id"`
	SKUID          uuid.UUID `json:"sku_id"`
	BrandID        uuid.UUID `json:"brand_id"`
	Quantity       int       `json:"quantity"`
	UnitPriceMinor int64     `json:"unit_price_minor"`
	TotalMinor     int64     `json:"total_minor"` // what the buyer pays: units × price − discount
	// CouponID is the coupon the order uses (nil: none), CouponCode its
	// code and DiscountMinor what it takes off.
	CouponID      *uuid.UUID `json:"coupon_id,omitempty"`
	CouponCode    string     `json:"coupon_code,omitempty"`
	DiscountMinor int64      `json:"discount_minor"`
	Currency      string     `json:"currency"`
	State         OrderState `json:"state"`
	Shipping      Shipping   `json:"shipping"`
	PaymentRef    string     `json:"payment_ref"` // the provider's charge ID once paid
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// OrderFilter selects orders for a listing, newest first.
type OrderFilter struct {
	UserID  uuid.UUID // zero: any
	BrandID uuid.UUID // zero: any
	ShowID  uuid.UUID // zero: any
	States  []OrderState
	Offset  int
	Limit   int // 0: 50; at most 1000
}

// Idempotency is the stored outcome of a request made with an Idempotency-Key.
type Idempotency struct {
	UserID      uuid.UUID
	Key         string
	Op          string // "reserve", "order": keys are scoped per operation and per user
	RequestHash string // of the request's parameters: same key, other parameters is an error
	// Result is the JSON of the first outcome; empty while the first request is still running.
	Result    []byte
	CreatedAt time.Time
}

// Hold is one reservation to write in a batch: what Reserve takes.
type Hold struct {
	Reservation *Reservation
	Limit       int          // the customer's limit on the offer; 0: none
	Key         *Idempotency // nil: no idempotency key
}

// Ledger is the durable truth about stock, holds and orders. Every method that
// moves units does it in one transaction with conditional updates, so the
// invariants (offer: sold+held <= allocated; SKU: sold+held <= on_hand; a
// customer's held+ordered units <= the offer's limit) hold under any
// concurrency, whatever the gate said.
type Ledger interface {
	// Reserve inserts r (State Held) and adds r.Quantity to the held units of
	// its offer and SKU. ErrSoldOut when the offer or SKU lacks the units,
	// ErrLimitReached when the customer's held and ordered units on the offer
	// plus r.Quantity exceed limit (0: no limit). The offer's show, SKU, price
	// and currency are filled in by the caller from the offer.
	//
	// With key non-nil, the idempotency record (its Result already set) is
	// stored in the same transaction, so a winning tap costs one commit, not
	// three; when the key is already stored the answer is ErrKeyTaken and
	// nothing changes.
	Reserve(ctx context.Context, r *Reservation, limit int, key *Idempotency) error
	// ReserveBatch writes several holds in one transaction (group commit:
	// the gate's winners of a moment share one commit). Each hold is decided
	// as Reserve would decide it alone, in slice order, so limits and stock
	// stay exact; errs[i] is holds[i]'s answer (nil: written). A batch
	// error means nothing at all was written, for any hold. A batch must not
	// hold the same idempotency key twice: later copies answer ErrKeyTaken.
	ReserveBatch(ctx context.Context, holds []Hold) (errs []error, err error)
	ReservationByID(ctx context.Context, id uuid.UUID) (*Reservation, error)
	// ActiveReservations lists the customer's reservations that still hold
	// units (Held, or Ordering while an order pays), soonest to expire first,
	// at most MaxActiveHolds; with showID non-zero, only that show's.
	ActiveReservations(ctx context.Context, userID, showID uuid.UUID) ([]Reservation, error)
	// Release ends a held reservation (to Released or Expired) and returns its
	// units. Gone when it is no longer held.
	Release(ctx context.Context, id uuid.UUID, to ReservationState, now time.Time) (*Reservation, error)
	// ReleaseBatch is Release for several reservations in one transaction
	// (group commit of customers' releases): ended[i] and errs[i] answer
	// ids[i] as Release would (NotFound for a missing one, Gone for one no
	// longer held). A batch error means nothing at all was written. A
	// batch must not name a reservation twice.
	ReleaseBatch(ctx context.Context, ids []uuid.UUID, to ReservationState, now time.Time) (ended []*Reservation, errs []error, err error)
	// ExpireDue expires up to limit held reservations whose ExpiresAt <= now,
	// returning their units, and returns them. Safe to run on several nodes at
	// once: each reservation is expired exactly once.
	ExpireDue(ctx context.Context, now time.Time, limit int) ([]Reservation, error)
	// ReleaseShow releases (to Released) every held reservation of the show
	// and returns their units, in one transaction, and returns them. For a
	// cancelled show.
	ReleaseShow(ctx context.Context, showID uuid.UUID, now time.Time) ([]Reservation, error)
	// CustomerUnits is how many units of the offer the customer holds or bought.
	CustomerUnits(ctx context.Context, offerID, userID uuid.UUID) (int, error)
	// OfferCustomers maps each customer with held or bought units of the offer to that count.
	OfferCustomers(ctx context.Context, offerID uuid.UUID) (map[uuid.UUID]int, error)

	// BeginOrder moves a held, unexpired reservation (now < ExpiresAt) to
	// Ordering and inserts o (State Pending). Gone when the reservation is not
	// held or has expired. With o.CouponID set it spends the coupon in the
	// same transaction: one more use and o.DiscountMinor more spent, refused
	// (nothing written) with the errors of CouponRefusal when that would pass
	// its count or budget, or it is disabled, out of its window or issued to
	// someone else, and with ErrCouponCustomerLimit when the customer's
	// orders already use it PerCustomer times.
	BeginOrder(ctx context.Context, o *Order, now time.Time) error
	// CompletePayment marks a pending order paid with the provider's reference,
	// turns its reservation to Ordered and moves its units from held to sold.
	// Conflict when the order is not pending (so a payment lands exactly once).
	CompletePayment(ctx context.Context, orderID uuid.UUID, paymentRef string, now time.Time) (*Order, error)
	// AbandonOrder deletes a pending order whose payment did not happen and
	// returns its reservation to Held (still bound by its ExpiresAt), and
	// gives back its coupon's use and discount.
	AbandonOrder(ctx context.Context, orderID uuid.UUID, now time.Time) error
	// SetOrderState moves a paid or fulfilled order to Fulfilled, Cancelled or
	// Refunded. With restock, its units go back: sold decreases on the offer and
	// the SKU and the reservation becomes Returned. Conflict for a transition
	// the state machine does not allow. A cancel or a refund gives back the
	// order's coupon use and discount (once: the use is marked returned).
	SetOrderState(ctx context.Context, orderID uuid.UUID, to OrderState, restock bool, now time.Time) (*Order, error)
	OrderByID(ctx context.Context, id uuid.UUID) (*Order, error)
	ListOrders(ctx context.Context, f OrderFilter) ([]Order, error)
	// PendingOrders lists orders still pending that were created before cutoff,
	// for the payment reconciler.
	PendingOrders(ctx context.Context, createdBefore time.Time, limit int) ([]Order, error)

	// ClaimIdempotency records rec if (UserID, Op, Key) is new and reports
	// true. Otherwise it returns the stored record and false.
	ClaimIdempotency(ctx context.Context, rec *Idempotency) (*Idempotency, bool, error)
	// LookupIdempotency returns the record for (userID, op, key); NotFound
	// when there is none. (A read, for taps the gate refused: only a key that
	// already won may change their answer.)
	LookupIdempotency(ctx context.Context, userID uuid.UUID, op, key string) (*Idempotency, error)
	// FinishIdempotency stores the outcome of a claimed key.
	FinishIdempotency(ctx context.Context, userID uuid.UUID, op, key string, result []byte) error
	// DropIdempotency forgets a claimed key whose request failed without
	// effect, so a retry runs afresh.
	DropIdempotency(ctx context.Context, userID uuid.UUID, op, key string) error
}
