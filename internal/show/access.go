package show

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// The rules on who may see, run and broadcast a show. They live here, once,
// so that HTTP, the live room, the WHIP/WHEP server and checkout refuse the
// same callers with the same answers.

// CheckSee answers NotFound (not Forbidden) when u may not see sh: a
// members-only show must not be discoverable by anyone else.
func CheckSee(u *account.User, sh *Show) error {
	if !account.CanSeeShow(u, sh.Visibility == Members, sh.BrandID, sh.HostIDs) {
		return apperr.Errorf(apperr.NotFound, "show %q not found", sh.ID)
	}
	return nil
}

// CheckHost says whether u may run sh (pin, open drops, moderate, end it):
// its hosts and its brand's admins may. Anyone else is Forbidden, or
// NotFound when they may not even see the show.
func CheckHost(u *account.User, sh *Show) error {
	if !account.CanHost(u, sh.BrandID, sh.HostIDs) {
		if err := CheckSee(u, sh); err != nil {
			return err
		}
		return apperr.Errorf(apperr.Forbidden, "only this show's hosts and brand admins can do that")
	}
	return nil
}

// CheckOnAir refuses to broadcast a show that ended or was cancelled: a show
// goes live once.
func CheckOnAir(sh *Show) error {
	if sh.State == Ended || sh.State == Cancelled {
		return apperr.Errorf(apperr.Conflict, "this show is %s; it cannot go live again", sh.State)
	}
	return nil
}

// CheckViewer answers NotFound unless u may watch the show id.
func (s *Service) CheckViewer(ctx context.Context, u *account.User, id uuid.UUID) error {
	sh, err := s.Store.ShowByID(ctx, id)
	if err != nil {
		return err
	}
	return CheckSee(u, sh)
}

// PublishWithKey reports whether key is the show's current WHIP key; a right
// key for a show that can no longer go on air (CheckOnAir) is a Conflict.
func (s *Service) PublishWithKey(ctx context.Context, id uuid.UUID, key string) (bool, error) {
	ok, err := CheckStreamKey(ctx, s.Store, id, key)
	if !ok || err != nil {
		return ok, err
	}
	sh, err := s.Store.ShowByID(ctx, id)
	if err != nil {
		return false, err
	}
	if err := CheckOnAir(sh); err != nil {
		return false, err
	}
	return true, nil
}

// PublishAsHost reports whether u may publish the show id without its
// stream key, as one of the people who run it (CheckHost); false, not an
// error, for anyone else or a missing show, so that the caller can still
// try a key. A show that can no longer go on air is a Conflict.
func (s *Service) PublishAsHost(ctx context.Context, u *account.User, id uuid.UUID) (bool, error) {
	if u == nil {
		return false, nil
	}
	sh, err := s.Store.ShowByID(ctx, id)
	if apperr.CodeOf(err) == apperr.NotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !account.CanHost(u, sh.BrandID, sh.HostIDs) {
		return false, nil
	}
	if err := CheckOnAir(sh); err != nil {
		return false, err
	}
	return true, nil
}
