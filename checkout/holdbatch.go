package checkout

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// OfferUnits is what a ledger reads of an offer, under its write lock,
// before it decides a batch of holds.
type OfferUnits struct {
	ShowID, SKUID uuid.UUID
	Free          int // allocated − sold − held
}

// CustomerOffer keys a customer's live units on one offer.
type CustomerOffer struct {
	OfferID, UserID uuid.UUID
}

// BatchState is what a ledger read, under its write lock, to decide a batch
// of holds: every figure must stay true until the batch commits.
type BatchState struct {
	Offers    map[uuid.UUID]OfferUnits // missing: the offer does not exist
	SKUFree   map[uuid.UUID]int        // on_hand − sold − held of each offer's SKU
	Customers map[CustomerOffer]int    // held and bought units, for holds with a limit
	Users     map[uuid.UUID]bool       // the customers that exist
	KeyTaken  []bool                   // KeyTaken[i]: holds[i]'s key is already stored (nil: none is)
}

// BatchPlan is a decided batch: what to write.
type BatchPlan struct {
	Errs       []error           // Errs[i]: holds[i]'s refusal; nil: write it
	OfferUnits map[uuid.UUID]int // units to add to each offer's held count
	SKUUnits   map[uuid.UUID]int // units to add to each SKU's held count
	Written    int               // how many holds to write
}

// DecideHolds decides a batch of holds in slice order, as Reserve would
// decide each alone one after the other: a key already stored (or already
// earlier in the batch) is ErrKeyTaken; then the offer must exist and be
// the hold's show and SKU, the customer must exist, the offer must have
// the units, the customer's live units plus these must be within the limit,
// and the SKU must have the units. Each accepted hold takes its units before
// the next one is decided, so limits and stock are exact within the batch.
// Both ledgers decide with it, so their answers cannot drift apart.
func DecideHolds(holds []Hold, st BatchState) BatchPlan {
	p := BatchPlan{Errs: make([]error, len(holds)), OfferUnits: map[uuid.UUID]int{}, SKUUnits: map[uuid.UUID]int{}}
	type keyID struct {
		user    uuid.UUID
		op, key string
	}
	seen := map[keyID]bool{}
	offerFree := map[uuid.UUID]int{}
	skuFree := map[uuid.UUID]int{}
	customers := map[CustomerOffer]int{}
	for i, h := range holds {
		r := h.Reservation
		if r.Quantity <= 0 {
			p.Errs[i] = apperr.Errorf(apperr.Invalid, "quantity must be positive")
			continue
		}
		if k := h.Key; k != nil {
			id := keyID{k.UserID, k.Op, k.Key}
			if seen[id] || (st.KeyTaken != nil && st.KeyTaken[i]) {
				p.Errs[i] = ErrKeyTaken
				continue
			}
			seen[id] = true
		}
		o, ok := st.Offers[r.OfferID]
		switch {
		case !ok:
			p.Errs[i] = apperr.Errorf(apperr.NotFound, "offer not found")
			continue
		case o.ShowID != r.ShowID || o.SKUID != r.SKUID:
			p.Errs[i] = apperr.Errorf(apperr.Invalid, "the reservation's show and SKU are not its offer's")
			continue
		case !st.Users[r.UserID]:
			p.Errs[i] = apperr.Errorf(apperr.NotFound, "user not found")
			continue
		}
		free, ok := offerFree[r.OfferID]
		if !ok {
			free = o.Free
		}
		if free < r.Quantity {
			p.Errs[i] = ErrSoldOut
			continue
		}
		c := CustomerOffer{r.OfferID, r.UserID}
		have, ok := customers[c]
		if !ok {
			have = st.Customers[c]
		}
		if h.Limit > 0 && have+r.Quantity > h.Limit {
			p.Errs[i] = ErrLimitReached
			continue
		}
		sfree, ok := skuFree[r.SKUID]
		if !ok {
			sfree = st.SKUFree[r.SKUID]
		}
		if sfree < r.Quantity {
			p.Errs[i] = ErrSoldOut
			continue
		}
		offerFree[r.OfferID] = free - r.Quantity
		skuFree[r.SKUID] = sfree - r.Quantity
		customers[c] = have + r.Quantity
		p.OfferUnits[r.OfferID] += r.Quantity
		p.SKUUnits[r.SKUID] += r.Quantity
		p.Written++
	}
	return p
}

// newHoldID is a new reservation's ID: a UUIDv7, whose leading 48 bits are
// the time in milliseconds, so the holds of a stampede are appended at the
// right edge of the ledger's primary-key index instead of landing on random
// pages of it (a random UUIDv4 dirties a different leaf page for nearly every
// hold once the table outgrows the page cache). Its time says nothing a
// reservation does not already say in its created_at.
func newHoldID() uuid.UUID {
	id, err := uuid.NewV7()
	if err != nil {
		// The random source failed; so would uuid.New, which panics.
		panic(err)
	}
	return id
}

// ReserveOne is Ledger.Reserve for a ledger that writes every hold in
// batches: a batch of one.
func ReserveOne(ctx context.Context, l interface {
	ReserveBatch(context.Context, []Hold) ([]error, error)
}, r *Reservation, limit int, key *Idempotency) error {
	errs, err := l.ReserveBatch(ctx, []Hold{{Reservation: r, Limit: limit, Key: key}})
	if err != nil {
		return err
	}
	return errs[0]
}
