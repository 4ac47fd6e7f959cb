package chat

import (
	"context"
	"log/slog"
	"sync"

	"github.com/google/uuid"
)

// stockCoalescer gathers the offers whose stock moved between two ticks and
// announces each once, as read at the flush: a stampede of reservations
// becomes a few stock events a second, not one per tap.
type stockCoalescer struct {
	offers offerReader
	events publisher
	log    *slog.Logger

	mu      sync.Mutex
	pending map[uuid.UUID]uuid.UUID // offer → show, waiting for the next flush
}

func newStockCoalescer(offers offerReader, events publisher, log *slog.Logger) *stockCoalescer {
	return &stockCoalescer{offers: offers, events: events, log: log, pending: map[uuid.UUID]uuid.UUID{}}
}

// changed marks the offer for the next flush.
func (s *stockCoalescer) changed(showID, offerID uuid.UUID) {
	s.mu.Lock()
	s.pending[offerID] = showID
	s.mu.Unlock()
}

// flush announces each marked offer's stock (sold_out when none is left).
func (s *stockCoalescer) flush(ctx context.Context) {
	s.mu.Lock()
	pending := s.pending
	s.pending = map[uuid.UUID]uuid.UUID{}
	s.mu.Unlock()
	for offerID, showID := range pending {
		_, v, err := s.offers.fresh(ctx, offerID)
		if err != nil {
			s.log.Warn("reading stock for the live room", "offer", offerID, "err", err)
			continue
		}
		soldOut := v.Available == 0
		ev := &roomEvent{Type: EvStock, OfferID: &offerID, Offer: v, Avail: &v.Available, SoldOut: &soldOut}
		if soldOut {
			ev.Type = EvSoldOut
		}
		if err := s.events.append(ctx, showID, ev); err != nil {
			s.log.Warn("announcing stock", "offer", offerID, "err", err)
		}
	}
}
