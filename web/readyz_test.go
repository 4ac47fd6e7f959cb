package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"github.com/pavilion-live/pavilion/web"
)

// TestReadyzReportsSchema: /readyz says which schema version the database
// has and which the binary expects; a schema behind (or unreadable) makes
// the node not ready, one ahead (a newer binary migrated it) does not.
func TestReadyzReportsSchema(t *testing.T) {
	var (
		mu  sync.Mutex
		now web.Schema
		bad error
	)
	set := func(sc web.Schema, err error) {
		mu.Lock()
		now, bad = sc, err
		mu.Unlock()
	}
	srv := &web.Server{Logger: slog.New(slog.DiscardHandler), Schema: func(context.Context) (web.Schema, error) {
		mu.Lock()
		defer mu.Unlock()
		return now, bad
	}}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	for _, c := range []struct {
		name   string
		sc     web.Schema
		err    error
		status int
		want   map[string]any
	}{
		{"current", web.Schema{Version: 9, Expected: 9}, nil, 200,
			map[string]any{"status": "ok", "version": 9.0, "expected": 9.0, "pending": []any{}}},
		{"behind", web.Schema{Version: 8, Expected: 9, Pending: []string{"00009_chat_lines.sql"}}, nil, 503,
			map[string]any{"status": "behind", "version": 8.0, "expected": 9.0, "pending": []any{"00009_chat_lines.sql"}}},
		{"ahead", web.Schema{Version: 10, Expected: 9}, nil, 200,
			map[string]any{"status": "ahead", "version": 10.0, "expected": 9.0, "pending": []any{}}},
		{"unreadable", web.Schema{}, errors.New("connection refused"), 503, map[string]any{"status": "failing"}},
	} {
		set(c.sc, c.err)
		res, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		err = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if err != nil || res.StatusCode != c.status || !reflect.DeepEqual(body["schema"], c.want) {
			t.Errorf("%s: %d %v (%v); want %d with schema %v", c.name, res.StatusCode, body, err, c.status, c.want)
		}
	}
}
