package chat

import (
	"context"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Commerce frames: card taps, reservations, pins, drops and ending the
// show, each for the room's own show's offers only.

// tap counts a viewer opening an offer's product card. Anyone may tap,
// signed in or not; each connection is held to the chat rate, which also
// bounds the reads an unknown offer ID costs.
func (r *Room) tap(ctx context.Context, c *conn, f *ClientFrame) error {
	if c.taps == nil {
		c.taps = rate.NewLimiter(5, 10)
	}
	if !c.taps.Allow() {
		return apperr.Errorf(apperr.RateLimited, "slow down")
	}
	if !r.hasOffer(ctx, f.OfferID) {
		return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", f.OfferID)
	}
	if r.hub.Analytics != nil {
		r.hub.Analytics.CardTap(r.showID, f.OfferID, c.who)
		if cause := r.unsellable(f.OfferID, time.Now()); cause != "" {
			r.hub.Analytics.LostIntent(r.showID, f.OfferID, cause)
		} else if c.user != nil && r.hub.Checkout != nil && r.limited(f.OfferID) {
			// Still on sale, but perhaps not to this viewer: the player
			// disables the button at their own limit, which the room does not
			// know and checkout's gate does.
			if _, err := r.hub.Checkout.CountLimitTap(ctx, c.user, f.OfferID); err != nil {
				r.hub.log().Debug("counting a tap at the customer's limit", "offer", f.OfferID, "err", err)
			}
		}
	}
	return nil
}

// limited reports whether the offer has a per-customer limit, as the room
// knows it.
func (r *Room) limited(id uuid.UUID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.offers[id]
	return v != nil && v.PerCustomerLimit > 0
}

// unsellable names why the offer cannot sell now, as the room knows it: it
// is sold out, or its drop window has closed (a drop still to open is not
// a loss: the viewer can come back). "" when it can sell. The player's buy
// button is disabled then, so a tap on the card is the only sign of a
// buyer turned away (the "3,000 taps left unanswered" of a sold-out bag).
func (r *Room) unsellable(id uuid.UUID, now time.Time) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.offers[id]
	switch {
	case v == nil:
		return ""
	case v.Drop && v.DropClosesAt != nil && !now.Before(*v.DropClosesAt):
		return checkout.LostDropClosed
	case v.Available <= 0:
		return checkout.LostSoldOut
	}
	return ""
}

func (r *Room) buy(ctx context.Context, c *conn, f *ClientFrame) error {
	if err := signedIn(c, "buy"); err != nil {
		return err
	}
	if r.hub.Checkout == nil {
		return apperr.Errorf(apperr.Unavailable, "buying is not available")
	}
	if f.Type == TypeRelease {
		res, err := r.hub.Checkout.Release(ctx, c.user, f.ReservationID)
		if err != nil {
			return err
		}
		c.reply(mustJSON(map[string]any{"type": "released", "id": f.ID, "reservation": res}))
		return nil
	}
	// A room sells its own show's offers only: an offer of another show
	// is as unknown here as one that does not exist.
	if !r.hasOffer(ctx, f.OfferID) {
		return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", f.OfferID)
	}
	// The frame's id is the Idempotency-Key itself, not a key of its own
	// kind: one intent to buy is one key whether it travels over this socket
	// or falls back to POST /api/reservations.
	res, replayed, err := r.hub.Checkout.Reserve(ctx, c.user, checkout.ReserveRequest{OfferID: f.OfferID, Quantity: f.Quantity, IdempotencyKey: f.ID})
	if err != nil {
		return err
	}
	c.reply(mustJSON(map[string]any{"type": "reservation", "id": f.ID, "replayed": replayed, "reservation": res}))
	return nil
}

// pin pins an offer for everyone. The event carries the room's copy of the
// offer, which stock, drop and earlier pin events keep current (and which
// carries its own as_of, so it never passes for newer than it is).
func (r *Room) pin(ctx context.Context, c *conn, f *ClientFrame) error {
	if _, err := r.staff(ctx, c); err != nil {
		return err
	}
	ev := &roomEvent{Type: EvPin}
	if f.OfferID != uuid.Nil {
		if !r.hasOffer(ctx, f.OfferID) {
			return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", f.OfferID)
		}
		r.mu.Lock()
		cp := *r.offers[f.OfferID]
		r.mu.Unlock()
		ev.Offer, ev.OfferID = &cp, &cp.ID
	}
	return r.hub.pins.pin(ctx, r.showID, ev)
}

// hasOffer reports whether the offer belongs to the room's show, reading it
// when the room does not know it yet (added after the room opened).
func (r *Room) hasOffer(ctx context.Context, id uuid.UUID) bool {
	r.mu.Lock()
	_, ok := r.offers[id]
	r.mu.Unlock()
	if ok {
		return true
	}
	v, ok := r.hub.offers.ofShow(ctx, r.showID, id)
	if !ok {
		return false
	}
	r.mu.Lock()
	r.mergeOfferLocked(v)
	r.mu.Unlock()
	return true
}

func (r *Room) drop(ctx context.Context, c *conn, f *ClientFrame) error {
	if err := signedIn(c, "run a drop"); err != nil {
		return err
	}
	if r.hub.Checkout == nil {
		return apperr.Errorf(apperr.Unavailable, "buying is not available")
	}
	if !r.hasOffer(ctx, f.OfferID) {
		return apperr.Errorf(apperr.NotFound, "offer %s is not in this show", f.OfferID)
	}
	o, err := r.hub.Checkout.SetDrop(ctx, c.user, f.OfferID, f.Action, f.Seconds)
	if err != nil {
		return err
	}
	c.reply(mustJSON(map[string]any{"type": "drop_set", "id": f.ID, "offer_id": o.ID, "drop_opens_at": o.DropOpensAt, "drop_closes_at": o.DropClosesAt}))
	return nil
}

func (r *Room) end(ctx context.Context, c *conn) error {
	if _, err := r.staff(ctx, c); err != nil {
		return err
	}
	if r.hub.Lifecycle == nil {
		return apperr.Errorf(apperr.Unavailable, "ending the show from the live room is not available")
	}
	_, err := r.hub.Lifecycle.End(ctx, r.showID) // the service tells every node's room
	return err
}
