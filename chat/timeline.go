package chat

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/replay"
)

// Timeline is where the hub writes a show's pins and drops, and its
// stage's changes, for its replay.
type Timeline interface {
	AddMark(ctx context.Context, m replay.Mark) error
}

// marker writes the moments of a show (pins, unpins, drops opening) to its
// replay's timeline; without a Timeline it keeps none.
type marker struct {
	timeline Timeline // nil: none kept
	log      *slog.Logger
}

// mark adds a moment to the show's replay timeline. A failure costs the
// replay a marker, never the live room its event.
func (m marker) mark(ctx context.Context, showID uuid.UUID, at time.Time, typ string, offerID uuid.UUID) {
	if m.timeline == nil {
		return
	}
	if err := m.timeline.AddMark(context.WithoutCancel(ctx), replay.Mark{ShowID: showID, At: at, Type: typ, OfferID: offerID}); err != nil {
		m.log.Warn("replay timeline", "show", showID, "type", typ, "err", err)
	}
}

// pin marks a pin (or, with no offer, an unpin).
func (m marker) pin(ctx context.Context, showID uuid.UUID, at time.Time, offerID *uuid.UUID) {
	if offerID != nil {
		m.mark(ctx, showID, at, replay.MarkPin, *offerID)
	} else {
		m.mark(ctx, showID, at, replay.MarkUnpin, uuid.Nil)
	}
}

// stage marks a change of the show's stage (a layout switch, the guest
// joining or leaving) with the layout from then on.
func (m marker) stage(ctx context.Context, showID uuid.UUID, at time.Time, typ, layout string) {
	if m.timeline == nil {
		return
	}
	if err := m.timeline.AddMark(context.WithoutCancel(ctx), replay.Mark{ShowID: showID, At: at, Type: typ, Layout: layout}); err != nil {
		m.log.Warn("replay timeline", "show", showID, "type", typ, "err", err)
	}
}
