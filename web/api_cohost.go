package web

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/cohost"
)

// Co-hosts (internal/cohost): a show's hosts invite a guest, list and
// remove guests and pick the stage layout; the guest redeems the invite
// for a key its studio page publishes with (WHIP ?guest=1); anyone who may
// see the show reads its stage.

// guestView is a guest as the host's list shows it.
type guestView struct {
	cohost.Guest
	Status string `json:"status"`
}

func viewGuest(g *cohost.Guest, now time.Time) guestView {
	return guestView{Guest: *g, Status: g.Status(now)}
}

// cohosts is the co-host service and the {id} show of every co-host
// route; 501 while no co-host service is wired.
func (s *Server) cohosts(r *http.Request) (*cohost.Service, uuid.UUID, error) {
	if s.Cohosts == nil {
		return nil, uuid.Nil, notImplemented("co-hosts")
	}
	id, err := pathID(r, "show")
	return s.Cohosts, id, err
}

// inviteGuest serves POST /api/shows/{id}/guests {"name"}: the invite
// token, once, and the link to the guest's studio page that carries it (in
// the fragment, which browsers never send to a server or a log).
func (s *Server) inviteGuest(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.cohosts(r)
	if err != nil {
		return err
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	g, invite, err := svc.Invite(r.Context(), u, id, body.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{
		"guest":      viewGuest(g, time.Now()),
		"invite":     invite,
		"invite_url": s.baseURL(r) + "/studio/" + id.String() + "/guest#invite=" + invite,
	})
	return nil
}

// listGuests serves GET /api/shows/{id}/guests for the show's hosts.
func (s *Server) listGuests(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.cohosts(r)
	if err != nil {
		return err
	}
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	list, err := svc.Guests(r.Context(), u, id)
	if err != nil {
		return err
	}
	now := time.Now()
	out := make([]guestView, len(list))
	for i := range list {
		out[i] = viewGuest(&list[i], now)
	}
	return reply(w, http.StatusOK, "guests", out)
}

// removeGuest serves DELETE /api/shows/{id}/guests/{guest}: the invite is
// withdrawn or the guest taken off air at once, on every node.
func (s *Server) removeGuest(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.cohosts(r)
	if err != nil {
		return err
	}
	gid, err := uuid.Parse(r.PathValue("guest"))
	if err != nil {
		return apperr.Errorf(apperr.NotFound, "guest %q not found", r.PathValue("guest"))
	}
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	g, err := svc.Remove(r.Context(), u, id, gid)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "guest", viewGuest(g, time.Now()))
}

// redeemInvite serves POST /api/shows/{id}/guests/redeem {"invite"}: the
// guest's key, once. No account is needed: the invite is the capability.
func (s *Server) redeemInvite(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.cohosts(r)
	if err != nil {
		return err
	}
	var body struct {
		Invite string `json:"invite"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	g, key, err := svc.Redeem(r.Context(), id, body.Invite)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"guest": viewGuest(g, time.Now()), "guest_key": key})
	return nil
}

// stage serves GET /api/shows/{id}/stage for whoever may see the show, and
// PUT {"layout"} for its hosts (every viewer's player switches).
func (s *Server) stage(w http.ResponseWriter, r *http.Request) error {
	svc, id, err := s.cohosts(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodGet {
		st, err := svc.StageOf(r.Context(), UserFrom(r.Context()), id)
		if err != nil {
			return err
		}
		return reply(w, http.StatusOK, "stage", st)
	}
	var body struct {
		Layout string `json:"layout"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	st, err := svc.SetLayout(r.Context(), u, id, body.Layout)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "stage", st)
}
