package checkout

import (
	"context"
	"time"
)

// ChargeStatus is what a payment provider says about a charge.
type ChargeStatus string

const (
	ChargeSucceeded ChargeStatus = "succeeded"
	ChargeFailed    ChargeStatus = "failed"
)

// ChargeRequest asks a provider to take money once. Key makes the request
// idempotent at the provider: a retried charge with the same key never
// charges twice (Pavilion uses the order ID).
type ChargeRequest struct {
	Key         string
	AmountMinor int64
	Currency    string
	Token       string // the card or wallet token the customer's device produced
	Description string
}

// Charge is a provider's record of a charge.
type Charge struct {
	Ref         string // the provider's charge ID
	Key         string
	AmountMinor int64
	Currency    string
	Status      ChargeStatus
	FailureCode string // e.g. card_declined, insufficient_funds
	CreatedAt   time.Time
}

// Payments is a payment provider. Charge answers a declined card with an
// *apperr.Error of code PaymentFailed; any other error (a timeout, an outage)
// means the outcome is unknown and must be looked up later with Lookup.
type Payments interface {
	Charge(ctx context.Context, req ChargeRequest) (*Charge, error)
	// Lookup finds the charge made with key; NotFound when none was made.
	Lookup(ctx context.Context, key string) (*Charge, error)
	// Refund gives amountMinor of the charge back.
	Refund(ctx context.Context, ref string, amountMinor int64) error
}
