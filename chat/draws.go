package chat

import (
	"context"
	"time"

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
	if err := h.append(ctx, rec.ShowID, ev); err != nil {
		h.log().Warn("announcing a draw", "draw", rec.ID, "err", err)
	}
}

var _ checkout.DrawNotifier = (*Hub)(nil)
