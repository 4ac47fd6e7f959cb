package stream

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Reading WHIP/WHEP requests (the show and session in the path, the bearer
// key, SDP offers and trickle fragments) and answering errors: an
// apperr.Error's code gives the status, by the one mapping
// (apperr.HTTPStatus) the JSON API uses too.

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	code := apperr.CodeOf(err)
	if code == apperr.Internal {
		s.log().Error("stream", "err", err)
	}
	httpError(w, apperr.HTTPStatus(code), apperr.MessageOf(err))
}

// pathIDs returns the show id and (optional) session id of /whip/{show}[/{session}].
func pathIDs(r *http.Request, prefix string) (uuid.UUID, string, error) {
	show, sess := r.PathValue("show"), r.PathValue("session")
	if show == "" {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			return uuid.Nil, "", apperr.Errorf(apperr.NotFound, "not found")
		}
		show, sess, _ = strings.Cut(rest, "/")
	}
	id, err := uuid.Parse(show)
	if err != nil {
		return uuid.Nil, "", apperr.Errorf(apperr.NotFound, "no such show")
	}
	return id, sess, nil
}

// readOffer reads and checks an application/sdp offer.
func readOffer(w http.ResponseWriter, r *http.Request, mediaType string) (webrtc.SessionDescription, error) {
	var none webrtc.SessionDescription
	body, err := readBody(w, r, mediaType)
	if err != nil {
		return none, err
	}
	offer := webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: body}
	parsed, err := offer.Unmarshal()
	if err != nil {
		return none, apperr.Wrap(apperr.Invalid, err, "malformed SDP offer")
	}
	if len(parsed.MediaDescriptions) == 0 {
		return none, apperr.Errorf(apperr.Invalid, "the SDP offer has no media")
	}
	return offer, nil
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// readBody reads a small body of the given media type.
func readBody(w http.ResponseWriter, r *http.Request, want string) (string, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return "", apperr.Errorf(apperr.UnsupportedMediaType, "the body must be %s", want)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSDPBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return "", apperr.Errorf(apperr.TooLarge, "the body is over %d bytes", MaxSDPBytes)
		}
		return "", apperr.Wrap(apperr.Invalid, err, "could not read the body")
	}
	return string(body), nil
}

// parseFrag reads the candidates (with their m-line's mid) and ICE
// credentials of a trickle-ice-sdpfrag.
func parseFrag(frag string) (cands []webrtc.ICECandidateInit, ufrag, pwd string, err error) {
	var mid *string
	var line uint16
	for _, l := range strings.Split(frag, "\n") {
		l = strings.TrimRight(l, "\r")
		switch {
		case l == "":
		case strings.HasPrefix(l, "m="):
			if len(cands) > 0 || mid != nil {
				line++
			}
			mid = nil
		case strings.HasPrefix(l, "a=mid:"):
			m := strings.TrimPrefix(l, "a=mid:")
			mid = &m
		case strings.HasPrefix(l, "a=ice-ufrag:"):
			ufrag = strings.TrimPrefix(l, "a=ice-ufrag:")
		case strings.HasPrefix(l, "a=ice-pwd:"):
			pwd = strings.TrimPrefix(l, "a=ice-pwd:")
		case strings.HasPrefix(l, "a=candidate:"):
			idx := line
			cands = append(cands, webrtc.ICECandidateInit{Candidate: strings.TrimPrefix(l, "a="), SDPMid: mid, SDPMLineIndex: &idx})
		case l == "a=end-of-candidates", strings.HasPrefix(l, "a=ice-options:"), strings.HasPrefix(l, "a=group:"):
		case len(l) > 2 && l[1] == '=':
			// other SDP lines carry nothing trickle needs
		default:
			return nil, "", "", apperr.Errorf(apperr.Invalid, "malformed trickle-ice-sdpfrag line %q", truncate(l, 40))
		}
	}
	return cands, ufrag, pwd, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// sdpAttr returns the first value of a=<name>: in an SDP.
func sdpAttr(sdp, name string) string {
	for _, l := range strings.Split(sdp, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "a="+name+":"); ok {
			return v
		}
	}
	return ""
}
