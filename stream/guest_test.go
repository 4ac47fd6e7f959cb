package stream

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"
)

const guestKey = "guest-key"

// countingRecorder counts the feeds asked to be recorded, and records none.
type countingRecorder struct {
	mu    sync.Mutex
	shows []string // "<show> <role>"
}

func (c *countingRecorder) Record(show uuid.UUID, role string) (Recording, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.shows = append(c.shows, show.String()+" "+role)
	return nil, nil
}

func (c *countingRecorder) recorded() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.shows...)
}

// TestGuestPublishesBesideHost: a show's guest publishes with its own key
// (WHIP ?guest=1) beside the host, and viewers open the guest feed with
// WHEP ?guest=1 while the host's feed goes on. Keys do not cross: the
// guest key publishes no host feed, the stream key no guest feed. The
// guest feed is recorded as the show's guest, and never turns the show
// live or ends it (OnGuest hears of it); a guest's DELETE ends the guest
// feed at once, and EndGuest (the host removed the guest) ends it and its
// viewers.
func TestGuestPublishesBesideHost(t *testing.T) {
	var guestLive, guestGone atomic.Int64
	rec := &countingRecorder{}
	e := newEnv(t, func(s *Server) {
		s.Guests = func(_ context.Context, id uuid.UUID, key string) (bool, error) { return key == guestKey, nil }
		s.OnGuest = func(id uuid.UUID, live bool) {
			if live {
				guestLive.Add(1)
			} else {
				guestGone.Add(1)
			}
		}
		s.Recorder = rec
		s.EndGrace = 30 * time.Second // a guest's DELETE must not wait for it
	})
	host, status, body := e.publish(testKey)
	if status != http.StatusCreated {
		t.Fatalf("host WHIP: %d %s", status, body)
	}
	defer host.close()
	// Keys do not cross.
	if _, status, _ := e.publishTo("?guest=1", testKey); status != http.StatusUnauthorized {
		t.Fatalf("the stream key on ?guest=1: %d, want 401", status)
	}
	if _, status, _ := e.publishTo("?guest=1", ""); status != http.StatusUnauthorized {
		t.Fatalf("no key on ?guest=1: %d, want 401", status)
	}
	if _, status, _ := e.publish(guestKey); status != http.StatusUnauthorized {
		t.Fatalf("the guest key as a stream key: %d, want 401", status)
	}
	guest, status, body := e.publishTo("?guest=1", guestKey)
	if status != http.StatusCreated {
		t.Fatalf("guest WHIP: %d %s", status, body)
	}
	defer guest.close()
	if !strings.HasPrefix(guest.location, "/whip/"+GuestFeed(e.show).String()+"/") {
		t.Fatalf("guest Location %q", guest.location)
	}
	if _, status, _ := e.publishTo("?guest=1", guestKey); status != http.StatusConflict {
		t.Fatalf("a second guest session: %d, want 409", status)
	}
	waitFor(t, "OnGuest live", 5*time.Second, func() bool { return guestLive.Load() == 1 })

	hostView, status, body := e.watch("")
	if status != http.StatusCreated {
		t.Fatalf("WHEP host: %d %s", status, body)
	}
	guestView, status, body := e.watch("?guest=1")
	if status != http.StatusCreated {
		t.Fatalf("WHEP guest: %d %s", status, body)
	}
	waitFor(t, "video and audio of both", 15*time.Second, func() bool {
		return hostView.video.count() > 30 && guestView.video.count() > 30 && guestView.audio.count() > 10
	})
	if e.live.Load() != 1 {
		t.Fatalf("OnLive %d times, want once (the host's)", e.live.Load())
	}
	want := []string{e.show.String() + " host", e.show.String() + " guest"}
	if got := rec.recorded(); !slices.Equal(got, want) {
		t.Fatalf("recorded %v, want %v (the guest under the show's id)", got, want)
	}

	// The guest leaves: its feed ends at once, not after the grace period,
	// and the host's goes on.
	if st := e.del(guest.location); st != http.StatusOK {
		t.Fatalf("DELETE guest: %d", st)
	}
	select {
	case <-guestView.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the guest's viewer outlived the guest's DELETE")
	}
	waitFor(t, "OnGuest gone", 5*time.Second, func() bool { return guestGone.Load() == 1 })
	n := hostView.video.count()
	waitFor(t, "the host's video going on", 10*time.Second, func() bool { return hostView.video.count() > n+30 })
	if e.ended.Load() != 0 {
		t.Fatal("the guest leaving ended the show")
	}

	// Back, then removed by the host: EndGuest ends feed and viewers.
	guest2, status, body := e.publishTo("?guest=1", guestKey)
	if status != http.StatusCreated {
		t.Fatalf("guest WHIP again: %d %s", status, body)
	}
	defer guest2.close()
	again, status, body := e.watchLive("?guest=1")
	if status != http.StatusCreated {
		t.Fatalf("WHEP guest again: %d %s", status, body)
	}
	waitFor(t, "the guest's video again", 15*time.Second, func() bool { return again.video.count() > 10 })
	if !e.srv.EndGuest(e.show) {
		t.Fatal("EndGuest found no guest feed")
	}
	select {
	case <-again.ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the guest's viewer outlived EndGuest")
	}
	waitFor(t, "the guest's WHIP session closed", 10*time.Second, func() bool {
		st := guest2.pc.ConnectionState()
		return st == webrtc.PeerConnectionStateClosed || st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateDisconnected
	})
	if e.srv.EndGuest(e.show) {
		t.Fatal("EndGuest found a guest feed twice")
	}
	if _, status, _ := e.watch("?guest=1"); status != http.StatusNotFound {
		t.Fatalf("WHEP guest after removal: %d, want 404", status)
	}
	if e.ended.Load() != 0 || guestGone.Load() != 2 {
		t.Fatalf("OnEnded %d, OnGuest gone %d; want 0 and 2", e.ended.Load(), guestGone.Load())
	}
}
