package web_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
)

// TestDrawRoutes: the draw routes over HTTP: who may do what, bad input
// answered and changing nothing, and a whole draw from open to record.
func TestDrawRoutes(t *testing.T) {
	e := newEnv(t)
	show := "/api/shows/" + e.creds.ShowID
	offer := e.creds.OfferIDs[3]
	host, viewer := bearer(e.creds.HostToken), bearer(e.creds.ViewerToken)

	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 60}), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 60}, viewer), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", show+"/draws", map[string]any{"seconds": 60}, host), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 60, "colour": "red"}, host), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 2}, host), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": uuid.NewString(), "seconds": 60}, host), http.StatusNotFound, "not_found")
	if r := e.do("GET", show+"/draws", nil); r.status != http.StatusOK || len(r.json(t)["draws"].([]any)) != 0 {
		t.Fatalf("draws after refused opens: %d %s", r.status, r.body)
	}

	r := e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 60, "units": 2}, host)
	e.want(r, http.StatusCreated, "")
	draw := "/draws/" + r.json(t)["draw"].(map[string]any)["id"].(string)
	e.want(e.do("POST", show+"/draws", map[string]any{"offer_id": offer, "seconds": 60}, host), http.StatusConflict, "conflict")
	e.want(e.do("POST", "/api/reservations", map[string]any{"offer_id": offer, "quantity": 1}, viewer), http.StatusConflict, "drop_closed")

	e.want(e.do("POST", show+draw+"/entry", nil), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", show+"/draws/nope/entry", nil, viewer), http.StatusNotFound, "not_found")
	e.want(e.do("POST", "/api/shows/"+uuid.NewString()+draw+"/entry", nil, viewer), http.StatusNotFound, "not_found")
	e.want(e.do("GET", show+draw+"/entry", nil, viewer), http.StatusNotFound, "not_found")
	entry := e.do("POST", show+draw+"/entry", nil, viewer)
	e.want(entry, http.StatusOK, "")
	again := e.do("POST", show+draw+"/entry", nil, viewer)
	if again.json(t)["entry"].(map[string]any)["id"] != entry.json(t)["entry"].(map[string]any)["id"] {
		t.Fatalf("a second entry: %s, first %s", again.body, entry.body)
	}
	e.want(e.do("POST", show+draw+"/close", nil, viewer), http.StatusForbidden, "forbidden")

	closed := e.do("POST", show+draw+"/close", nil, host)
	e.want(closed, http.StatusOK, "")
	rec := closed.json(t)["draw"].(map[string]any)
	if rec["state"] != "drawn" || len(rec["entries"].([]any)) != 1 || len(rec["winners"].([]any)) != 1 || rec["seed"] == "" {
		t.Fatalf("closed: %s", closed.body)
	}
	mine := e.do("GET", show+draw+"/entry", nil, viewer).json(t)["entry"].(map[string]any)
	if mine["rank"].(float64) != 1 || mine["reservation_id"] == nil {
		t.Fatalf("the winner's entry: %v", mine)
	}
	e.want(e.do("POST", show+draw+"/entry", nil, bearer(e.creds.MemberToken)), http.StatusConflict, "conflict")
}
