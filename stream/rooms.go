package stream

import (
	"maps"
	"slices"
	"sync"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// rooms is the SFU's fan-out state: the feed of every show this node
// serves (feed.go: its sources and viewers), every session by id, and the
// goroutines Close waits for. One lock guards the maps; each feed has its
// own for what is inside it (take rooms.mu first when both are held).
type rooms struct {
	mu       sync.Mutex
	closed   bool
	feeds    map[uuid.UUID]*feed
	sessions map[string]session // by session id
	wg       sync.WaitGroup
}

// session is a publisher or a viewer: what a session URL reaches.
type session interface {
	showID() uuid.UUID
	end(reason string)
	peer() *webrtc.PeerConnection
}

func (p *publisher) peer() *webrtc.PeerConnection { return p.pc }
func (v *viewer) peer() *webrtc.PeerConnection    { return v.pc }

func (r *rooms) open() {
	r.mu.Lock()
	r.feeds = map[uuid.UUID]*feed{}
	r.sessions = map[string]session{}
	r.mu.Unlock()
}

// enter adds one to the goroutines Close waits for, unless closed.
func (r *rooms) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.wg.Add(1)
	return true
}

// feedOf is the show's feed on this node, nil when it has none.
func (r *rooms) feedOf(show uuid.UUID) *feed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.feeds[show]
}

// list is every feed on this node.
func (r *rooms) list() []*feed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Collect(maps.Values(r.feeds))
}

// sessionAt finds a session of the show: a publisher's, or a viewer's.
func (r *rooms) sessionAt(show uuid.UUID, id string, whip bool) (session, error) {
	r.mu.Lock()
	ss := r.sessions[id]
	r.mu.Unlock()
	if ss == nil || ss.showID() != show {
		return nil, apperr.Errorf(apperr.NotFound, "no such session")
	}
	if _, isPub := ss.(*publisher); isPub != whip {
		return nil, apperr.Errorf(apperr.NotFound, "no such session")
	}
	return ss, nil
}

// forget removes an ended session and reports whether the server is closed.
func (r *rooms) forget(id string) (closed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sessions, id)
	return r.closed
}

// drop removes an ended feed (unless another has replaced it) and reports
// whether the server is closed.
func (r *rooms) drop(f *feed) (closed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.feeds[f.show] == f {
		delete(r.feeds, f.show)
	}
	return r.closed
}

// claim makes p the show's publisher: a new feed (made by newFeed), or one
// in its grace period. fresh reports a new feed (the show goes live).
func (r *rooms) claim(show uuid.UUID, p *publisher, newFeed func() *feed) (fresh bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, apperr.Errorf(apperr.Unavailable, "server is shutting down")
	}
	f := r.feeds[show]
	if f != nil {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.ended {
			f = nil
		} else if f.pub != nil {
			return false, apperr.Errorf(apperr.Conflict, "this show already has a live publisher; DELETE its session first, or take the show over")
		}
	}
	if f == nil {
		f = newFeed()
		r.feeds[show] = f
		fresh = true
		f.mu.Lock()
		defer f.mu.Unlock()
	}
	if f.grace != nil {
		f.grace.Stop()
		f.grace = nil
	}
	f.pub = p
	p.feed = f
	return fresh, nil
}
