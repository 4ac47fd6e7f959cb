package web

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// hostedShow is the {id} show for one of its hosts or brand admins, with the
// media server that carries it.
func (s *Server) hostedShow(r *http.Request) (*show.Show, error) {
	u, sh, err := s.callerShow(r)
	if err != nil {
		return nil, err
	}
	if !account.CanHost(u, sh.BrandID, sh.HostIDs) {
		return nil, apperr.Errorf(apperr.Forbidden, "only this show's hosts and brand admins can manage its broadcast")
	}
	if s.Media == nil {
		return nil, notImplemented("media (no media server configured)")
	}
	return sh, nil
}

// streamState tells a studio whether the show is on air and from which
// session, so a second device sees "live from another device" and the
// first one sees that it was taken over.
func (s *Server) streamState(w http.ResponseWriter, r *http.Request) error {
	sh, err := s.hostedShow(r)
	if err != nil {
		return err
	}
	st, err := s.Media.Publisher(r.Context(), sh.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "stream", st)
}

// takeOver ends the show's current publisher as if it had hung up, so the
// caller's device can publish in its place within the grace period; the
// stream key is left alone (an encoder set up with it keeps working).
func (s *Server) takeOver(w http.ResponseWriter, r *http.Request) error {
	sh, err := s.hostedShow(r)
	if err != nil {
		return err
	}
	// The device taking over goes on air: not for a show that is over.
	if err := show.CheckOnAir(sh); err != nil {
		return err
	}
	ended, err := s.Media.TakeOver(r.Context(), sh.ID)
	if err != nil {
		return err
	}
	st, err := s.Media.Publisher(r.Context(), sh.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"ended_session": ended, "stream": st})
	return nil
}

// PublishAsHost authorizes a WHIP publish that carries no stream key (the
// stream server's Host hook): the studio page of a signed-in host or brand
// admin of the show, by its session cookie. So the browser studio never
// needs the stream key, and going live or taking over from it never
// replaces the key an encoder is set up with. The WHIP routes skip the
// cross-origin check (encoders call them from anywhere with a key), so it is
// made here for the cookie.
func (s *Server) PublishAsHost(r *http.Request, showID uuid.UUID) (bool, error) {
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		return false, apperr.Errorf(apperr.Forbidden, "a studio on another site cannot publish with your session")
	}
	return s.Schedule.PublishAsHost(r.Context(), UserFrom(r.Context()), showID)
}
