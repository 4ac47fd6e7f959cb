package chat

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
)

// Recorder counts what happens in live rooms, for the show's analytics.
// The room calls it on its hot path, so an implementation must only touch
// memory: no I/O, no waiting (internal/analytics batches and flushes).
type Recorder interface {
	// Join: a viewer connected. viewer identifies them across reconnects
	// and nodes: "u:<user id>" when signed in, else "a:<visitor key>".
	Join(show uuid.UUID, viewer string, at time.Time)
	// Leave: a connection of viewer that joined ended.
	Leave(show uuid.UUID, viewer string, at time.Time)
	// Chat, Reaction and CardTap name the viewer, so the brand's data bank
	// can count distinct people who took part (not only how often).
	Chat(show uuid.UUID, viewer string)
	Reaction(show uuid.UUID, viewer string, n int)
	CardTap(show, offer uuid.UUID, viewer string)
	// LostIntent: a wish to buy the offer that cannot be met (a cause of
	// checkout's Lost… constants), here a card tapped while the offer
	// cannot sell.
	LostIntent(show, offer uuid.UUID, cause string)
}

// VisitorCookie names an anonymous viewer's browser across reconnects, so
// they count once in a show's unique viewers. It identifies a browser, not
// a person, and carries nothing else.
const VisitorCookie = "pavilion_visitor"

// ViewerKey is who a connection (or a replay's play) counts as in
// analytics. An anonymous request without a usable visitor cookie gets a
// fresh key, and the cookie to keep it in is returned for the response (browsers store
// cookies set on a websocket handshake; clients without a cookie jar count
// once per connection).
func ViewerKey(r *http.Request, u *account.User, secure bool) (string, *http.Cookie) {
	if u != nil {
		return "u:" + u.ID.String(), nil
	}
	if c, err := r.Cookie(VisitorCookie); err == nil && validVisitor(c.Value) {
		return "a:" + c.Value, nil
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand's documented contract)
	v := base64.RawURLEncoding.EncodeToString(b[:])
	return "a:" + v, &http.Cookie{Name: VisitorCookie, Value: v, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: secure || r.TLS != nil, SameSite: http.SameSiteLaxMode}
}

// validVisitor accepts the keys ViewerKey hands out, and any similar
// client-made one: 16 to 64 URL-safe characters.
func validVisitor(v string) bool {
	if len(v) < 16 || len(v) > 64 {
		return false
	}
	for _, c := range []byte(v) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
