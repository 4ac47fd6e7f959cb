package show

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// NoticeUpcoming is the kind of notice a brand sends its followers about a
// show to come.
const NoticeUpcoming = "show_upcoming"

// FollowerNotices tells a brand's followers about one of its shows. The
// SQLite and PostgreSQL stores implement it beside Store.
type FollowerNotices interface {
	// NoticeFollowers stores a notice of kind with text for every follower
	// of the show's brand, in one transaction, and reports how many were
	// told. When the show already has a notice of that kind nothing is
	// stored and the answer is Conflict: each is sent once.
	NoticeFollowers(ctx context.Context, showID uuid.UUID, kind, text string, at time.Time) (int, error)
}

// TellFollowers sends the brand's followers an in-app notice that a show is
// coming: once per show, by the brand's admins, while the show is scheduled
// and public (followers are never told about a members-only show). It
// reports how many followers were told.
func (s *Service) TellFollowers(ctx context.Context, u *account.User, showID uuid.UUID) (int, error) {
	if u == nil {
		return 0, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	fn, ok := s.Store.(FollowerNotices)
	if !ok {
		return 0, apperr.Errorf(apperr.Unavailable, "this store cannot send notices to followers")
	}
	sh, err := s.Store.ShowByID(ctx, showID)
	if err != nil {
		return 0, err
	}
	if err := CheckSee(u, sh); err != nil {
		return 0, err
	}
	if !account.CanAdminBrand(u, sh.BrandID) {
		return 0, apperr.Errorf(apperr.Forbidden, "only the show's brand admins can tell its followers")
	}
	if sh.State != Scheduled {
		return 0, apperr.Errorf(apperr.Conflict, "only an upcoming show can be announced; this one is %s", sh.State)
	}
	if !TellsFollowers(sh) {
		return 0, apperr.Errorf(apperr.Conflict, "a members-only show is not announced to followers")
	}
	zone, err := time.LoadLocation(sh.TimeZone)
	if err != nil {
		zone = time.UTC
	}
	start := sh.StartsAt.In(zone)
	text := fmt.Sprintf("Coming up: %s, %s (%s)", sh.Title, start.Format("Mon 2 Jan 15:04"), start.Format("MST"))
	return fn.NoticeFollowers(ctx, sh.ID, NoticeUpcoming, text, s.now())
}
