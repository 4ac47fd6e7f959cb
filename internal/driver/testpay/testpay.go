// Package testpay is Pavilion's built-in "test" payment provider. It behaves
// like a card processor's test mode: fixed test cards and tokens succeed, are
// declined, lack funds, answer slowly, or time out after charging, so that
// every path of checkout runs without a real processor. It keeps its charges
// in memory: they last as long as the process.
package testpay

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// The test tokens. Each also has a test card number, so a checkout form can
// take a card the way a real one would.
const (
	TokenSuccess      = "tok_visa"              // card 4242 4242 4242 4242: succeeds
	TokenDeclined     = "tok_chargeDeclined"    // card 4000 0000 0000 0002: card_declined
	TokenInsufficient = "tok_insufficientFunds" // card 4000 0000 0000 9995: insufficient_funds
	TokenSlow         = "tok_slow"              // card 4000 0000 0000 3220: succeeds after Provider.Slow
	TokenTimeout      = "tok_timeout"           // card 4000 0000 0000 0119: charges, but answers only after Provider.Hang
)

var cards = map[string]string{
	"4242424242424242": TokenSuccess,
	"4000000000000002": TokenDeclined,
	"4000000000009995": TokenInsufficient,
	"4000000000003220": TokenSlow,
	"4000000000000119": TokenTimeout,
}

// Normalize maps a test card number (spaces and dashes allowed) to its token;
// tokens pass through.
func Normalize(tokenOrCard string) string {
	digits := strings.NewReplacer(" ", "", "-", "").Replace(tokenOrCard)
	if t, ok := cards[digits]; ok {
		return t
	}
	return tokenOrCard
}

// Provider is the test payment provider. The zero value is ready; Slow and
// Hang default to 2 s and 30 s.
type Provider struct {
	Slow time.Duration // how long TokenSlow takes
	Hang time.Duration // how long TokenTimeout takes to answer (its charge is made at once)

	mu       sync.Mutex
	charges  map[string]*checkout.Charge // by key
	byRef    map[string]*checkout.Charge
	refunded map[string]int64
}

var _ checkout.Payments = (*Provider)(nil)

func (p *Provider) init() {
	if p.charges == nil {
		p.charges = map[string]*checkout.Charge{}
		p.byRef = map[string]*checkout.Charge{}
		p.refunded = map[string]int64{}
	}
}

// Charge takes the payment. A repeated key returns the first charge, like a
// real processor's idempotency keys.
func (p *Provider) Charge(ctx context.Context, req checkout.ChargeRequest) (*checkout.Charge, error) {
	if req.AmountMinor <= 0 || req.Key == "" {
		return nil, apperr.Errorf(apperr.Invalid, "a charge needs a key and a positive amount")
	}
	token := Normalize(req.Token)
	p.mu.Lock()
	p.init()
	if c, ok := p.charges[req.Key]; ok {
		p.mu.Unlock()
		return outcome(c)
	}
	c := &checkout.Charge{Ref: "ch_test_" + strings.ReplaceAll(uuid.NewString(), "-", ""), Key: req.Key,
		AmountMinor: req.AmountMinor, Currency: req.Currency, Status: checkout.ChargeSucceeded, CreatedAt: time.Now().UTC()}
	switch token {
	case TokenSuccess, TokenSlow, TokenTimeout:
	case TokenDeclined:
		c.Status, c.FailureCode = checkout.ChargeFailed, "card_declined"
	case TokenInsufficient:
		c.Status, c.FailureCode = checkout.ChargeFailed, "insufficient_funds"
	default:
		p.mu.Unlock()
		return nil, apperr.Errorf(apperr.PaymentFailed, "unknown test card or token %q: use %s (success), %s, %s, %s or %s",
			req.Token, TokenSuccess, TokenDeclined, TokenInsufficient, TokenSlow, TokenTimeout)
	}
	if token != TokenSlow {
		// The slow card is charged when it finally answers; every other
		// outcome, the timeout card's included, is recorded at once.
		p.record(c)
	}
	p.mu.Unlock()

	switch token {
	case TokenSlow:
		if err := sleep(ctx, p.slow()); err != nil {
			return nil, fmt.Errorf("test provider: %w", err)
		}
		p.mu.Lock()
		p.record(c)
		p.mu.Unlock()
	case TokenTimeout:
		if err := sleep(ctx, p.hang()); err != nil {
			return nil, fmt.Errorf("test provider: %w", err)
		}
	}
	return outcome(c)
}

func (p *Provider) record(c *checkout.Charge) {
	p.charges[c.Key] = c
	p.byRef[c.Ref] = c
}

func outcome(c *checkout.Charge) (*checkout.Charge, error) {
	cp := *c
	switch c.FailureCode {
	case "card_declined":
		return &cp, apperr.Errorf(apperr.PaymentFailed, "the card was declined")
	case "insufficient_funds":
		return &cp, apperr.Errorf(apperr.PaymentFailed, "the card has insufficient funds")
	}
	return &cp, nil
}

// Lookup finds a charge by its key.
func (p *Provider) Lookup(ctx context.Context, key string) (*checkout.Charge, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	c, ok := p.charges[key]
	if !ok {
		return nil, apperr.Errorf(apperr.NotFound, "no charge with key %s", key)
	}
	cp := *c
	return &cp, nil
}

// Refund returns money; never more than was charged.
func (p *Provider) Refund(ctx context.Context, ref string, amountMinor int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	c, ok := p.byRef[ref]
	if !ok || c.Status != checkout.ChargeSucceeded {
		return apperr.Errorf(apperr.NotFound, "no successful charge %s", ref)
	}
	if p.refunded[ref]+amountMinor > c.AmountMinor {
		return apperr.Errorf(apperr.Conflict, "refund exceeds the charge")
	}
	p.refunded[ref] += amountMinor
	return nil
}

// Totals reports how many successful charges were made and how much was
// refunded, for tests that check each order was paid exactly once.
func (p *Provider) Totals() (charges int, chargedMinor, refundedMinor int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.charges {
		if c.Status == checkout.ChargeSucceeded {
			charges++
			chargedMinor += c.AmountMinor
		}
	}
	for _, r := range p.refunded {
		refundedMinor += r
	}
	return charges, chargedMinor, refundedMinor
}

func (p *Provider) slow() time.Duration {
	if p.Slow == 0 {
		return 2 * time.Second
	}
	return p.Slow
}

func (p *Provider) hang() time.Duration {
	if p.Hang == 0 {
		return 30 * time.Second
	}
	return p.Hang
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
