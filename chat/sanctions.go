package chat

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// sanctions lists and lifts a show's bans and mutes for its staff over
// HTTP; the room's moderate frame imposes them.
type sanctions struct {
	staff  staffCheck
	store  Store // nil: kept in each room's memory only
	events publisher
}

// list lists the show's bans and standing mutes for a moderator of it (its
// hosts, brand admins, platform admins).
func (s sanctions) list(ctx context.Context, u *account.User, showID uuid.UUID) ([]Sanction, error) {
	if _, err := s.staff.show(ctx, u, showID); err != nil {
		return nil, err
	}
	if s.store == nil {
		return nil, apperr.Errorf(apperr.Unavailable, "moderation is not stored on this server")
	}
	return s.store.Sanctions(ctx, showID, time.Now().UTC())
}

// lift lifts the user's ban and mute in the show, under the moderation
// hierarchy, and tells every node's room (unban and unmute events), so a
// lifted user can join and chat at once.
func (s sanctions) lift(ctx context.Context, u *account.User, showID, userID uuid.UUID) error {
	sh, err := s.staff.show(ctx, u, showID)
	if err != nil {
		return err
	}
	if userID == u.ID {
		return apperr.Errorf(apperr.Invalid, "you cannot lift your own ban or mute")
	}
	if err := s.staff.mayModerate(ctx, u, userID, sh); err != nil {
		return err
	}
	if s.store != nil {
		if err := s.store.SetBan(ctx, showID, userID, u.ID, false); err != nil {
			return err
		}
		if err := s.store.SetMute(ctx, showID, userID, u.ID, time.Time{}); err != nil {
			return err
		}
	}
	for _, act := range []string{ActUnban, ActUnmute} {
		if err := s.events.append(ctx, showID, &roomEvent{Type: EvModeration, Action: act, Subject: &userID}); err != nil {
			return err
		}
	}
	return nil
}
