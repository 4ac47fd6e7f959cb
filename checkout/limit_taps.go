package checkout

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
)

// CountLimitTap counts a tap on the offer's product card as a lost intent
// "limit reached" when the customer already has (held or bought) as many
// units as one customer may. The player disables the buy button then and
// lets the tap through to the card, so this card tap is the only sign of
// that wish to buy; the gate decides it, as it decides a buy tap's limit. It
// reports whether the tap was counted. Anonymous viewers, offers without a
// limit, prizes and drops not open are never at their limit here (a closed
// drop's tap is the live room's drop_closed).
func (s *Service) CountLimitTap(ctx context.Context, u *account.User, offerID uuid.UUID) (bool, error) {
	if u == nil {
		return false, nil
	}
	o, _, err := s.offer(ctx, offerID)
	if err != nil {
		return false, err
	}
	if o.PerCustomerLimit == 0 || o.PriceMinor == 0 || !o.DropOpen(s.now()) {
		return false, nil
	}
	n, known, err := s.Gate.Holds(ctx, o.ID, u.ID)
	if err == nil && !known {
		// Nobody has tried to buy it on this node since it started: load the
		// gate once, as the first buy tap would.
		if _, err, _ = s.flight.Do("gate/"+o.ID.String(), func() (any, error) {
			return nil, s.loadGate(context.WithoutCancel(ctx), o, false)
		}); err != nil {
			return false, err
		}
		n, known, err = s.Gate.Holds(ctx, o.ID, u.ID)
	}
	if err != nil {
		return false, err
	}
	if !known || n < o.PerCustomerLimit {
		return false, nil
	}
	s.lost(o.ShowID, o.ID, LostLimitReached)
	return true, nil
}
