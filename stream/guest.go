package stream

import (
	"net/http"

	"github.com/google/uuid"
)

// Co-hosts: a show may have a guest who publishes beside the host from a
// studio of their own (internal/cohost decides who). The guest's broadcast
// is a feed like the host's, under a feed id of its own derived from the
// show's (GuestFeed), so everything a feed does (fan-out, keyframe cache,
// the grace period, relays between nodes and their directory entries) works
// for it unchanged:
//
//   - POST /whip/{show}?guest=1 with "Authorization: Bearer <guest key>"
//     publishes the guest feed (Server.Guests checks the key). Its Location
//     names the guest feed: /whip/{GuestFeed(show)}/{session}. DELETE there
//     ends the guest's broadcast at once (no grace period: a guest who
//     leaves has left).
//   - POST /whep/{show}?guest=1 watches it, with the show's viewer check.
//     An edge pulls /whep/{GuestFeed(show)} from its parent like any show.
//   - The guest feed is recorded beside the host's (Recorder.Record with
//     RoleGuest, under the show's id), and never turns the show live or
//     ends it: OnGuest hears of it instead.
//   - EndGuest ends the guest feed on this node (the host removed the
//     guest); cohost asks every node to, through the bus.

// guestSpace is the namespace of guest feed ids (a random constant).
var guestSpace = uuid.MustParse("6f1d3c52-9a0b-4d7e-8c21-5b7e0f4a9d13")

// GuestFeed is the feed id of the show's guest broadcast: the same on every
// node, and never a show's id.
func GuestFeed(show uuid.UUID) uuid.UUID { return uuid.NewSHA1(guestSpace, show[:]) }

// isGuest reports whether a WHIP/WHEP request is for the show's guest feed.
func isGuest(r *http.Request) bool { return r.URL.Query().Get("guest") == "1" }

// EndGuest ends the show's guest feed on this node, whether published here
// (the guest's session ends, and its viewers) or relayed from another node
// (the pull and its viewers end); it reports whether there was one.
func (s *Server) EndGuest(show uuid.UUID) bool {
	if s.init() != nil {
		return false
	}
	f := s.feedOf(GuestFeed(show))
	if f == nil {
		return false
	}
	f.end("guest removed")
	return true
}

// guestWent tells OnGuest of a guest feed published here going on or off air.
func (s *Server) guestWent(show uuid.UUID, live bool) {
	if s.OnGuest != nil {
		s.goTracked(func() { s.OnGuest(show, live) })
	}
}
