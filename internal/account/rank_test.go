package account

import (
	"testing"

	"github.com/google/uuid"
)

// The moderation hierarchy of issue 12 §3: a host moderates members and
// viewers; a brand admin hosts too; an admin anyone; nobody a rank above
// (or, below admin, equal to) their own.
func TestCanModerate(t *testing.T) {
	brandID, otherBrand := uuid.New(), uuid.New()
	mk := func(roles []Role, brands ...uuid.UUID) *User {
		return &User{ID: uuid.New(), Roles: roles, BrandIDs: brands}
	}
	viewer := mk([]Role{RoleViewer})
	member := mk([]Role{RoleViewer, RoleMember})
	host := mk([]Role{RoleViewer, RoleHost})
	cohost := mk([]Role{RoleViewer, RoleHost})
	otherHost := mk([]Role{RoleViewer, RoleHost}) // not on this show
	brandAdmin := mk([]Role{RoleViewer, RoleBrandAdmin}, brandID)
	brandAdmin2 := mk([]Role{RoleViewer, RoleBrandAdmin}, brandID)
	rivalAdmin := mk([]Role{RoleViewer, RoleBrandAdmin}, otherBrand)
	admin := mk([]Role{RoleAdmin})
	admin2 := mk([]Role{RoleAdmin})
	hosts := []uuid.UUID{host.ID, cohost.ID}

	for _, c := range []struct {
		name        string
		mod, target *User
		want        bool
	}{
		{"host over viewer", host, viewer, true},
		{"host over member", host, member, true},
		{"host over another show's host", host, otherHost, true},
		{"host over another brand's admin", host, rivalAdmin, true},
		{"host over co-host", host, cohost, false},
		{"host over brand admin", host, brandAdmin, false},
		{"host over admin", host, admin, false},
		{"brand admin over host", brandAdmin, host, true},
		{"brand admin over viewer", brandAdmin, viewer, true},
		{"brand admin over brand admin", brandAdmin, brandAdmin2, false},
		{"brand admin over admin", brandAdmin, admin, false},
		{"admin over brand admin", admin, brandAdmin, true},
		{"admin over admin", admin, admin2, true},
		{"admin over themself", admin, admin, false},
		{"member over viewer", member, viewer, false},
		{"another show's host over viewer", otherHost, viewer, false},
		{"another brand's admin over viewer", rivalAdmin, viewer, false},
		{"anonymous", nil, viewer, false},
	} {
		if got := CanModerate(c.mod, c.target, brandID, hosts); got != c.want {
			t.Errorf("%s: CanModerate = %v, want %v", c.name, got, c.want)
		}
	}
}
