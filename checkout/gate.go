package checkout

import (
	"context"

	"github.com/google/uuid"
)

// Verdict is the gate's answer to one tap of a buy button.
type Verdict int

const (
	// Taken: the units are the tapper's to write to the ledger.
	Taken Verdict = iota + 1
	// SoldOut: not enough units left.
	SoldOut
	// LimitOver: the tapper would exceed the offer's per-customer limit.
	LimitOver
	// Unknown: the gate holds no state for the offer (first tap, or the gate
	// lost its memory, e.g. a restarted Redis). Load it from the ledger and ask again.
	Unknown
)

func (v Verdict) String() string {
	switch v {
	case Taken:
		return "taken"
	case SoldOut:
		return "sold_out"
	case LimitOver:
		return "limit_over"
	case Unknown:
		return "unknown"
	}
	return "invalid"
}

// Tap is one buy-button press: Quantity units of an offer for a customer,
// whose per-customer limit is Limit (0: none).
type Tap struct {
	OfferID  uuid.UUID
	UserID   uuid.UUID
	Quantity int
	Limit    int
}

// Gate is the hot, fast front of the stock: it decides each tap atomically
// in memory (in-process, or in Redis for a cluster) so that only winners
// reach the ledger and ledger load is bounded by stock, not by the crowd.
// The gate may be wrong — it can lose state or drift after a fault — but it
// is never the truth: the ledger refuses what it must, and the service
// corrects the gate from the ledger when they disagree.
type Gate interface {
	// Take decides a tap: when Taken, Quantity units were subtracted from the
	// offer's available count and added to the customer's count, atomically.
	Take(ctx context.Context, t Tap) (Verdict, error)
	// Give returns units: the available count grows by qty and the
	// customer's count shrinks by qty (never below zero). A Give for an
	// offer the gate holds no state for is a no-op: the next load reads the
	// ledger, which already counts the units as free.
	Give(ctx context.Context, offerID, userID uuid.UUID, qty int) error
	// Load sets the offer's state from the ledger: units available and each
	// customer's held-or-bought count. With overwrite false it only fills a
	// gate that holds no state for the offer (first tap after a restart,
	// racing with other nodes); with overwrite true it replaces what is there
	// (a correction after the ledger disagreed).
	Load(ctx context.Context, offerID uuid.UUID, available int, customers map[uuid.UUID]int, overwrite bool) error
	// Available reports the gate's count for the offer and whether it has state.
	Available(ctx context.Context, offerID uuid.UUID) (int, bool, error)
	// Holds reports how many units of the offer the gate counts for the
	// customer, and whether it has state for the offer. A refused tap whose
	// customer holds nothing cannot be the retry of a winning one, so its
	// idempotency key needs no lookup in the ledger: this keeps the sold-out
	// path off the database.
	Holds(ctx context.Context, offerID, userID uuid.UUID) (int, bool, error)
}
