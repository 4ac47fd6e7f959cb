package web

import (
	"net/http"
	"time"

	"github.com/pavilion-live/pavilion/internal/brand"
)

// followState is a brand's follow button: whether the caller follows it and
// how many do.
type followState struct {
	Following bool `json:"following"`
	Followers int  `json:"followers"`
}

// follow reads (anyone), sets or clears (signed in) the caller's follow of
// the {id} brand (an id or a slug), answering the button's new state.
func (s *Server) follow(op string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if s.Follows == nil {
			return notImplemented("follows (no follow store configured)")
		}
		b, err := s.brandFor(r)
		if err != nil {
			return err
		}
		ctx := r.Context()
		u := UserFrom(ctx)
		if op != "get" {
			if u, err = requireUser(r); err != nil {
				return err
			}
			if op == "put" {
				err = s.Follows.Follow(ctx, b.ID, u.ID, time.Now().UTC().Truncate(time.Microsecond))
			} else {
				err = s.Follows.Unfollow(ctx, b.ID, u.ID)
			}
			if err != nil {
				return err
			}
		}
		var st followState
		if u != nil {
			if st.Following, err = s.Follows.Following(ctx, b.ID, u.ID); err != nil {
				return err
			}
		}
		if st.Followers, err = s.Follows.Followers(ctx, b.ID); err != nil {
			return err
		}
		return reply(w, http.StatusOK, "follow", st)
	}
}

// myFollows lists the brands the caller follows.
func (s *Server) myFollows(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	if s.Follows == nil {
		return notImplemented("follows (no follow store configured)")
	}
	list, err := s.Follows.Followed(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "brands", nonNil[brand.Brand](list))
}
