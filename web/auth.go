package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// SessionCookie is the name of the browser session cookie.
const SessionCookie = "pavilion_session"

type ctxKey int

const (
	userKey ctxKey = iota
	authErrKey
	stateKey
)

// authenticate resolves the caller from a bearer token (scripts, load tools,
// OBS) or the session cookie (browsers) and stores the user in the context.
// A bad credential is remembered, not refused here: public routes still work
// for the caller, and routes that need a user report it.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := ""
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, value, _ := strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") {
				secret = strings.TrimSpace(value)
			}
		} else if c, err := r.Cookie(SessionCookie); err == nil {
			secret = c.Value
		}
		// WHIP carries the show's stream key in the Authorization header: that
		// is not an account credential, and the stream package checks it. A
		// WHIP request with the session cookie instead is the studio page
		// publishing as its signed-in host (Server.PublishAsHost).
		if secret == "" || (strings.HasPrefix(r.URL.Path, "/whip/") && r.Header.Get("Authorization") != "") {
			next.ServeHTTP(w, r)
			return
		}
		st, r := stateOf(r)
		st.principal, st.authErr = s.Accounts.Authenticate(r.Context(), secret)
		if st.authErr != nil {
			st.principal = nil
		}
		next.ServeHTTP(w, r)
	})
}

// UserFrom returns the authenticated caller, or nil for an anonymous one.
func UserFrom(ctx context.Context) *account.User {
	if p := PrincipalFrom(ctx); p != nil {
		return p.User
	}
	return nil
}

// PrincipalFrom returns the authenticated caller with the credential that
// vouched for it (for connections that must end with it), or nil.
func PrincipalFrom(ctx context.Context) *account.Principal {
	p, _ := ctx.Value(userKey).(*account.Principal)
	return p
}

// requireUser returns the caller or the error to answer with: the
// credential's own failure (expired, revoked) when one was sent.
func requireUser(r *http.Request) (*account.User, error) {
	if u := UserFrom(r.Context()); u != nil {
		return u, nil
	}
	if err, ok := r.Context().Value(authErrKey).(error); ok {
		return nil, err
	}
	return nil, apperr.Errorf(apperr.Unauthorized, "sign in first")
}

func requireRole(r *http.Request, role account.Role) (*account.User, error) {
	u, err := requireUser(r)
	if err != nil {
		return nil, err
	}
	if !u.Has(role) {
		return nil, apperr.Errorf(apperr.Forbidden, "this needs the %s role", role)
	}
	return u, nil
}

func (s *Server) setSessionCookie(w http.ResponseWriter, secret string) {
	ttl := s.Accounts.SessionTTL
	if ttl == 0 {
		ttl = 30 * 24 * time.Hour
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: secret, Path: "/", MaxAge: int(ttl.Seconds()),
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode,
	})
}
