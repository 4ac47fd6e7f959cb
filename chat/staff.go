package chat

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Users is what the hub needs of the account store.
type Users interface {
	UserByID(ctx context.Context, id uuid.UUID) (*account.User, error)
}

// staffCheck authorizes the privileged acts of a show's staff (pins,
// moderation) against the show and the accounts as stored now.
type staffCheck struct {
	shows show.Store
	users Users // nil: moderating users is unavailable
}

// show reads the show as stored now and checks that u may run it (a host
// of it, a brand admin of its brand, a platform admin). Someone who may
// not even see it is told it does not exist.
func (s staffCheck) show(ctx context.Context, u *account.User, showID uuid.UUID) (*show.Show, error) {
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	sh, err := s.shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, err
	}
	return sh, show.CheckHost(u, sh)
}

// mayModerate checks the moderation hierarchy (account.CanModerate) for
// mod acting on the user targetID in sh.
func (s staffCheck) mayModerate(ctx context.Context, mod *account.User, targetID uuid.UUID, sh *show.Show) error {
	if s.users == nil {
		return apperr.Errorf(apperr.Unavailable, "moderating users is not available")
	}
	target, err := s.users.UserByID(ctx, targetID)
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			return apperr.Errorf(apperr.NotFound, "user %s not found", targetID)
		}
		return err
	}
	if !account.CanModerate(mod, target, sh.BrandID, sh.HostIDs) {
		return apperr.Errorf(apperr.Forbidden, "you cannot moderate %s: hosts moderate members and viewers, brand admins hosts too", target.DisplayName)
	}
	return nil
}
