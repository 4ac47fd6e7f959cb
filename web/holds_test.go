package web_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// TestMyHolds: GET /api/reservations lists the caller's own active holds
// (all shows, or ?show= one), so a reloaded player finds them again;
// released holds and other people's are not listed.
func TestMyHolds(t *testing.T) {
	e := newEnv(t)
	viewer, member := bearer(e.creds.ViewerToken), bearer(e.creds.MemberToken)
	ids := func(r resp) []string {
		t.Helper()
		e.want(r, http.StatusOK, "")
		out := []string{}
		for _, x := range r.json(t)["reservations"].([]any) {
			out = append(out, x.(map[string]any)["id"].(string))
		}
		return out
	}
	e.want(e.do("GET", "/api/reservations", nil), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", "/api/reservations?show=nope", nil, viewer), http.StatusBadRequest, "invalid")
	if got := ids(e.do("GET", "/api/reservations", nil, viewer)); len(got) != 0 {
		t.Fatalf("before buying: %v", got)
	}

	reserve := func(who reqOpt, offer string) string {
		t.Helper()
		r := e.do("POST", "/api/reservations", map[string]any{"offer_id": offer, "quantity": 1}, who)
		e.want(r, http.StatusCreated, "")
		return r.json(t)["reservation"].(map[string]any)["id"].(string)
	}
	a := reserve(viewer, e.creds.OfferIDs[0])
	b := reserve(viewer, e.creds.OfferIDs[2])
	reserve(member, e.creds.OfferIDs[0])

	got := ids(e.do("GET", "/api/reservations?show="+e.creds.ShowID, nil, viewer))
	if len(got) != 2 || !(got[0] == a && got[1] == b || got[0] == b && got[1] == a) {
		t.Fatalf("the viewer's holds = %v, want %s and %s", got, a, b)
	}
	if got := ids(e.do("GET", "/api/reservations", nil, viewer)); len(got) != 2 {
		t.Fatalf("in every show = %v", got)
	}
	if got := ids(e.do("GET", "/api/reservations?show="+uuid.NewString(), nil, viewer)); len(got) != 0 {
		t.Fatalf("another show = %v", got)
	}
	e.want(e.do("DELETE", "/api/reservations/"+a, nil, viewer), http.StatusOK, "")
	if got := ids(e.do("GET", "/api/reservations?show="+e.creds.ShowID, nil, viewer)); len(got) != 1 || got[0] != b {
		t.Fatalf("after releasing one = %v, want [%s]", got, b)
	}
}
