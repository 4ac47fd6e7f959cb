package chat

import (
	"context"
	"log/slog"
	"time"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/crashguard"
	"github.com/pavilion-live/pavilion/internal/replay"
)

// dropTimer announces flash drops opening and closing, with the server's
// clock so every viewer's countdown agrees, and announces the close again
// when a window runs out by itself.
type dropTimer struct {
	offers offerReader
	events publisher
	marks  marker
	guard  *crashguard.Guard
	log    *slog.Logger
}

// changed announces o's drop window as stored now, and its end when it
// runs out unless it was changed again by then.
func (d *dropTimer) changed(o *checkout.Offer) {
	ctx := context.Background()
	d.announce(ctx, o)
	if o.DropClosesAt == nil {
		return
	}
	if wait := time.Until(*o.DropClosesAt); wait > 0 {
		closes := *o.DropClosesAt
		time.AfterFunc(wait, func() {
			defer d.guard.Recover("chat_timer", "show", o.ShowID, "offer", o.ID)
			cur, err := d.offers.catalog.OfferByID(ctx, o.ID)
			if err != nil || cur.DropClosesAt == nil || !cur.DropClosesAt.Equal(closes) {
				return // reopened or closed by hand since: that change was announced
			}
			d.announce(ctx, cur)
		})
	}
}

func (d *dropTimer) announce(ctx context.Context, o *checkout.Offer) {
	// The event carries the offer's whole state as read now (the window was
	// stored before), so it can stand in for any older copy.
	cur, v, err := d.offers.fresh(ctx, o.ID)
	if err != nil {
		d.log.Warn("announcing a drop", "offer", o.ID, "err", err)
		return
	}
	now := time.Now().UTC()
	state := "closed"
	if cur.DropOpen(now) {
		state = "open"
	}
	ev := &roomEvent{Type: EvDrop, OfferID: &cur.ID, Offer: v, State: state, Opens: cur.DropOpensAt, Closes: cur.DropClosesAt, Now: &now}
	if err := d.events.append(ctx, o.ShowID, ev); err != nil {
		d.log.Warn("announcing a drop", "offer", o.ID, "err", err)
		return
	}
	if state == "open" {
		d.marks.mark(ctx, o.ShowID, now, replay.MarkDrop, cur.ID)
	}
}
