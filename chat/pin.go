package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// pinner pins an offer of a show for every viewer (or unpins), for the
// HTTP route and the socket's pin frame alike.
type pinner struct {
	staff  staffCheck
	offers offerReader
	shows  show.Store
	events publisher
	marks  marker
}

// pinAs pins the offer (a zero ID unpins) for u, who must run the show.
func (p pinner) pinAs(ctx context.Context, u *account.User, showID, offerID uuid.UUID) error {
	if _, err := p.staff.show(ctx, u, showID); err != nil {
		return err
	}
	ev := &roomEvent{Type: EvPin}
	if offerID != uuid.Nil {
		o, v, err := p.offers.fresh(ctx, offerID)
		if err != nil || o.ShowID != showID {
			return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", offerID)
		}
		ev.Offer, ev.OfferID = v, &v.ID
	}
	return p.pin(ctx, showID, ev)
}

// pin stores, announces and marks on the replay's timeline the pin ev
// carries (an unpin without an offer). It is stored before it is
// announced, so that a room opening later (another node, a restart, a room
// that closed idle) welcomes its viewers with it.
func (p pinner) pin(ctx context.Context, showID uuid.UUID, ev *roomEvent) error {
	offerID := uuid.Nil
	if ev.OfferID != nil {
		offerID = *ev.OfferID
	}
	at := time.Now().UTC()
	if err := p.shows.SetPinned(ctx, showID, offerID, at); err != nil {
		return err
	}
	if err := p.events.append(ctx, showID, ev); err != nil {
		return err
	}
	p.marks.pin(ctx, showID, at, ev.OfferID)
	return nil
}
