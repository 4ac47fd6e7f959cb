package account

import (
	"slices"

	"github.com/google/uuid"
)

// The authorization rules live here, in one place, so every entry point (HTTP,
// websocket, WHIP/WHEP) asks the same questions.

// CanAdminBrand reports whether u may manage brand b's hub, catalogue, shows and orders.
func CanAdminBrand(u *User, brandID uuid.UUID) bool {
	if u == nil {
		return false
	}
	if slices.Contains(u.Roles, RoleAdmin) {
		return true
	}
	return slices.Contains(u.Roles, RoleBrandAdmin) && slices.Contains(u.BrandIDs, brandID)
}

// CanHost reports whether u may run a show (go live, pin, open drops) given
// its brand and assigned hosts. Brand admins of the show's brand may too:
// they are responsible for it.
func CanHost(u *User, brandID uuid.UUID, hostIDs []uuid.UUID) bool {
	if u == nil {
		return false
	}
	if CanAdminBrand(u, brandID) {
		return true
	}
	return slices.Contains(u.Roles, RoleHost) && slices.Contains(hostIDs, u.ID)
}

// CanSeeShow reports whether u may see a show with the given visibility:
// members-only shows are for members, the platform admins, and the show's own
// brand admins and hosts.
func CanSeeShow(u *User, membersOnly bool, brandID uuid.UUID, hostIDs []uuid.UUID) bool {
	if !membersOnly {
		return true
	}
	return u.Has(RoleMember) || CanHost(u, brandID, hostIDs)
}
