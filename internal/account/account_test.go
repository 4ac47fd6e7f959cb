package account

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

func TestPasswordHash(t *testing.T) {
	h := Hasher{Time: 1, Memory: 64, Threads: 1}
	enc, err := h.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("encoding = %q", enc)
	}
	again, _ := h.Hash("correct horse battery")
	if again == enc {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := Verify(pw, enc)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	// A hash made with other parameters still verifies: they travel in the encoding.
	strong, _ := DefaultHasher.Hash("pw-with-defaults")
	if ok, err := Verify("pw-with-defaults", strong); !ok || err != nil {
		t.Fatalf("default-parameter hash: %v %v", ok, err)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=x$c2FsdA$a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5"} {
		if _, err := Verify("x", bad); err == nil {
			t.Errorf("Verify accepted malformed hash %q", bad)
		}
	}
}

func TestAuthorizationRules(t *testing.T) {
	brandA, brandB := uuid.New(), uuid.New()
	viewer := &User{ID: uuid.New(), Roles: []Role{RoleViewer}}
	member := &User{ID: uuid.New(), Roles: []Role{RoleViewer, RoleMember}}
	host := &User{ID: uuid.New(), Roles: []Role{RoleViewer, RoleHost}}
	adminA := &User{ID: uuid.New(), Roles: []Role{RoleViewer, RoleBrandAdmin}, BrandIDs: []uuid.UUID{brandA}}
	platform := &User{ID: uuid.New(), Roles: []Role{RoleAdmin}}
	hosts := []uuid.UUID{host.ID}

	cases := []struct {
		name string
		got  bool
		want bool
	}{
		{"nil user administers nothing", CanAdminBrand(nil, brandA), false},
		{"viewer administers nothing", CanAdminBrand(viewer, brandA), false},
		{"brand admin administers own brand", CanAdminBrand(adminA, brandA), true},
		{"brand admin not another brand", CanAdminBrand(adminA, brandB), false},
		{"platform admin administers every brand", CanAdminBrand(platform, brandB), true},
		{"assigned host hosts", CanHost(host, brandA, hosts), true},
		{"unassigned host does not", CanHost(host, brandA, nil), false},
		{"viewer listed as host without the role does not", CanHost(viewer, brandA, []uuid.UUID{viewer.ID}), false},
		{"brand admin hosts own brand's show", CanHost(adminA, brandA, nil), true},
		{"brand admin not another brand's show", CanHost(adminA, brandB, nil), false},
		{"anyone sees public", CanSeeShow(nil, false, brandA, nil), true},
		{"anonymous does not see members-only", CanSeeShow(nil, true, brandA, nil), false},
		{"viewer does not see members-only", CanSeeShow(viewer, true, brandA, nil), false},
		{"member sees members-only", CanSeeShow(member, true, brandA, nil), true},
		{"assigned host sees members-only", CanSeeShow(host, true, brandA, hosts), true},
		{"own brand admin sees members-only", CanSeeShow(adminA, true, brandA, nil), true},
		{"other brand admin does not", CanSeeShow(adminA, true, brandB, nil), false},
		{"platform admin sees members-only", CanSeeShow(platform, true, brandB, nil), true},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %v", c.name, c.got)
		}
	}
}

// loginStore is just enough of a Store for Login: two accounts, one with a
// password and one token-only (no password hash), and the sessions issued.
type loginStore struct {
	Store
	hash string
}

func (s *loginStore) UserByEmail(_ context.Context, email string) (*User, string, error) {
	switch email {
	case "pw@example.com":
		return &User{ID: uuid.New(), Email: email}, s.hash, nil
	case "tokens@example.com":
		return &User{ID: uuid.New(), Email: email}, "", nil
	}
	return nil, "", apperr.Errorf(apperr.NotFound, "user not found")
}

func (s *loginStore) CreateCredential(context.Context, *Credential) error { return nil }

// TestLoginRefusalsCostTheSame: an unknown email, a token-only account and
// a wrong password each cost one verification against a hash of the same
// parameters, so the time of the answer tells nothing about the account.
// (Counting work, not measuring time: the cost of a verification follows
// from its parameters.)
func TestLoginRefusalsCostTheSame(t *testing.T) {
	h := Hasher{Time: 1, Memory: 64, Threads: 1}
	hash, err := h.Hash("the right password")
	if err != nil {
		t.Fatal(err)
	}
	var calls []string // the parameter part of each hash verified against
	svc := &Service{Store: &loginStore{hash: hash}, Hasher: h, verify: func(password, encoded string) (bool, error) {
		parts := strings.Split(encoded, "$")
		if len(parts) != 6 {
			calls = append(calls, "malformed:"+encoded)
		} else {
			calls = append(calls, strings.Join(parts[1:4], "$"))
		}
		return Verify(password, encoded)
	}}
	params := strings.Join(strings.Split(hash, "$")[1:4], "$")
	for _, c := range []struct{ name, email, password string }{
		{"unknown email", "nobody@example.com", "a password"},
		{"token-only account", "tokens@example.com", "a password"},
		{"token-only account, empty password", "tokens@example.com", ""},
		{"wrong password", "pw@example.com", "a password"},
	} {
		calls = nil
		_, _, err := svc.Login(context.Background(), c.email, c.password)
		if apperr.CodeOf(err) != apperr.Unauthorized || apperr.MessageOf(err) != "wrong email or password" {
			t.Errorf("%s: err = %v, want the one refusal", c.name, err)
		}
		if len(calls) != 1 || calls[0] != params {
			t.Errorf("%s: verified against %q, want one verification against a hash with %q", c.name, calls, params)
		}
	}
	calls = nil
	if u, secret, err := svc.Login(context.Background(), "pw@example.com", "the right password"); err != nil || u == nil || secret == "" {
		t.Fatalf("right password: %v, %q, %v", u, secret, err)
	}
	if len(calls) != 1 {
		t.Fatalf("right password: %d verifications", len(calls))
	}
}
