package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pion/webrtc/v4"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// cors lets WHIP/WHEP clients on other origins (web encoders, players
// embedded elsewhere) talk to the endpoints. No credentials are allowed
// cross-origin: publishers authenticate with the stream key, and a
// members-only show's viewers must come from our own pages.
func cors(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Location, ETag, Link, Accept-Patch")
}

// Options answers CORS preflight and discovery on /whip/{show}, /whep/{show}
// and their session URLs (RFC 9725 §4.1).
func (s *Server) Options(w http.ResponseWriter, r *http.Request) {
	w, done := s.guardRequest(w, r)
	defer done()
	cors(w)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
	h.Set("Access-Control-Max-Age", "86400")
	if r.PathValue("session") == "" {
		h.Set("Accept-Post", "application/sdp")
	} else {
		h.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	}
	w.WriteHeader(http.StatusNoContent)
}

// writeAnswer sends 201 with the session URL, its entity tag (for PATCH
// If-Match) and the STUN/TURN servers as Link headers (RFC 9725 §4.6).
func (s *Server) writeAnswer(w http.ResponseWriter, location, id, sdp string) {
	h := w.Header()
	h.Set("Content-Type", "application/sdp")
	h.Set("Location", location)
	h.Set("ETag", etag(id))
	h.Set("Accept-Patch", "application/trickle-ice-sdpfrag")
	for _, is := range s.ICEServers {
		for _, u := range is.URLs {
			link := "<" + u + `>; rel="ice-server"`
			if is.Username != "" {
				link += fmt.Sprintf(`; username=%q; credential=%q; credential-type="password"`, is.Username, fmt.Sprint(is.Credential))
			}
			h.Add("Link", link)
		}
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, sdp)
}

func etag(id string) string { return `"` + id + `"` }

// WHIP handles POST /whip/{show}.
func (s *Server) WHIP(w http.ResponseWriter, r *http.Request) {
	w, done := s.guardRequest(w, r)
	defer done()
	show, _, ok := s.begin(w, r, "/whip/")
	if !ok {
		return
	}
	key := bearer(r)
	guest := isGuest(r)
	var err error
	switch {
	case guest && key != "" && s.Guests != nil:
		ok, err = s.Guests(r.Context(), show, key)
	case guest:
		w.Header().Set("WWW-Authenticate", "Bearer")
		httpError(w, http.StatusUnauthorized, "a guest key is required")
		return
	case key != "" && s.Keys != nil:
		ok, err = s.Keys(r.Context(), show, key)
	case key == "" && s.Host != nil:
		ok, err = s.Host(r, show)
	default:
		w.Header().Set("WWW-Authenticate", "Bearer")
		httpError(w, http.StatusUnauthorized, "a stream key is required")
		return
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	if !ok {
		msg := "wrong stream key"
		switch {
		case guest:
			msg = "this guest key is not valid for the show (the host may have removed you)"
		case key == "":
			msg = "a stream key is required, or a signed-in host of the show"
		}
		w.Header().Set("WWW-Authenticate", "Bearer")
		httpError(w, http.StatusUnauthorized, msg)
		return
	}
	offer, err := readOffer(w, r, "application/sdp")
	if err != nil {
		s.fail(w, err)
		return
	}

	p := s.newPublisher(false)
	feedID := show // a guest publishes a feed of its own (guest.go)
	if guest {
		feedID = GuestFeed(show)
	}
	// Claim the show, cluster-wide and then here, before negotiating, so that
	// two racing publishers cannot both win.
	if err := s.claimOrigin(r.Context(), feedID); err != nil {
		s.fail(w, err)
		return
	}
	fresh, err := s.claim(feedID, p, func() *feed {
		f := s.newFeed(feedID, false)
		if guest {
			f.guestOf = show
		}
		return f
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	// A panic from here on must not leave the show held by a publisher
	// that never was (every later WHIP would get 409).
	registered := false
	defer func() {
		if p2 := recover(); p2 != nil {
			if registered {
				p.end("internal error")
			} else {
				s.abandon(p, fresh)
			}
			panic(p2) // answered by done
		}
	}()
	pc, err := s.publisherAPI(offer).NewPeerConnection(s.peerConfig(s.ICEServers))
	if err != nil {
		s.abandon(p, fresh)
		s.fail(w, err)
		return
	}
	p.pc = pc
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		defer s.endOnPanic("stream_callback", p, p.id)
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			s.goTracked(func() { p.end("connection " + st.String()) })
		}
	})
	sdp, err := s.answer(r.Context(), pc, offer)
	if err != nil {
		s.abandon(p, fresh)
		s.fail(w, err)
		return
	}
	p.mu.Lock()
	for _, t := range pc.GetTransceivers() {
		if d := t.Direction(); d == webrtc.RTPTransceiverDirectionRecvonly || d == webrtc.RTPTransceiverDirectionSendrecv {
			p.expected[t.Kind()] = true
		}
	}
	all := len(p.expected) > 0
	for k := range p.expected {
		all = all && p.kinds[k]
	}
	p.mu.Unlock()
	if all {
		p.readyOnce.Do(func() { close(p.ready) })
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.abandon(p, fresh)
		httpError(w, http.StatusServiceUnavailable, "server is shutting down")
		return
	}
	s.sessions[p.id] = p
	registered = true
	s.mu.Unlock()
	if m := s.metrics; m != nil {
		m.publishes.Inc()
	}
	s.log().Info("stream: publisher live", "show", show, "session", p.id, "resumed", !fresh)
	switch {
	case guest && fresh:
		p.feed.startRecording()
		s.guestWent(show, true)
	case guest:
	case fresh && s.OnLive != nil:
		p.feed.startRecording()
		s.goTracked(func() { s.OnLive(show) })
	case fresh:
		p.feed.startRecording()
	}
	s.writeAnswer(w, "/whip/"+feedID.String()+"/"+p.id, p.id, sdp)
}

var layerName = regexp.MustCompile(`^[A-Za-z0-9_-]{0,16}$`)

// WHEP handles POST /whep/{show}. ?layer=<rid> picks a simulcast layer
// instead of the automatic choice.
func (s *Server) WHEP(w http.ResponseWriter, r *http.Request) {
	w, done := s.guardRequest(w, r)
	defer done()
	show, _, ok := s.begin(w, r, "/whep/")
	if !ok {
		return
	}
	if s.Viewer != nil && !s.isRelay(r) {
		if err := s.Viewer(r, show); err != nil {
			s.fail(w, err)
			return
		}
	}
	if isGuest(r) {
		show = GuestFeed(show) // after the viewer check, made on the show
	}
	layer := r.URL.Query().Get("layer")
	if !layerName.MatchString(layer) {
		httpError(w, http.StatusBadRequest, "layer must be a simulcast RID (letters, digits, - or _; at most 16)")
		return
	}
	offer, err := readOffer(w, r, "application/sdp")
	if err != nil {
		s.fail(w, err)
		return
	}
	f := s.feedOf(show)
	// A node pulling the show was placed under this one because it serves
	// the show; if it no longer does, the puller is told so and goes elsewhere.
	if f == nil && !s.isRelay(r) {
		if f, err = s.edgeFeed(r.Context(), show); err != nil {
			s.fail(w, err)
			return
		}
	}
	if f == nil {
		httpError(w, http.StatusNotFound, "this show is not live: no publisher")
		return
	}
	f.mu.Lock()
	p := f.pub
	f.mu.Unlock()
	if p == nil {
		w.Header().Set("Retry-After", "2")
		httpError(w, http.StatusServiceUnavailable, "the host is reconnecting; retry")
		return
	}
	wait := s.TrackWait
	if wait <= 0 {
		wait = 3 * time.Second
	}
	timer := time.NewTimer(wait)
	select {
	case <-p.ready:
	case <-timer.C:
	case <-p.done:
	case <-r.Context().Done():
	}
	timer.Stop()
	video, audio, _ := f.snapshot()
	if len(video) == 0 && audio == nil {
		w.Header().Set("Retry-After", "1")
		httpError(w, http.StatusServiceUnavailable, "the show is live but no media has arrived yet; retry")
		return
	}

	// The answer offers the show's codecs only. A child node that dies
	// frees its session in seconds (relay).
	api := s.viewerAPI(offer, showCodecs(video, audio), s.isRelay(r))
	pc, err := api.NewPeerConnection(s.peerConfig(s.ICEServers))
	if err != nil {
		s.fail(w, err)
		return
	}
	v := &viewer{s: s, id: uuid.NewString(), feed: f, pc: pc, done: make(chan struct{}), up: make(chan struct{}), autoLevel: -1}
	defer func() {
		if p := recover(); p != nil {
			v.end("internal error") // closes pc; forgets v if it was registered
			panic(p)                // answered by done
		}
	}()
	v.layer.Store(&layer)
	sid := "pavilion-" + show.String()
	var senders []*webrtc.RTPSender
	var bindings []*binding
	switch {
	case s.isRelay(r):
		// Another node: every layer travels (the top maxRelayLayers), so
		// its viewers can pick any of them.
		v.relay = true
		for _, l := range video[max(0, len(video)-maxRelayLayers):] {
			b := &binding{v: v, kind: webrtc.RTPCodecTypeVideo, codec: l.codec.RTPCodecCapability, sid: sid, tid: relayTrackPrefix + l.rid, rid: l.rid}
			v.layers = append(v.layers, b)
			bindings = append(bindings, b)
		}
	case len(video) > 0:
		v.video = &binding{v: v, kind: webrtc.RTPCodecTypeVideo, codec: video[0].codec.RTPCodecCapability, sid: sid}
		bindings = append(bindings, v.video)
	}
	if audio != nil {
		v.audio = &binding{v: v, kind: webrtc.RTPCodecTypeAudio, codec: audio.codec.RTPCodecCapability, sid: sid}
		bindings = append(bindings, v.audio)
	}
	for _, b := range bindings {
		sender, err := pc.AddTrack(b)
		if err != nil {
			_ = pc.Close()
			s.fail(w, err)
			return
		}
		senders = append(senders, sender)
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		defer s.endOnPanic("stream_callback", v, v.id)
		switch st {
		case webrtc.PeerConnectionStateConnected:
			v.upOnce.Do(func() { close(v.up) })
		case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			s.goTracked(func() { v.end("connection " + st.String()) })
		}
	})
	sdp, err := s.answer(r.Context(), pc, offer)
	if err != nil {
		_ = pc.Close()
		s.fail(w, err)
		return
	}

	s.mu.Lock()
	f.mu.Lock()
	if s.closed || f.ended {
		f.mu.Unlock()
		s.mu.Unlock()
		_ = pc.Close()
		httpError(w, http.StatusNotFound, "this show is not live: the publisher left")
		return
	}
	f.viewers[v.id] = v
	s.sessions[v.id] = v
	f.mu.Unlock()
	s.mu.Unlock()

	s.goTracked(func() {
		defer s.endOnPanic("stream_viewer", v, v.id)
		v.run()
	})
	tracks := make([]rtcpTrack, len(bindings))
	for i, b := range bindings {
		tracks[i] = rtcpTrack{sender: senders[i], b: b}
	}
	if v.relay {
		for _, t := range tracks {
			s.goTracked(func() {
				defer s.endOnPanic("stream_viewer", v, v.id)
				v.readTrackRTCP(t)
			})
		}
	} else {
		s.goTracked(func() {
			defer s.endOnPanic("stream_viewer", v, v.id)
			v.readRTCP(tracks)
		})
	}
	s.writeAnswer(w, "/whep/"+show.String()+"/"+v.id, v.id, sdp)
}

// showCodecs is what a show's viewers are offered: the codecs of its video
// layers and audio.
func showCodecs(video []*source, audio *source) []webrtc.RTPCodecParameters {
	var out []webrtc.RTPCodecParameters
	for _, l := range video {
		out = append(out, l.codec)
	}
	if audio != nil {
		out = append(out, audio.codec)
	}
	return out
}

// begin answers the preliminaries every WHIP/WHEP request shares (CORS,
// start-up, the show and session in the path), writing the error when one
// fails.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, prefix string) (show uuid.UUID, session string, ok bool) {
	cors(w)
	if err := s.init(); err != nil {
		s.fail(w, err)
		return uuid.Nil, "", false
	}
	show, session, err := pathIDs(r, prefix)
	if err != nil {
		s.fail(w, err)
		return uuid.Nil, "", false
	}
	return show, session, true
}

// session answers the preliminaries of a request on a session URL (CORS,
// start-up, lookup), writing the error when there is no such session.
func (s *Server) session(w http.ResponseWriter, r *http.Request) (session, bool) {
	prefix := "/whip/"
	if strings.HasPrefix(r.URL.Path, "/whep/") {
		prefix = "/whep/"
	}
	show, id, ok := s.begin(w, r, prefix)
	if !ok {
		return nil, false
	}
	ss, err := s.sessionAt(show, id, prefix == "/whip/")
	if err != nil {
		s.fail(w, err)
		return nil, false
	}
	return ss, true
}

// Delete handles DELETE /whip/{show}/{session} and /whep/{show}/{session}.
// Ending a publisher starts the show's grace period (EndGrace).
func (s *Server) Delete(w http.ResponseWriter, r *http.Request) {
	w, done := s.guardRequest(w, r)
	defer done()
	ss, ok := s.session(w, r)
	if !ok {
		return
	}
	if p, ok := ss.(*publisher); ok && p.feed.guestOf != uuid.Nil {
		p.feed.end("the guest left") // no grace period: a guest who leaves has left
	} else {
		ss.end("deleted")
	}
	w.WriteHeader(http.StatusOK)
}

// Patch handles PATCH on a session URL: trickle ICE candidates in an
// application/trickle-ice-sdpfrag body (RFC 8840, RFC 9725 §4.3). ICE
// restarts are refused with 422; the client starts a new session instead.
func (s *Server) Patch(w http.ResponseWriter, r *http.Request) {
	w, done := s.guardRequest(w, r)
	defer done()
	ss, ok := s.session(w, r)
	if !ok {
		return
	}
	id := r.PathValue("session")
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != etag(id) {
		httpError(w, http.StatusPreconditionFailed, "If-Match does not match this session's ETag")
		return
	}
	frag, err := readBody(w, r, "application/trickle-ice-sdpfrag")
	if err != nil {
		s.fail(w, err)
		return
	}
	pc := ss.peer()
	remote := pc.RemoteDescription()
	if remote == nil {
		httpError(w, http.StatusConflict, "the session has no remote description yet")
		return
	}
	cands, ufrag, pwd, err := parseFrag(frag)
	if err != nil {
		s.fail(w, err)
		return
	}
	if (ufrag != "" && ufrag != sdpAttr(remote.SDP, "ice-ufrag")) || (pwd != "" && pwd != sdpAttr(remote.SDP, "ice-pwd")) {
		httpError(w, http.StatusUnprocessableEntity, "ICE restarts are not supported; DELETE this session and start a new one")
		return
	}
	for _, c := range cands {
		if err := pc.AddICECandidate(c); err != nil {
			s.fail(w, apperr.Wrap(apperr.Invalid, err, "bad ICE candidate"))
			return
		}
	}
	w.Header().Set("ETag", etag(id))
	w.WriteHeader(http.StatusNoContent)
}

// Layer handles POST /whep/{show}/{session}/layer with {"layer":"<rid>"}
// (or "" for automatic): the viewer switches at the layer's next keyframe.
func (s *Server) Layer(w http.ResponseWriter, r *http.Request) {
	w, done := s.guardRequest(w, r)
	defer done()
	ss, ok := s.session(w, r)
	if !ok {
		return
	}
	v, isViewer := ss.(*viewer)
	if !isViewer {
		httpError(w, http.StatusNotFound, "no such session")
		return
	}
	var body struct {
		Layer string `json:"layer"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1024))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || !layerName.MatchString(body.Layer) {
		httpError(w, http.StatusBadRequest, `the body must be {"layer":"<rid>"} with a simulcast RID, or "" for automatic`)
		return
	}
	v.layer.Store(&body.Layer)
	v.feed.mu.Lock()
	v.feed.touch() // wake the viewer's writer to act on it now
	v.feed.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// answer applies offer to pc and returns the complete (non-trickle) answer.
func (s *Server) answer(ctx context.Context, pc *webrtc.PeerConnection, offer webrtc.SessionDescription) (string, error) {
	if err := pc.SetRemoteDescription(offer); err != nil {
		return "", apperr.Wrap(apperr.Invalid, err, "the SDP offer cannot be used")
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", apperr.Wrap(apperr.Invalid, err, "no answer to the SDP offer")
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return "", fmt.Errorf("set local description: %w", err)
	}
	t := s.GatherTimeout
	if t <= 0 {
		t = 5 * time.Second
	}
	timer := time.NewTimer(t)
	defer timer.Stop()
	select {
	case <-gathered:
	case <-timer.C:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}
