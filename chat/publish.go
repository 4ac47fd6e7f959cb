package chat

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// publisher numbers room events through the bus: every node's copy of the
// show's room receives each, whether or not this node has the room open.
type publisher struct {
	bus Bus
}

// channelOf names a show's room on the bus.
func channelOf(showID uuid.UUID) string { return "room:" + showID.String() }

// append numbers ev through the bus.
func (p publisher) append(ctx context.Context, showID uuid.UUID, ev *roomEvent) error {
	_, _, err := p.appendNumbered(ctx, showID, ev)
	return err
}

// appendNumbered is append, returning the number the bus gave ev and the
// epoch it belongs to.
func (p publisher) appendNumbered(ctx context.Context, showID uuid.UUID, ev *roomEvent) (uint64, string, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return 0, "", err
	}
	seq, epoch, err := p.bus.Append(ctx, channelOf(showID), payload)
	if err != nil {
		return 0, "", apperr.Wrap(apperr.Unavailable, err, "the live room is unavailable; try again")
	}
	return seq, epoch, nil
}
