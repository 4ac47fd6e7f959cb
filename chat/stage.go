package chat

import (
	"context"
	"time"

	"github.com/pavilion-live/pavilion/internal/cohost"
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
}

var _ cohost.Notifier = (*Hub)(nil)
