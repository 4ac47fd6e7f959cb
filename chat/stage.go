package chat

import (
	"context"
	"time"

	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/replay"
)

// StageChanged implements cohost.Notifier: the show's stage changed (a
// guest joined or left, the host picked another layout), and every node's
// room hears it through the bus, in sequence with its other events. The
// player lays its two streams out as the stage says.
func (h *Hub) StageChanged(ctx context.Context, st cohost.Stage, change string) {
	h.init()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.events.append(ctx, st.ShowID, &roomEvent{Type: EvStage, Change: change, Stage: &st}); err != nil {
		h.log().Warn("announcing the stage", "show", st.ShowID, "change", change, "err", err)
	}
	// The replay lays its two recordings out as the show did: the change
	// goes on its timeline, with the layout from then on.
	typ := replay.MarkLayout
	switch change {
	case cohost.ChangeJoined:
		typ = replay.MarkGuestJoined
	case cohost.ChangeLeft:
		typ = replay.MarkGuestLeft
	}
	at := st.UpdatedAt
	if at.IsZero() {
		at = time.Now()
	}
	marker{timeline: h.Timeline, log: h.log()}.stage(ctx, st.ShowID, at, typ, st.Layout)
}

var _ cohost.Notifier = (*Hub)(nil)
