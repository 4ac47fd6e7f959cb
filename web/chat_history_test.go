package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
)

// GET /api/shows/{id}/chat pages through the archived chat, newest first,
// without the lines moderators deleted; members-only shows stay invisible.
func TestChatHistoryRoute(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	show := uuid.MustParse(e.creds.ShowID)
	author := chat.Author{ID: uuid.MustParse(mustUserID(t, e, e.creds.MemberEmail)), Name: "Mei Member"}
	t0 := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
	var lines []chat.Line
	for i := range 5 {
		lines = append(lines, chat.Line{ShowID: show, Epoch: "E", Seq: uint64(i + 1), ID: uuid.New(), Author: author,
			Text: fmt.Sprintf("line %d", i+1), At: t0.Add(time.Duration(i) * time.Second)})
	}
	if err := e.db.KeepLines(ctx, lines); err != nil {
		t.Fatal(err)
	}
	if err := e.db.DeleteLine(ctx, chat.Deletion{ShowID: show, Epoch: "E", Seq: 4, By: author.ID, At: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	path := "/api/shows/" + e.creds.ShowID + "/chat"
	texts := func(r resp) []string {
		var out []string
		for _, l := range r.json(t)["lines"].([]any) {
			out = append(out, l.(map[string]any)["text"].(string))
		}
		return out
	}

	// Anonymous readers see a public show's chat.
	r := e.do("GET", path, nil)
	e.want(r, http.StatusOK, "")
	if got := texts(r); !slices.Equal(got, []string{"line 5", "line 3", "line 2", "line 1"}) {
		t.Fatalf("lines = %v", got)
	}
	if first := r.json(t)["lines"].([]any)[0].(map[string]any); first["epoch"] != "E" || first["seq"] != 5.0 ||
		first["id"] != lines[4].ID.String() || first["user"].(map[string]any)["name"] != "Mei Member" {
		t.Fatalf("line = %v", first)
	}
	// Pages of two, each from the last's next_cursor.
	var all []string
	next := ""
	for range 5 {
		r = e.do("GET", path+"?limit=2"+next, nil)
		e.want(r, http.StatusOK, "")
		all = append(all, texts(r)...)
		c, ok := r.json(t)["next_cursor"].(string)
		if !ok {
			break
		}
		next = "&before=" + c
	}
	if !slices.Equal(all, []string{"line 5", "line 3", "line 2", "line 1"}) {
		t.Fatalf("paged = %v", all)
	}
	// A time: the lines sent before it.
	r = e.do("GET", path+"?before="+url.QueryEscape(t0.Add(1500*time.Millisecond).Format(time.RFC3339Nano)), nil)
	e.want(r, http.StatusOK, "")
	if got := texts(r); !slices.Equal(got, []string{"line 2", "line 1"}) {
		t.Fatalf("before a time = %v", got)
	}
	e.want(e.do("GET", path+"?before=yesterday", nil), http.StatusBadRequest, "invalid")
	e.want(e.do("GET", path+"?limit=0", nil), http.StatusBadRequest, "invalid")
	e.want(e.do("GET", path+"?limit=many", nil), http.StatusBadRequest, "invalid")
	e.want(e.do("GET", "/api/shows/"+uuid.NewString()+"/chat", nil), http.StatusNotFound, "not_found")

	// A members-only show: 404 to viewers, its chat to members.
	r = e.do("POST", "/api/shows", map[string]any{
		"brand_id": e.creds.BrandID, "title": "Members' preview", "visibility": "members",
		"starts_at": time.Now().Add(72 * time.Hour), "ends_at": time.Now().Add(73 * time.Hour),
	}, bearer(e.creds.BrandAdminToken))
	e.want(r, http.StatusCreated, "")
	members := "/api/shows/" + r.json(t)["show"].(map[string]any)["id"].(string) + "/chat"
	e.want(e.do("GET", members, nil), http.StatusNotFound, "not_found")
	e.want(e.do("GET", members, nil, bearer(e.creds.ViewerToken)), http.StatusNotFound, "not_found")
	r = e.do("GET", members, nil, bearer(e.creds.MemberToken))
	e.want(r, http.StatusOK, "")
	if got := r.json(t)["lines"].([]any); len(got) != 0 {
		t.Fatalf("a new show's chat = %v", got)
	}
}
