package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/show"
)

// endWithRecording takes the show through live to ended, with a finished
// recording of 60 s that began at start, whose file holds content.
func endWithRecording(t *testing.T, e *env, showID uuid.UUID, start time.Time, content []byte) *replay.Recording {
	t.Helper()
	rec := addRecording(t, e, showID, replay.RoleHost, start, 60000, content)
	for _, to := range []show.State{show.Live, show.Ended} {
		if _, err := e.db.Transition(context.Background(), showID, to, time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
	}
	e.shop.ForgetShow(showID)
	return rec
}

// addRecording lists a finished recording of the show's role that began at
// start and lasts ms, whose file holds content.
func addRecording(t *testing.T, e *env, showID uuid.UUID, role string, start time.Time, ms int64, content []byte) *replay.Recording {
	t.Helper()
	ctx := context.Background()
	rec := &replay.Recording{ID: uuid.New(), ShowID: showID, Path: showID.String() + "/" + uuid.NewString() + ".webm", MediaType: "video/webm",
		Role: role, StartedAt: start}
	p, err := e.recorder.Path(rec.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.db.AddRecording(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := e.db.FinishRecording(ctx, rec.ID, start.Add(time.Duration(ms)*time.Millisecond), ms, int64(len(content))); err != nil {
		t.Fatal(err)
	}
	return rec
}

// GET /api/shows/{id}/replay after the end: the media URL, the length, the
// pins and drops at their offsets; the media served in ranges; the settings
// and the deletion for the brand's admins only; bad input changes nothing.
func TestReplayRoutes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	showID := uuid.MustParse(e.creds.ShowID)
	path := "/api/shows/" + e.creds.ShowID + "/replay"
	e.want(e.do("GET", path, nil), http.StatusNotFound, "not_found") // not ended yet

	start := time.Now().UTC().Truncate(time.Millisecond).Add(-2 * time.Hour)
	offer := uuid.MustParse(e.creds.OfferIDs[0])
	for _, m := range []replay.Mark{
		{ShowID: showID, At: start.Add(-time.Minute), Type: replay.MarkPin, OfferID: offer}, // before the camera: at 0
		{ShowID: showID, At: start.Add(1500 * time.Millisecond), Type: replay.MarkDrop, OfferID: offer},
		{ShowID: showID, At: start.Add(30 * time.Second), Type: replay.MarkUnpin},
		{ShowID: showID, At: start.Add(2 * time.Minute), Type: replay.MarkPin, OfferID: offer}, // after the recording: left out
	} {
		if err := e.db.AddMark(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	content := bytes.Repeat([]byte("0123456789"), 1000)
	endWithRecording(t, e, showID, start, content)

	r := e.do("GET", path, nil)
	e.want(r, http.StatusOK, "")
	v := r.json(t)
	if v["url"] != path+"/media" || v["media_type"] != "video/webm" || v["duration_ms"] != 60000.0 || v["on_sale"] != false || v["replay_sales_until"] != nil {
		t.Fatalf("replay %v", v)
	}
	tl := v["timeline"].([]any)
	want := []struct {
		at    float64
		typ   string
		offer any
	}{{0, "pin", offer.String()}, {1500, "drop", offer.String()}, {30000, "unpin", nil}}
	if len(tl) != len(want) {
		t.Fatalf("timeline %v", tl)
	}
	for i, w := range want {
		m := tl[i].(map[string]any)
		if m["at_ms"] != w.at || m["type"] != w.typ || m["offer_id"] != w.offer {
			t.Errorf("timeline[%d] = %v, want %+v", i, m, w)
		}
	}

	// The media, in ranges.
	r = e.do("GET", path+"/media", nil, header("Range", "bytes=100-199"))
	if r.status != http.StatusPartialContent || !bytes.Equal(r.body, content[100:200]) || r.header.Get("Content-Type") != "video/webm" {
		t.Fatalf("range: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
	r = e.do("GET", path+"/media", nil)
	if r.status != http.StatusOK || !bytes.Equal(r.body, content) {
		t.Fatalf("whole file: %d, %d bytes", r.status, len(r.body))
	}

	// A co-host: no guest recorded, none in the replay; then the guest's
	// recording (on air from 10 s to 40 s) and the stage's marks.
	if v["guest"] != nil {
		t.Fatalf("guest %v in a replay with no guest", v["guest"])
	}
	e.want(e.do("GET", path+"/guest/media", nil), http.StatusNotFound, "not_found")
	for _, m := range []replay.Mark{
		{ShowID: showID, At: start.Add(10 * time.Second), Type: replay.MarkGuestJoined, Layout: "side-by-side"},
		{ShowID: showID, At: start.Add(20 * time.Second), Type: replay.MarkLayout, Layout: "pip"},
		{ShowID: showID, At: start.Add(40 * time.Second), Type: replay.MarkGuestLeft, Layout: "pip"},
	} {
		if err := e.db.AddMark(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	guestContent := bytes.Repeat([]byte("guest"), 500)
	addRecording(t, e, showID, replay.RoleGuest, start.Add(10*time.Second), 30000, guestContent)
	v = e.do("GET", path, nil).json(t)
	g, _ := v["guest"].(map[string]any)
	if g["url"] != path+"/guest/media" || g["media_type"] != "video/webm" || g["duration_ms"] != 30000.0 || g["offset_ms"] != 10000.0 {
		t.Fatalf("guest %v", v["guest"])
	}
	if v["url"] != path+"/media" || v["duration_ms"] != 60000.0 {
		t.Fatalf("the host's media changed with a guest: %v", v)
	}
	var stage []string
	for _, m := range v["timeline"].([]any) {
		m := m.(map[string]any)
		if l, ok := m["layout"]; ok {
			stage = append(stage, fmt.Sprint(m["at_ms"], " ", m["type"], " ", l))
		}
	}
	if want := []string{"10000 guest_joined side-by-side", "20000 layout pip", "40000 guest_left pip"}; !slices.Equal(stage, want) {
		t.Errorf("the stage's marks %v, want %v", stage, want)
	}
	r = e.do("GET", path+"/guest/media", nil, header("Range", "bytes=5-9"))
	if r.status != http.StatusPartialContent || string(r.body) != "guest" || r.header.Get("Content-Type") != "video/webm" {
		t.Fatalf("guest range: %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}

	// Settings: the brand's admins only; the rules hold.
	settings := path + "/settings"
	e.want(e.do("GET", settings, nil), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("GET", settings, nil, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("PUT", settings, map[string]any{"record": true}, bearer(e.rivalTk)), http.StatusForbidden, "forbidden")
	admin := bearer(e.creds.BrandAdminToken)
	e.want(e.do("PUT", settings, map[string]any{"record": false}, admin), http.StatusConflict, "conflict") // decided when it went live
	e.want(e.do("PUT", settings, map[string]any{"replay_sales_until": time.Now().Add(-time.Minute)}, admin), http.StatusBadRequest, "invalid")
	e.want(e.do("PUT", settings, map[string]any{"replay_sales_until": time.Now().Add(3 * 366 * 24 * time.Hour)}, admin), http.StatusBadRequest, "invalid")
	e.want(e.do("PUT", settings, map[string]any{"replay_sales_until": "soon"}, admin), http.StatusBadRequest, "invalid")
	e.want(e.do("PUT", settings, map[string]any{"colour": "red"}, admin), http.StatusBadRequest, "invalid")
	r = e.do("GET", settings, nil, admin)
	e.want(r, http.StatusOK, "")
	if got := r.json(t); got["record"] != true || got["replay_sales_until"] != nil {
		t.Fatalf("after refused changes: %v", got)
	}

	// Shop the replay: closed with the show, open while the brand keeps it so.
	reserve := func() resp {
		return e.do("POST", "/api/reservations", map[string]any{"offer_id": offer, "quantity": 1},
			bearer(e.creds.ViewerToken), header("Idempotency-Key", uuid.NewString()))
	}
	e.want(reserve(), http.StatusConflict, "conflict")
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	e.want(e.do("PUT", settings, map[string]any{"replay_sales_until": until}, admin), http.StatusOK, "")
	r = e.do("GET", path, nil)
	if v := r.json(t); v["on_sale"] != true || v["replay_sales_until"] != until.Format(time.RFC3339) {
		t.Fatalf("replay on sale: %v", v)
	}
	e.want(reserve(), http.StatusCreated, "")
	e.want(e.do("PUT", settings, map[string]any{"replay_sales_until": nil}, admin), http.StatusOK, "")
	e.want(reserve(), http.StatusConflict, "conflict")

	// Delete: the brand's admins only; then there is no replay.
	e.want(e.do("DELETE", path, nil, bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("DELETE", path, nil, admin), http.StatusNoContent, "")
	e.want(e.do("GET", path, nil), http.StatusNotFound, "not_found")
	e.want(e.do("GET", path+"/media", nil), http.StatusNotFound, "not_found")
	if entries, _ := os.ReadDir(filepath.Join(e.recorder.Dir, e.creds.ShowID)); len(entries) != 0 {
		t.Errorf("files left after delete: %v", entries)
	}
}

// A members-only show keeps its replay members-only: media included.
func TestMembersOnlyReplay(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/api/shows", map[string]any{
		"brand_id": e.creds.BrandID, "title": "Members' preview", "visibility": "members",
		"starts_at": time.Now().Add(72 * time.Hour), "ends_at": time.Now().Add(73 * time.Hour),
	}, bearer(e.creds.BrandAdminToken))
	e.want(r, http.StatusCreated, "")
	id := uuid.MustParse(r.json(t)["show"].(map[string]any)["id"].(string))
	start := time.Now().UTC().Add(-time.Hour)
	addRecording(t, e, id, replay.RoleGuest, start, 60000, []byte("the guest's media"))
	endWithRecording(t, e, id, start, []byte("members' media"))
	path := "/api/shows/" + id.String() + "/replay"
	for _, p := range []string{path, path + "/media", path + "/guest/media"} {
		e.want(e.do("GET", p, nil), http.StatusNotFound, "not_found")
		e.want(e.do("GET", p, nil, bearer(e.creds.ViewerToken)), http.StatusNotFound, "not_found")
	}
	e.want(e.do("GET", path, nil, bearer(e.creds.MemberToken)), http.StatusOK, "")
	r = e.do("GET", path+"/media", nil, bearer(e.creds.MemberToken))
	if b, _ := io.ReadAll(bytes.NewReader(r.body)); r.status != http.StatusOK || string(b) != "members' media" {
		t.Fatalf("member gets %d %q", r.status, b)
	}
	r = e.do("GET", path+"/guest/media", nil, bearer(e.creds.MemberToken))
	if r.status != http.StatusOK || string(r.body) != "the guest's media" {
		t.Fatalf("member gets the guest's %d %q", r.status, r.body)
	}
}
