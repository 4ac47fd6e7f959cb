package chat

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/clientip"
	"github.com/pavilion-live/pavilion/internal/show"
)

// newUpgrader makes the websocket upgrader of a hub. It reads with a
// buffer of 512 bytes rather than the HTTP server's 4 KB one (clients send
// small frames, seldom), and borrows a write buffer per message from a
// pool: an idle viewer then holds no write buffer at all.
func newUpgrader() websocket.Upgrader {
	return websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 4096, WriteBufferPool: &sync.Pool{},
		// ServeHTTP has vetted the Origin already (checkOrigin), to
		// answer a refusal in the API's JSON and log why.
		CheckOrigin: func(*http.Request) bool { return true }, EnableCompression: false, HandshakeTimeout: 10 * time.Second}
}

// ServeHTTP upgrades GET /ws/shows/{id}. Members-only shows answer 404 to
// anyone else, before any upgrade; anonymous viewers may watch and read.
// ?epoch=…&after=… resumes at once.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.init()
	if err := h.checkOrigin(r); err != nil {
		refuseUpgrade(w, http.StatusForbidden, err)
		return
	}
	u, cred := h.caller(r)
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		refuseUpgrade(w, http.StatusNotFound, apperr.Errorf(apperr.NotFound, "show not found"))
		return
	}
	sh, err := h.Shows.ShowByID(r.Context(), id)
	if err == nil && !account.CanSeeShow(u, sh.Visibility == show.Members, sh.BrandID, sh.HostIDs) {
		err = apperr.Errorf(apperr.NotFound, "show not found")
	}
	if err != nil {
		status := http.StatusInternalServerError
		if apperr.CodeOf(err) == apperr.NotFound {
			status = http.StatusNotFound
		}
		refuseUpgrade(w, status, err)
		return
	}
	room, err := h.rooms.room(r.Context(), sh.ID, func(ctx context.Context) (*Room, error) { return newRoom(ctx, h, sh) })
	if err != nil {
		h.log().Warn("opening a live room", "show", id, "err", err)
		refuseUpgrade(w, http.StatusServiceUnavailable, apperr.Errorf(apperr.Unavailable, "the live room is unavailable; try again"))
		return
	}
	room.observeShow(sh)
	room.mu.Lock()
	banned := u != nil && room.banned[u.ID]
	room.mu.Unlock()
	if banned {
		refuseUpgrade(w, http.StatusForbidden, apperr.Errorf(apperr.Forbidden, "you are banned from this show"))
		return
	}
	var (
		viewer string
		header http.Header
	)
	// Who the socket is counts a person once in the viewer count and in
	// analytics, however many tabs they have open.
	var cookie *http.Cookie
	if viewer, cookie = ViewerKey(r, u, h.SecureCookies); cookie != nil {
		header = http.Header{"Set-Cookie": {cookie.String()}}
	}
	ws, err := h.upgrader.Upgrade(w, r, header)
	if err != nil {
		return // the upgrader answered already
	}
	c := newConn(ws, room, u)
	c.cred = cred
	c.who = viewer
	// ?v=2: room traffic in batch frames (PROTOCOL.md); anything else gets
	// protocol version 1, one frame per event.
	if v, err := strconv.Atoi(r.URL.Query().Get("v")); err == nil && v >= 2 {
		c.v2 = true
	}
	h.metrics.conns.Inc()
	after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
	joined := !h.guard.Do("chat_join", func() {
		room.join(c, r.URL.Query().Get("epoch"), after)
		if h.Analytics != nil {
			h.Analytics.Join(sh.ID, viewer, time.Now())
		}
	}, "show", sh.ID)
	if !joined {
		// Nothing reads or writes this socket yet: take it out of the room,
		// or the room would never close as idle, and end it here.
		room.leave(c)
		h.metrics.conns.Dec()
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInternalServerErr, "internal error"), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	c.startWriter()
	// The reader gets a fresh goroutine and the handler's returns: the
	// handler's stack grew during the lookups above, and it would otherwise
	// be kept for the life of the connection. The connection's work outlives
	// the request's context by design.
	ctx := context.WithoutCancel(r.Context())
	go func() {
		defer h.guard.Recover("chat_reader", "show", room.showID) // readLoop recovers its own; this covers the leaving
		c.readLoop(ctx)
		room.leave(c)
		if h.Analytics != nil {
			h.Analytics.Leave(room.showID, c.who, time.Now())
		}
		h.metrics.conns.Dec()
		c.stop(websocket.CloseNormalClosure, "")
	}()
}

// checkOrigin refuses a browser's handshake from another site: by default
// its Origin must name the host the request was made to (a request without
// Origin is no browser's, and passes). A refusal is logged with the headers
// seen, since a reverse proxy that rewrites Host (nginx's $host drops the
// port) is the usual cause and the log is where an operator finds it.
func (h *Hub) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	var reason string
	switch {
	case h.CheckOrigin != nil:
		if h.CheckOrigin(r) {
			return nil
		}
		reason = "the origin policy refused it"
	case origin == "":
		return nil
	default:
		u, err := url.Parse(origin)
		if err == nil && strings.EqualFold(u.Host, r.Host) {
			return nil
		}
		reason = "the Origin's host is not the Host the request was made to"
	}
	h.log().WarnContext(r.Context(), "cross-origin websocket refused", "reason", reason, "path", r.URL.Path,
		"origin", origin, "host", r.Host, "remote", clientip.String(r))
	if origin == "" {
		return apperr.Errorf(apperr.Forbidden, "websocket refused by this server's origin policy")
	}
	return apperr.Errorf(apperr.Forbidden, "cross-origin websocket refused: Origin %s does not match Host %s (a proxy in front must pass the Host header on as the client sent it)", origin, r.Host)
}

// refuseUpgrade answers a websocket request that will not be upgraded in
// the API's JSON error shape.
func refuseUpgrade(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(mustJSON(map[string]any{"error": map[string]string{"code": string(apperr.CodeOf(err)), "message": apperr.MessageOf(err)}}))
}
