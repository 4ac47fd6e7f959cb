package stream

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// A take-over ends the show's publisher as if it hung up: the show waits
// (no OnEnded), remembers which session was taken over, and a new publisher
// within the grace period keeps the viewers. A publisher without a key is
// let in only by the Host hook.
func TestTakeOver(t *testing.T) {
	e := newEnv(t)
	e.srv.EndGrace = 10 * time.Second
	ctx := context.Background()
	if _, status, _ := e.publish(""); status != http.StatusUnauthorized {
		t.Fatalf("WHIP without a key and no Host hook: %d, want 401", status)
	}
	if ended, err := e.srv.TakeOver(ctx, e.show); err != nil || ended != "" {
		t.Fatalf("TakeOver with nobody live = %q, %v", ended, err)
	}

	p, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("WHIP: %d %s", status, body)
	}
	id := p.location[strings.LastIndex(p.location, "/")+1:]
	if st, err := e.srv.Publisher(ctx, e.show); err != nil || !st.Live || st.Session != id || st.TakenOver != "" {
		t.Fatalf("Publisher = %+v, %v; want live from %s", st, err, id)
	}
	v, _, _ := e.watch("")
	waitFor(t, "video", 10*time.Second, func() bool { return v.video.count() > 30 })

	ended, err := e.srv.TakeOver(ctx, e.show)
	if err != nil || ended != id {
		t.Fatalf("TakeOver = %q, %v; want %s", ended, err, id)
	}
	p.close()
	st, err := e.srv.Publisher(ctx, e.show)
	if err != nil || st.Live || !st.Waiting || st.TakenOver != id {
		t.Fatalf("after the take-over: %+v, %v", st, err)
	}
	if e.del(p.location) != http.StatusNotFound {
		t.Error("the taken-over session still answers DELETE")
	}

	var hostAsked uuid.UUID
	e.srv.Host = func(r *http.Request, show uuid.UUID) (bool, error) { hostAsked = show; return true, nil }
	n := v.video.count()
	p2, status, body := e.publish("")
	if status != http.StatusCreated || hostAsked != e.show {
		t.Fatalf("WHIP by the Host hook: %d %s (asked about %s)", status, body, hostAsked)
	}
	waitFor(t, "the viewer fed by the new publisher", 10*time.Second, func() bool { return v.video.count() > n+30 })
	st, _ = e.srv.Publisher(ctx, e.show)
	if !st.Live || !strings.HasSuffix(p2.location, "/"+st.Session) || st.TakenOver != id {
		t.Fatalf("with the new publisher: %+v", st)
	}
	if e.live.Load() != 1 || e.ended.Load() != 0 {
		t.Errorf("OnLive %d, OnEnded %d; want 1, 0: a take-over does not end the show", e.live.Load(), e.ended.Load())
	}
}
