package checkout

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ReloadGates overwrites the stock gate of every offer of the listed shows
// from the ledger: units free and each customer's count. It is what an
// operator runs after restoring the ledger from a backup (`pavilion gate
// reset`), when the gate in Redis still remembers sales the restored ledger
// does not hold. It returns the number of offers reloaded.
func (s *Service) ReloadGates(ctx context.Context, showIDs []uuid.UUID) (int, error) {
	n := 0
	for _, id := range showIDs {
		offers, err := s.Catalog.OffersByShow(ctx, id)
		if err != nil {
			return n, err
		}
		for i := range offers {
			if err := s.loadGate(ctx, &offers[i], true); err != nil {
				return n, err
			}
			s.stockChanged(&offers[i])
			n++
		}
	}
	return n, nil
}

// CheckGates compares the gate of every offer of the listed shows with the
// ledger and reloads those that still disagree after grace: a node starting
// on a ledger restored from a backup finds a gate that moved ahead of it
// (offers "sold out" that the ledger has units for). Taps that won at the
// gate and are on their way to the ledger make a brief difference too,
// hence the second look; a reload that races one costs a refused tap at the
// ledger, never an oversold unit. It returns the number of offers reloaded.
func (s *Service) CheckGates(ctx context.Context, showIDs []uuid.UUID, grace time.Duration) (int, error) {
	differs := func(o *Offer) (bool, error) {
		fresh, err := s.Catalog.OfferByID(ctx, o.ID)
		if err != nil {
			return false, err
		}
		sku, err := s.Catalog.SKUByID(ctx, fresh.SKUID)
		if err != nil {
			return false, err
		}
		gate, known, err := s.Gate.Available(ctx, o.ID)
		if err != nil || !known {
			// A gate that knows nothing loads from the ledger on the next tap.
			return false, err
		}
		return gate != fresh.Free(sku), nil
	}
	var suspects []Offer
	for _, id := range showIDs {
		offers, err := s.Catalog.OffersByShow(ctx, id)
		if err != nil {
			return 0, err
		}
		for i := range offers {
			d, err := differs(&offers[i])
			if err != nil {
				return 0, err
			}
			if d {
				suspects = append(suspects, offers[i])
			}
		}
	}
	if len(suspects) == 0 {
		return 0, nil
	}
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(grace):
	}
	n := 0
	for i := range suspects {
		still, err := differs(&suspects[i])
		if err != nil {
			return n, err
		}
		if !still {
			continue
		}
		s.Metrics.correction()
		if err := s.loadGate(ctx, &suspects[i], true); err != nil {
			return n, err
		}
		s.stockChanged(&suspects[i])
		n++
	}
	return n, nil
}
