package web

import (
	"net/http"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Fair draws: a host opens a draw on an offer, viewers enter, the server
// draws the winners at close (checkout.Draws). Thin handlers: the rules are
// in checkout.

func (s *Server) draws() (*checkout.Draws, error) {
	if s.Draws == nil {
		return nil, apperr.Errorf(apperr.NotImplemented, "draws are not enabled on this server")
	}
	return s.Draws, nil
}

// showAndDraw reads the {id} and {draw} path values.
func showAndDraw(r *http.Request) (uuid.UUID, uuid.UUID, error) {
	showID, err := pathID(r, "show")
	if err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	drawID, err := uuid.Parse(r.PathValue("draw"))
	if err != nil {
		return uuid.Nil, uuid.Nil, apperr.Errorf(apperr.NotFound, "draw %q not found", r.PathValue("draw"))
	}
	return showID, drawID, nil
}

// listDraws lists a show's draws, newest first (winners, no entry lists).
func (s *Server) listDraws(w http.ResponseWriter, r *http.Request) error {
	d, err := s.draws()
	if err != nil {
		return err
	}
	id, err := pathID(r, "show")
	if err != nil {
		return err
	}
	list, err := d.List(r.Context(), UserFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "draws", list)
}

// openDraw opens a draw on one of the show's offers, for its hosts.
func (s *Server) openDraw(w http.ResponseWriter, r *http.Request) error {
	d, err := s.draws()
	if err != nil {
		return err
	}
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	var in checkout.OpenDrawRequest
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.OfferID == uuid.Nil {
		return apperr.Errorf(apperr.Invalid, "offer_id is required")
	}
	rec, err := d.Open(r.Context(), u, id, in)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, "draw", rec)
}

// drawCall reads what a handler on one draw needs: the draw service, the
// caller (required or not) and the {id} and {draw} path values.
func (s *Server) drawCall(r *http.Request, signedIn bool) (*checkout.Draws, *account.User, uuid.UUID, uuid.UUID, error) {
	d, err := s.draws()
	if err != nil {
		return nil, nil, uuid.Nil, uuid.Nil, err
	}
	u := UserFrom(r.Context())
	if signedIn {
		if u, err = requireUser(r); err != nil {
			return nil, nil, uuid.Nil, uuid.Nil, err
		}
	}
	showID, drawID, err := showAndDraw(r)
	return d, u, showID, drawID, err
}

// getDraw is the published record: once drawn, with the seed and the whole
// ordered entry list, which `pavilion verify-draw` checks.
func (s *Server) getDraw(w http.ResponseWriter, r *http.Request) error {
	d, u, showID, drawID, err := s.drawCall(r, false)
	if err != nil {
		return err
	}
	rec, err := d.Record(r.Context(), u, showID, drawID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "draw", rec)
}

// closeDraw closes a draw now and draws it, for the show's hosts.
func (s *Server) closeDraw(w http.ResponseWriter, r *http.Request) error {
	d, u, showID, drawID, err := s.drawCall(r, true)
	if err != nil {
		return err
	}
	rec, err := d.Close(r.Context(), u, showID, drawID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "draw", rec)
}

// enterDraw enters the caller (once: a repeat answers with the same entry).
func (s *Server) enterDraw(w http.ResponseWriter, r *http.Request) error {
	d, u, showID, drawID, err := s.drawCall(r, true)
	if err != nil {
		return err
	}
	e, err := d.Enter(r.Context(), u, showID, drawID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "entry", e)
}

// myEntry is the caller's entry: its ID (to find in the published list),
// and once drawn its rank and hold.
func (s *Server) myEntry(w http.ResponseWriter, r *http.Request) error {
	d, u, showID, drawID, err := s.drawCall(r, true)
	if err != nil {
		return err
	}
	e, err := d.Entry(r.Context(), u, showID, drawID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "entry", e)
}
