package show

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
)

// Users finds accounts: a show's hosts must be accounts with the host role.
type Users interface {
	UserByID(ctx context.Context, id uuid.UUID) (*account.User, error)
}

// Brands finds brands: a show belongs to one that exists.
type Brands interface {
	BrandByID(ctx context.Context, id uuid.UUID) (*brand.Brand, error)
}

// Edit is what a brand admin sets on a show: a new show, or a change to one
// where nil fields stay as they are.
type Edit struct {
	BrandID     *uuid.UUID  `json:"brand_id"`
	Title       *string     `json:"title"`
	Description *string     `json:"description"`
	Kind        *Kind       `json:"kind"`
	Visibility  *Visibility `json:"visibility"`
	StartsAt    *time.Time  `json:"starts_at"`
	EndsAt      *time.Time  `json:"ends_at"`
	TimeZone    *string     `json:"time_zone"`
	HostIDs     []uuid.UUID `json:"host_ids"`
	HoldSeconds *int        `json:"hold_seconds"`
	CoverURL    *string     `json:"cover_url"`
}

func (e *Edit) apply(sh *Show) {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&sh.Title, e.Title)
	set(&sh.Description, e.Description)
	set(&sh.TimeZone, e.TimeZone)
	set(&sh.CoverURL, e.CoverURL)
	if e.Kind != nil {
		sh.Kind = *e.Kind
	}
	if e.Visibility != nil {
		sh.Visibility = *e.Visibility
	}
	if e.StartsAt != nil {
		sh.StartsAt = *e.StartsAt
	}
	if e.EndsAt != nil {
		sh.EndsAt = *e.EndsAt
	}
	if e.HostIDs != nil {
		sh.HostIDs = e.HostIDs
	}
	if e.HoldSeconds != nil {
		sh.HoldSeconds = *e.HoldSeconds
	}
}

// schedules reports whether e touches more than the show's words: its
// schedule, audience, hosts or holds.
func (e *Edit) schedules() bool {
	return e.Kind != nil || e.Visibility != nil || e.StartsAt != nil || e.EndsAt != nil || e.TimeZone != nil ||
		e.HostIDs != nil || e.HoldSeconds != nil
}

// Create schedules a new show of e's brand for one of the brand's admins:
// the brand must exist, the fields pass Validate and every host is an
// account with the host role; then as Schedule.
func (s *Service) Create(ctx context.Context, u *account.User, e Edit) (*Show, error) {
	if e.BrandID == nil {
		return nil, apperr.Errorf(apperr.Invalid, "brand_id is required")
	}
	if !account.CanAdminBrand(u, *e.BrandID) {
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this brand")
	}
	if _, err := s.Brands.BrandByID(ctx, *e.BrandID); err != nil {
		return nil, err
	}
	sh := &Show{BrandID: *e.BrandID, HostIDs: []uuid.UUID{}}
	e.apply(sh)
	if err := Validate(sh); err != nil {
		return nil, err
	}
	if err := s.checkHosts(ctx, sh.HostIDs); err != nil {
		return nil, err
	}
	if err := s.Schedule(ctx, sh); err != nil {
		return nil, err
	}
	return sh, nil
}

// Change applies e to the stored show sh for one of its brand's admins: a
// show stays with its brand, an ended or cancelled one is no longer edited,
// and while it is live only its words (title, description, cover) change;
// then as Update.
func (s *Service) Change(ctx context.Context, u *account.User, sh *Show, e Edit) (*Show, error) {
	if !account.CanAdminBrand(u, sh.BrandID) {
		if err := CheckSee(u, sh); err != nil {
			return nil, err
		}
		return nil, apperr.Errorf(apperr.Forbidden, "you do not administer this show's brand")
	}
	if e.BrandID != nil && *e.BrandID != sh.BrandID {
		return nil, apperr.Errorf(apperr.Invalid, "a show cannot move to another brand")
	}
	switch sh.State {
	case Ended, Cancelled:
		return nil, apperr.Errorf(apperr.Conflict, "the show is %s and can no longer be edited", sh.State)
	case Live:
		// Viewers are watching: only the words may change, not the schedule or audience.
		if e.schedules() {
			return nil, apperr.Errorf(apperr.Conflict, "the show is live: only its title and description can change")
		}
	}
	next := *sh
	e.apply(&next)
	if err := Validate(&next); err != nil {
		return nil, err
	}
	if e.HostIDs != nil {
		if err := s.checkHosts(ctx, next.HostIDs); err != nil {
			return nil, err
		}
	}
	if err := s.Update(ctx, &next); err != nil {
		return nil, err
	}
	return &next, nil
}

// checkHosts makes sure every host is an account with the host role.
func (s *Service) checkHosts(ctx context.Context, ids []uuid.UUID) error {
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		if seen[id] {
			return apperr.Errorf(apperr.Invalid, "host %s is listed twice", id)
		}
		seen[id] = true
		u, err := s.Users.UserByID(ctx, id)
		if errors.Is(err, apperr.E(apperr.NotFound)) {
			return apperr.Errorf(apperr.Invalid, "host %s is not an account", id)
		}
		if err != nil {
			return err
		}
		if !u.Has(account.RoleHost) {
			return apperr.Errorf(apperr.Invalid, "%s is not a host", u.DisplayName)
		}
	}
	return nil
}

// Subscribe is "notify me": the user is told when the show goes live. Only
// a show still scheduled can be followed.
func (s *Service) Subscribe(ctx context.Context, sh *Show, userID uuid.UUID) error {
	if sh.State != Scheduled {
		return apperr.Errorf(apperr.Conflict, "only an upcoming show can be followed; this one is %s", sh.State)
	}
	return s.Store.Subscribe(ctx, sh.ID, userID, s.now())
}
