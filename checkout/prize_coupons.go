package checkout

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// PrizeCoupon is a brand coupon as the studio's giveaway form offers it:
// what viewers see of it, and its ID (a giveaway's coupon_id); nothing of
// what it has spent.
type PrizeCoupon struct {
	ID uuid.UUID `json:"id"`
	PublicCoupon
}

// PrizeCoupons lists the brand's coupons that can be the prize of a
// giveaway in the show — the ones Draws.Open takes as coupon_id: not
// withdrawn, not a copy issued to one account, for the whole brand or this
// show, and not expired — for whoever may run the show (its hosts, its
// brand's admins, platform admins): a host who does not administer the
// brand may list them here, and nowhere else.
func (s *Service) PrizeCoupons(ctx context.Context, u *account.User, showID uuid.UUID) ([]PrizeCoupon, error) {
	cs, err := s.coupons()
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
	}
	sh, err := s.Shows.ShowByID(ctx, showID)
	if err != nil {
		return nil, err
	}
	if err := show.CheckHost(u, sh); err != nil {
		return nil, err
	}
	list, err := cs.BrandCoupons(ctx, sh.BrandID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []PrizeCoupon{}
	for _, c := range list {
		if c.Disabled || c.IssuedTo != nil || (c.ShowID != nil && *c.ShowID != sh.ID) || (c.EndsAt != nil && !now.Before(*c.EndsAt)) {
			continue
		}
		out = append(out, PrizeCoupon{ID: c.ID, PublicCoupon: c.public()})
	}
	return out, nil
}
