package stream

import (
	"context"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Take-over: a host whose broadcast runs from one device (a studio tab, a
// laptop, an encoder) moves it to another without touching the stream key,
// which an encoder setup depends on. The new device asks for the current
// publisher to be ended (as if it had sent DELETE: the show's grace period
// starts and viewers stay), then publishes within the grace period and the
// viewers carry on with the new source. The ended session is remembered on
// the feed, so the device that lost the show can tell it was taken over
// rather than reconnect and take it back.

// PublisherState is what a studio needs to know about a show's broadcast.
type PublisherState struct {
	// Live: a publisher is connected, on this node or on another node of the cluster.
	Live bool `json:"live"`
	// Session is the connected publisher's WHIP session id, when it publishes
	// on this node.
	Session string `json:"session,omitempty"`
	// Elsewhere: the show is published on another node of the cluster.
	Elsewhere bool `json:"elsewhere,omitempty"`
	// Waiting: the publisher left and the show waits for one (the grace period).
	Waiting bool `json:"waiting,omitempty"`
	// TakenOver is the session a take-over ended last, while the show stays on air.
	TakenOver string `json:"taken_over,omitempty"`
}

// Publisher reports the state of the show's broadcast.
func (s *Server) Publisher(ctx context.Context, show uuid.UUID) (PublisherState, error) {
	if err := s.init(); err != nil {
		return PublisherState{}, err
	}
	var st PublisherState
	f := s.feedOf(show)
	if f != nil && !f.edge {
		f.mu.Lock()
		if !f.ended {
			if f.pub != nil {
				st.Live, st.Session = true, f.pub.id
			} else {
				st.Waiting = true
			}
			st.TakenOver = f.takenOver
		}
		f.mu.Unlock()
		return st, nil
	}
	if s.clustered() {
		origin, ok, err := s.dir.Origin(ctx, show)
		if err != nil {
			return st, err
		}
		st.Live, st.Elsewhere = ok && origin.ID != s.node.ID, ok && origin.ID != s.node.ID
	}
	return st, nil
}

// TakeOver ends the show's connected publisher as if it had sent DELETE
// (the grace period starts, viewers stay) and reports the session it ended,
// "" when none was connected. A show published on another node of the
// cluster is a Conflict: its publisher can only be ended there.
func (s *Server) TakeOver(ctx context.Context, show uuid.UUID) (string, error) {
	if err := s.init(); err != nil {
		return "", err
	}
	f := s.feedOf(show)
	if f == nil || f.edge {
		if st, err := s.Publisher(ctx, show); err != nil {
			return "", err
		} else if st.Elsewhere {
			return "", apperr.Errorf(apperr.Conflict, "this show is published on another node of the cluster; take it over there")
		}
		return "", nil
	}
	f.mu.Lock()
	p := f.pub
	if p != nil && !f.ended {
		f.takenOver = p.id
	}
	f.mu.Unlock()
	if p == nil {
		return "", nil
	}
	p.end("taken over")
	return p.id, nil
}
