package web

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/replay"
)

// replayOf serves GET /api/shows/{id}/replay: the replay's media URL, length
// and product timeline, for whoever may see the show.
func (s *Server) replayOf(w http.ResponseWriter, r *http.Request) error {
	if s.Replays == nil {
		return notImplemented("replays (no recordings configured)")
	}
	id, err := pathID(r, "show")
	if err != nil {
		return err
	}
	u := UserFrom(r.Context())
	v, err := s.Replays.Replay(r.Context(), u, id)
	if err != nil {
		return err
	}
	// The replay page asks for this once per play: that is a replay view,
	// counted apart from the live viewers (the media's range requests are not).
	if s.ReplayViews != nil {
		viewer, cookie := chat.ViewerKey(r, u, s.SecureCookies)
		if cookie != nil {
			http.SetCookie(w, cookie)
		}
		s.ReplayViews.ReplayView(id, viewer)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// ReplayViews counts plays of replays (an *analytics.Recorder).
type ReplayViews interface {
	ReplayView(show uuid.UUID, viewer string)
}

// replayMedia serves the replay's file with range requests (seeking).
func (s *Server) replayMedia(w http.ResponseWriter, r *http.Request) error {
	return s.serveReplay(w, r, replay.RoleHost)
}

// replayGuestMedia serves the guest's recording of the replay, alike.
func (s *Server) replayGuestMedia(w http.ResponseWriter, r *http.Request) error {
	return s.serveReplay(w, r, replay.RoleGuest)
}

func (s *Server) serveReplay(w http.ResponseWriter, r *http.Request, role string) error {
	if s.Replays == nil {
		return notImplemented("replays (no recordings configured)")
	}
	id, err := pathID(r, "show")
	if err != nil {
		return err
	}
	f, rec, mod, err := s.Replays.Media(r.Context(), UserFrom(r.Context()), id, role)
	if err != nil {
		return err
	}
	defer f.Close()
	w.Header().Set("Content-Type", rec.MediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// A members-only replay must not sit in a shared cache.
	w.Header().Set("Cache-Control", "private, max-age=3600")
	http.ServeContent(w, r, "", mod, f)
	return nil
}

// replaySettingsBody is PUT /api/shows/{id}/replay/settings.
type replaySettingsBody struct {
	Record     *bool      `json:"record"`
	SalesUntil *time.Time `json:"replay_sales_until"`
}

// replaySettings reads (GET) or replaces (PUT) a show's replay settings,
// for its brand's admins.
func (s *Server) replaySettings(w http.ResponseWriter, r *http.Request) error {
	if s.Replays == nil {
		return notImplemented("replays (no recordings configured)")
	}
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	if r.Method == http.MethodGet {
		set, err := s.Replays.Settings(r.Context(), u, id)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, set)
		return nil
	}
	var body replaySettingsBody
	if err := decode(r, &body); err != nil {
		return err
	}
	set := replay.Settings{ShowID: id, Record: true, SalesUntil: body.SalesUntil}
	if body.Record != nil {
		set.Record = *body.Record
	}
	set, err = s.Replays.SetSettings(r.Context(), u, set)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

// deleteReplay removes a show's replay, for its brand's admins.
func (s *Server) deleteReplay(w http.ResponseWriter, r *http.Request) error {
	if s.Replays == nil {
		return notImplemented("replays (no recordings configured)")
	}
	u, id, err := userAndID(r, "show")
	if err != nil {
		return err
	}
	if err := s.Replays.Delete(r.Context(), u, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
