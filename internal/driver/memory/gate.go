package memory

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// Gate is the in-process checkout.Gate of the embedded mode. It answers the
// whole crowd of a flash drop by itself, so the hot paths avoid shared locks:
//
//   - offers live in a sync.Map, whose lookups take no lock, so taps on
//     different offers never contend;
//   - each offer has its own mutex, held only for a few map operations;
//   - each offer's available count is mirrored in an atomic, so once an
//     offer is sold out every further tap is answered without taking the
//     offer's mutex at all: a sold-out stampede costs a map lookup and an
//     atomic load per tap.
//
// Offers stay in memory for the life of the process; an offer's state is a
// counter and one map entry per customer holding units, which is bounded by
// its stock.
type Gate struct {
	offers sync.Map // uuid.UUID → *gateOffer
}

var _ checkout.Gate = (*Gate)(nil)

// gateOffer is one offer's state.
type gateOffer struct {
	// avail is the available count. It is written only under mu, so a
	// decision made under mu sees every earlier change; reads without mu
	// (Available, the sold-out fast path) see a value that was true at the
	// moment of the read, which is all those answers promise.
	avail atomic.Int64

	mu        sync.Mutex
	customers map[uuid.UUID]int // units per customer; zero counts are deleted
}

// NewGate returns an empty gate: every offer is Unknown until loaded.
func NewGate() *Gate {
	return &Gate{}
}

// Take decides t. When the offer lacks the units the answer is SoldOut
// whatever the customer's count, so that the sold-out answer can be given
// without looking at customers (the Redis gate does the same).
func (g *Gate) Take(ctx context.Context, t checkout.Tap) (checkout.Verdict, error) {
	if err := checkGateTap(t); err != nil {
		return 0, fmt.Errorf("memory: gate take: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory: gate take: %w", err)
	}
	o, ok := g.offer(t.OfferID)
	if !ok {
		return checkout.Unknown, nil
	}
	q := int64(t.Quantity)
	if o.avail.Load() < q {
		return checkout.SoldOut, nil
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	avail := o.avail.Load()
	if avail < q {
		return checkout.SoldOut, nil
	}
	held := o.customers[t.UserID]
	if t.Limit > 0 && held+t.Quantity > t.Limit {
		return checkout.LimitOver, nil
	}
	o.avail.Store(avail - q)
	o.customers[t.UserID] = held + t.Quantity
	return checkout.Taken, nil
}

// Give returns qty units of the offer from the customer.
func (g *Gate) Give(ctx context.Context, offerID, userID uuid.UUID, qty int) error {
	if qty < 1 {
		return fmt.Errorf("memory: gate give: quantity %d must be at least 1", qty)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: gate give: %w", err)
	}
	o, ok := g.offer(offerID)
	if !ok {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.avail.Add(int64(qty))
	if left := o.customers[userID] - qty; left > 0 {
		o.customers[userID] = left
	} else {
		delete(o.customers, userID)
	}
	return nil
}

// Load sets the offer's state. The customers map is copied: the caller keeps it.
func (g *Gate) Load(ctx context.Context, offerID uuid.UUID, available int, customers map[uuid.UUID]int, overwrite bool) error {
	if err := checkGateLoad(available, customers); err != nil {
		return fmt.Errorf("memory: gate load: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: gate load: %w", err)
	}
	fresh := &gateOffer{customers: copyGateCustomers(customers)}
	fresh.avail.Store(int64(available))
	v, loaded := g.offers.LoadOrStore(offerID, fresh)
	if !loaded || !overwrite {
		return nil
	}
	// Replace in place rather than swapping the pointer, so a Take that
	// already holds the old state cannot decide on a state nobody sees.
	o := v.(*gateOffer)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.avail.Store(int64(available))
	o.customers = fresh.customers
	return nil
}

// Available reports the offer's count and whether the gate holds it.
func (g *Gate) Available(ctx context.Context, offerID uuid.UUID) (int, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, false, fmt.Errorf("memory: gate available: %w", err)
	}
	o, ok := g.offer(offerID)
	if !ok {
		return 0, false, nil
	}
	return int(o.avail.Load()), true, nil
}

func (g *Gate) offer(id uuid.UUID) (*gateOffer, bool) {
	v, ok := g.offers.Load(id)
	if !ok {
		return nil, false
	}
	return v.(*gateOffer), true
}

// checkGateTap refuses taps that would corrupt the counts. The service validates
// input before it reaches the gate, so these are programming errors.
func checkGateTap(t checkout.Tap) error {
	if t.Quantity < 1 {
		return fmt.Errorf("quantity %d must be at least 1", t.Quantity)
	}
	if t.Limit < 0 {
		return fmt.Errorf("limit %d must not be negative", t.Limit)
	}
	return nil
}

func checkGateLoad(available int, customers map[uuid.UUID]int) error {
	if available < 0 {
		return fmt.Errorf("available %d must not be negative", available)
	}
	for u, n := range customers {
		if n < 0 {
			return fmt.Errorf("customer %s: count %d must not be negative", u, n)
		}
	}
	return nil
}

func copyGateCustomers(in map[uuid.UUID]int) map[uuid.UUID]int {
	out := make(map[uuid.UUID]int, len(in))
	for u, n := range in {
		if n > 0 {
			out[u] = n
		}
	}
	return out
}

// Holds reports the customer's count for the offer.
func (g *Gate) Holds(ctx context.Context, offerID, userID uuid.UUID) (int, bool, error) {
	o, ok := g.offer(offerID)
	if !ok {
		return 0, false, nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.customers[userID], true, nil
}
