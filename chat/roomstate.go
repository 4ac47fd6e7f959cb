package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/show"
)

// The room's state (show, offers, pin, moderation) kept in step with its
// events on every node, and read again from the stores after missed events.

// applyLocked keeps the room's state in step with its events, on every node.
func (r *Room) applyLocked(ev *roomEvent) {
	// Recovered here, under the lock the caller holds, so a panic on an
	// event's content cannot leave the room locked.
	defer r.hub.guard.Recover("chat_bus", "show", r.showID, "event", ev.Type)
	if ev.Offer != nil {
		r.mergeOfferLocked(ev.Offer)
	}
	switch ev.Type {
	case EvPin:
		r.pinned = uuid.Nil
		if ev.OfferID != nil {
			r.pinned = *ev.OfferID
		}
		r.pins++
	case EvStock, EvSoldOut:
		// An event without the whole offer (from an older node) still moves
		// the count.
		if ev.Offer == nil && ev.OfferID != nil && ev.Avail != nil {
			if o, ok := r.offers[*ev.OfferID]; ok {
				o.Available = *ev.Avail
			}
		}
	case EvShowState:
		r.show.State = ev.State
		// The real time of the move: a welcome after it says when the show
		// went live, and ended.
		if ev.At != nil {
			at := *ev.At
			switch ev.State {
			case string(show.Live):
				if r.show.WentLiveAt == nil {
					r.show.WentLiveAt = &at
				}
			case string(show.Ended):
				r.show.EndedAt = &at
			}
		}
		if ev.State == string(show.Ended) || ev.State == string(show.Cancelled) {
			// A show that is over features nothing (the store unpinned it
			// as it ended).
			r.pinned = uuid.Nil
			r.pins++
		}
	case EvShow:
		if ev.Show != nil {
			r.setShowLocked(ev.Show)
		}
	case EvDrop:
		if ev.OfferID != nil {
			if o, ok := r.offers[*ev.OfferID]; ok && ev.Offer == nil {
				o.Drop, o.DropOpensAt, o.DropClosesAt = true, ev.Opens, ev.Closes
			}
			// Every node's checkout must see the new window at once, not when
			// its offer cache runs out.
			if r.hub.Checkout != nil {
				r.hub.Checkout.ForgetShow(r.showID)
			}
		}
	case EvDraw:
		if ev.Draw != nil {
			r.mergeDrawLocked(ev.Draw)
		}
	case EvModeration:
		switch ev.Action {
		case ActMute:
			if ev.Subject != nil && ev.Until != nil {
				r.muted[*ev.Subject] = *ev.Until
			}
		case ActUnmute:
			if ev.Subject != nil {
				delete(r.muted, *ev.Subject)
			}
		case ActBan:
			if ev.Subject != nil {
				r.banned[*ev.Subject] = true
			}
		case ActUnban:
			if ev.Subject != nil {
				delete(r.banned, *ev.Subject)
			}
		case ActSlow:
			r.slow = time.Duration(ev.Seconds) * time.Second
		case ActWords:
			r.words = ev.Words
		case ActDelete:
			for i := range r.history {
				if r.history[i].seq == ev.Target && r.history[i].ev.Type == EvChat {
					// Gone from what welcomes and resumes show; clients that
					// saw it remove it on the moderation event.
					r.history[i].ev.Type = "deleted"
				}
			}
			for i := range r.kept {
				if k := &r.kept[i]; k.seq == ev.Target && k.epoch == r.epoch {
					k.deleted = true
				}
			}
		}
	}
	if ev.Type == EvModeration && ev.Action == ActBan && ev.Subject != nil {
		for c := range r.conns {
			if c.user != nil && c.user.ID == *ev.Subject {
				c.stop(4003, "banned from this show")
			}
		}
	}
}

// mergeOfferLocked keeps v as the offer's state unless the room holds a
// newer copy. The room's copies are its own: v is not kept.
func (r *Room) mergeOfferLocked(v *OfferView) {
	if cur := r.offers[v.ID]; v.newer(cur) {
		cp := *v
		r.offers[v.ID] = &cp
	}
}

// setShowLocked takes v as the room's show unless the room holds a later
// edit, and lets go of viewers who may no longer see it (a show switched to
// members-only). Checkout's cached copy of the show goes too.
func (r *Room) setShowLocked(v *ShowView) {
	if v.UpdatedAt.Before(r.show.UpdatedAt) {
		return
	}
	r.show = *v
	r.stored = nil
	r.edits++
	if r.hub.Checkout != nil {
		r.hub.Checkout.ForgetShow(r.showID)
	}
	for c := range r.conns {
		if !account.CanSeeShow(c.user, v.Visibility == string(show.Members), v.BrandID, v.HostIDs) {
			c.stop(CloseHidden, "this show is no longer open to you")
		}
	}
}

// CloseHidden closes the connections of viewers who may no longer see the
// show (it became members-only); a new connection gets HTTP 404.
const CloseHidden = 4004

// observeShow takes a show just read from the store if it is a later edit
// than the room holds: a bus event that was lost or is still on its way
// does not leave the room behind what a new viewer was admitted by.
func (r *Room) observeShow(sh *show.Show) {
	r.mu.Lock()
	if sh.UpdatedAt.After(r.show.UpdatedAt) {
		r.setShowLocked(showView(sh))
	}
	r.mu.Unlock()
}

// resync reads the show, its offers, its pin and its draws again after the
// room missed events.
func (r *Room) resync() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if sh, err := r.hub.Shows.ShowByID(ctx, r.showID); err == nil {
		r.observeShow(sh)
	}
	if fresh, err := r.hub.offers.views(ctx, r.showID); err == nil {
		r.mu.Lock()
		for _, v := range fresh {
			r.mergeOfferLocked(v)
		}
		r.mu.Unlock()
	}
	if err := r.loadPin(ctx); err != nil {
		r.hub.log().Warn("reading the show's pin", "show", r.showID, "err", err)
	}
	if err := r.loadDraws(ctx); err != nil {
		r.hub.log().Warn("reading the show's draws", "show", r.showID, "err", err)
	}
}

// loadPin takes the show's pin as stored, unless a pin event was applied
// while it was read (the event is newer). A pinned offer the room does not
// know yet (added to the show since the room read its offers) is read too.
func (r *Room) loadPin(ctx context.Context) error {
	r.mu.Lock()
	pins := r.pins
	r.mu.Unlock()
	id, err := r.hub.Shows.Pinned(ctx, r.showID)
	if err != nil {
		return err
	}
	if id != uuid.Nil && !r.hasOffer(ctx, id) {
		id = uuid.Nil // no longer the show's
	}
	r.mu.Lock()
	if r.pins == pins {
		r.pinned = id
	}
	r.mu.Unlock()
	return nil
}

// showView is the room's view of a stored show.
func showView(sh *show.Show) *ShowView {
	return &ShowView{ID: sh.ID, BrandID: sh.BrandID, Title: sh.Title, State: string(sh.State), Visibility: string(sh.Visibility),
		StartsAt: sh.StartsAt, EndsAt: sh.EndsAt, HostIDs: append([]uuid.UUID{}, sh.HostIDs...),
		WentLiveAt: sh.WentLiveAt, EndedAt: sh.EndedAt, UpdatedAt: sh.UpdatedAt}
}
