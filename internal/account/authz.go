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

// Rank is how much say a user has in one show's live room, lowest first.
// It is contextual: a brand admin of another brand, or a host of another
// show, has no more say here than any member or viewer.
type Rank int

const (
	RankViewer     Rank = iota // signed in, or anonymous
	RankMember                 // Pavilion membership
	RankHost                   // assigned to this show
	RankBrandAdmin             // administers this show's brand
	RankAdmin                  // platform admin
)

// ShowRank is u's rank in a show of the given brand and hosts.
func ShowRank(u *User, brandID uuid.UUID, hostIDs []uuid.UUID) Rank {
	switch {
	case u == nil:
		return RankViewer
	case slices.Contains(u.Roles, RoleAdmin):
		return RankAdmin
	case CanAdminBrand(u, brandID):
		return RankBrandAdmin
	case CanHost(u, brandID, hostIDs):
		return RankHost
	case u.Has(RoleMember):
		return RankMember
	}
	return RankViewer
}

// CanModerate reports whether mod may mute, ban or lift a mute or ban of
// target in a show of the given brand and hosts: staff of the show only, and
// only over users of a lower rank (a host over members and viewers, a brand
// admin over hosts too); platform admins over anyone. Nobody moderates
// themself.
func CanModerate(mod, target *User, brandID uuid.UUID, hostIDs []uuid.UUID) bool {
	if mod == nil || target == nil || mod.ID == target.ID {
		return false
	}
	m := ShowRank(mod, brandID, hostIDs)
	if m < RankHost {
		return false
	}
	return m == RankAdmin || ShowRank(target, brandID, hostIDs) < m
}
