package checkout

import (
	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/show"
)

// ReplayHolds hears of holds won from a show's replay (after the show
// ended), so the show's analytics count replay sales apart from live ones
// (internal/analytics.Recorder implements it). Calls must only touch memory:
// they run on the buy path.
type ReplayHolds interface {
	ReplayHold(showID, offerID, reservationID uuid.UUID)
}

// replayHold tells ReplayHolds of a hold won while sh was over: only the
// replay sells then (checkOnSale).
func (s *Service) replayHold(sh *show.Show, r *Reservation) {
	if s.ReplayHolds != nil && sh.State == show.Ended {
		s.ReplayHolds.ReplayHold(r.ShowID, r.OfferID, r.ID)
	}
}
