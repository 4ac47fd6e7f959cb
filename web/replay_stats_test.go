package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/analytics"
)

// Each GET /api/shows/{id}/replay is a replay play, counted apart from the
// live viewers: a signed-in viewer by account, an anonymous one by the
// visitor cookie it is given (and sends back); range requests for the media
// are not plays. A purchase from the replay is a replay sale.
func TestReplayViewsAndSalesCounted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	showID := uuid.MustParse(e.creds.ShowID)
	path := "/api/shows/" + e.creds.ShowID + "/replay"
	endWithRecording(t, e, showID, time.Now().UTC().Add(-2*time.Hour), []byte("webm"))
	admin, viewer := bearer(e.creds.BrandAdminToken), bearer(e.creds.ViewerToken)
	e.want(e.do("PUT", path+"/settings", map[string]any{"replay_sales_until": time.Now().Add(time.Hour)}, admin), http.StatusOK, "")

	e.want(e.do("GET", path, nil, viewer), http.StatusOK, "")
	e.want(e.do("GET", path, nil, viewer), http.StatusOK, "")
	e.want(e.do("GET", path+"/media", nil, viewer, header("Range", "bytes=0-1")), http.StatusPartialContent, "")
	r := e.do("GET", path, nil)
	e.want(r, http.StatusOK, "")
	var visitor *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == chat.VisitorCookie {
			visitor = c
		}
	}
	if visitor == nil || !visitor.HttpOnly {
		t.Fatalf("an anonymous play got no visitor cookie: %v", r.header["Set-Cookie"])
	}
	e.want(e.do("GET", path, nil, cookie(visitor)), http.StatusOK, "")

	res := e.do("POST", "/api/reservations", map[string]any{"offer_id": e.creds.OfferIDs[2], "quantity": 1}, viewer)
	e.want(res, http.StatusCreated, "")
	resID := res.json(t)["reservation"].(map[string]any)["id"].(string)
	ship := map[string]string{"name": "Vic", "line1": "1 Rue", "city": "Lyon", "country": "FR"}
	e.want(e.do("POST", "/api/orders", map[string]any{"reservation_id": resID, "shipping": ship, "payment_token": "tok_visa"}, viewer), http.StatusCreated, "")

	if err := e.replays.Flush(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	st, err := (&analytics.Recorder{Store: e.db}).Stats(ctx, showID)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.Replay; r.Views != 4 || r.Viewers != 2 || r.Reservations != 1 || r.Orders != 1 || r.Units != 1 || r.Buyers != 1 || len(r.GMV) != 1 {
		t.Fatalf("replay = %+v, want 4 plays by 2 viewers and one sale", r)
	}
	if st.UniqueViewers != 0 {
		t.Fatalf("live viewers = %d: the replay's viewers were counted live", st.UniqueViewers)
	}
}
