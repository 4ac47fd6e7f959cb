package chat

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// stockEvery is the least time between two stock flushes of a node.
const stockEvery = 100 * time.Millisecond

// stockCoalescer gathers the offers whose stock moved and announces each
// once, as read at the flush: a stampede of reservations becomes at most
// ten stock events a second, not one per tap. A change after a quiet spell
// is announced at once (the flush's leading edge), not at the next 100 ms
// mark: the stock a viewer sees is as fresh as the bound allows.
type stockCoalescer struct {
	offers offerReader
	events publisher
	log    *slog.Logger
	guard  *crashguard.Guard

	mu      sync.Mutex
	pending map[uuid.UUID]uuid.UUID // offer → show, waiting for the next flush
	kick    chan struct{}           // something is pending
}

func newStockCoalescer(offers offerReader, events publisher, log *slog.Logger, guard *crashguard.Guard) *stockCoalescer {
	return &stockCoalescer{offers: offers, events: events, log: log, guard: guard,
		pending: map[uuid.UUID]uuid.UUID{}, kick: make(chan struct{}, 1)}
}

// changed marks the offer for the next flush.
func (s *stockCoalescer) changed(showID, offerID uuid.UUID) {
	s.mu.Lock()
	s.pending[offerID] = showID
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// run flushes until ctx ends: as soon as something is pending, but no
// sooner than stockEvery after the last flush began. A panic in a flush is
// logged and counted, and the next flush runs.
func (s *stockCoalescer) run(ctx context.Context) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		if wait := stockEvery - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		s.guard.Do("chat_tick", func() { s.flush(ctx) })
	}
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
