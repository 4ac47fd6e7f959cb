package chat

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
)

// DrawChanged implements checkout.DrawNotifier: a fair draw opened or was
// drawn, and every node's room tells its viewers (the player shows "Enter
// the draw", then the result). The event carries the winners, never the
// entry list: a viewer finds its own entry ID among them, and the whole
// list is at the API for anyone who verifies.
func (h *Hub) DrawChanged(rec *checkout.DrawRecord) {
	h.init()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ev := &roomEvent{Type: EvDraw, OfferID: &rec.OfferID, State: string(rec.State), Draw: rec}
	if err := h.events.append(ctx, rec.ShowID, ev); err != nil {
		h.log().Warn("announcing a draw", "draw", rec.ID, "err", err)
	}
}

var _ checkout.DrawNotifier = (*Hub)(nil)

// Draws is what the room needs of fair draws (checkout.Draws): the show's
// draws as the public sees them, for the welcome of a room that opens after
// a draw did.
type Draws interface {
	// Published lists the show's draws, newest first, with the winners of
	// those drawn and never the entry list.
	Published(ctx context.Context, showID uuid.UUID) ([]checkout.DrawRecord, error)
}

// drawRank orders a draw's states: a record never replaces one further on.
func drawRank(s checkout.DrawState) int {
	switch s {
	case checkout.DrawOpen:
		return 1
	case checkout.DrawClosing:
		return 2
	case checkout.DrawDrawn:
		return 3
	}
	return 0
}

// mergeDrawLocked keeps rec as its offer's draw if it is that offer's
// latest draw, at its furthest state. A room keeps one draw per offer, the
// one the player shows: an older, finished draw on the offer is history
// (the API lists it).
func (r *Room) mergeDrawLocked(rec *checkout.DrawRecord) {
	cur := r.draws[rec.OfferID]
	switch {
	case cur == nil:
	case cur.ID == rec.ID && drawRank(rec.State) < drawRank(cur.State):
		return
	case cur.ID != rec.ID && rec.OpensAt.Before(cur.OpensAt):
		return
	}
	cp := *rec
	cp.Entries = nil // never in a room's copy: the list can be long
	r.draws[rec.OfferID] = &cp
}

// loadDraws reads the show's draws for the room's welcomes.
func (r *Room) loadDraws(ctx context.Context) error {
	if r.hub.Draws == nil {
		return nil
	}
	list, err := r.hub.Draws.Published(ctx, r.showID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range list {
		r.mergeDrawLocked(&list[i])
	}
	return nil
}

// drawsLocked is a welcome's draws: each offer's latest, by offer, with
// the server's clock of now to count down against.
func (r *Room) drawsLocked(now time.Time) []checkout.DrawRecord {
	out := make([]checkout.DrawRecord, 0, len(r.draws))
	for _, d := range r.draws {
		cp := *d
		cp.ServerTime = now
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b checkout.DrawRecord) int { return bytes.Compare(a.OfferID[:], b.OfferID[:]) })
	return out
}
