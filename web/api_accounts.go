package web

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

type credentialsIn struct {
	Email       string `json:"email"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

func (s *Server) rateLimitLogin(r *http.Request) error {
	if !s.limiter.allow(clientAddr(r)) {
		return apperr.Errorf(apperr.RateLimited, "too many attempts; wait a minute and try again")
	}
	return nil
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) error {
	var in credentialsIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := s.rateLimitLogin(r); err != nil {
		return err
	}
	u, secret, err := s.Accounts.Signup(r.Context(), in.Email, in.DisplayName, in.Password)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, secret)
	return reply(w, http.StatusCreated, "user", u)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var in credentialsIn
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.DisplayName != "" {
		return apperr.Errorf(apperr.Invalid, "unknown field \"display_name\"")
	}
	if err := s.rateLimitLogin(r); err != nil {
		return err
	}
	u, secret, err := s.Accounts.Login(r.Context(), in.Email, in.Password)
	if err != nil {
		return err
	}
	s.setSessionCookie(w, secret)
	return reply(w, http.StatusOK, "user", u)
}

// logout ends the browser session. It always succeeds and always clears the
// cookie: a client that is already logged out is in the state it asked for.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		if err := s.Accounts.Logout(r.Context(), c.Value); err != nil {
			return err
		}
	}
	s.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "user", u)
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	var in struct {
		Name       string `json:"name"`
		TTLSeconds int64  `json:"ttl_seconds"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.TTLSeconds < 0 || in.TTLSeconds > int64(account.MaxAdminTokenTTL/time.Second) {
		return apperr.Errorf(apperr.Invalid, "ttl_seconds is out of range")
	}
	token, tok, err := s.Accounts.IssueToken(r.Context(), u.ID, in.Name, time.Duration(in.TTLSeconds)*time.Second)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"token": token, "id": tok.ID, "expires_at": tok.ExpiresAt})
	return nil
}

// listTokens lists the caller's bearer tokens, without their secrets.
func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	tokens, err := s.Accounts.ListTokens(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "tokens", tokens)
}

// revokeToken ends one of the caller's tokens (a platform admin: anyone's),
// and the live-room sockets opened with it.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	u, id, err := userAndID(r, "token")
	if err != nil {
		return err
	}
	if err := s.Accounts.RevokeToken(r.Context(), u, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	if _, err := requireRole(r, account.RoleAdmin); err != nil {
		return err
	}
	offset, limit, err := page(r)
	if err != nil {
		return err
	}
	users, err := s.Accounts.Store.ListUsers(r.Context(), offset, limit)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "users", nonNil(users))
}

// createUser lets a platform admin make staff accounts (hosts, brand admins).
func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := requireRole(r, account.RoleAdmin); err != nil {
		return err
	}
	var in struct {
		credentialsIn
		Roles    []account.Role `json:"roles"`
		BrandIDs []uuid.UUID    `json:"brand_ids"`
		// TokenOnly makes an account without a password and returns a bearer
		// token for it: buyers for load tests, integrations.
		TokenOnly bool `json:"token_only"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	for _, id := range in.BrandIDs {
		if _, err := s.Brands.BrandByID(r.Context(), id); err != nil {
			return err
		}
	}
	u, err := s.Accounts.Create(r.Context(), account.NewUser{
		Email: in.Email, DisplayName: in.DisplayName, Password: in.Password, Roles: in.Roles, BrandIDs: in.BrandIDs,
		NoPassword: in.TokenOnly,
	})
	if err != nil {
		return err
	}
	out := map[string]any{"user": u}
	if in.TokenOnly {
		token, tok, err := s.Accounts.IssueToken(r.Context(), u.ID, "token-only account", 0)
		if err != nil {
			return err
		}
		out["token"], out["expires_at"] = token, tok.ExpiresAt
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// page reads offset and limit query parameters; limit defaults to 50, at most 200.
func page(r *http.Request) (offset, limit int, err error) {
	q := r.URL.Query()
	limit = 50
	if v := q.Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > 200 {
			return 0, 0, apperr.Errorf(apperr.Invalid, "limit must be a whole number from 1 to 200")
		}
	}
	if v := q.Get("offset"); v != "" {
		offset, err = strconv.Atoi(v)
		if err != nil || offset < 0 {
			return 0, 0, apperr.Errorf(apperr.Invalid, "offset must be a whole number of 0 or more")
		}
	}
	return offset, limit, nil
}

// pathID parses the {id} path value as a UUID; what names the thing for the error.
func pathID(r *http.Request, what string) (uuid.UUID, error) {
	v := r.PathValue("id")
	id, err := uuid.Parse(v)
	if err != nil {
		return uuid.Nil, apperr.Errorf(apperr.NotFound, "%s %q not found", what, v)
	}
	return id, nil
}

// userAndID is the signed-in caller and the {id} path value, for handlers
// that act on one thing of the caller's; what names the thing for the error.
func userAndID(r *http.Request, what string) (*account.User, uuid.UUID, error) {
	u, err := requireUser(r)
	if err != nil {
		return nil, uuid.Nil, err
	}
	id, err := pathID(r, what)
	if err != nil {
		return nil, uuid.Nil, err
	}
	return u, id, nil
}

// replyForID answers, under key, what fn returns for the signed-in caller
// and the {id} path value: the whole of the handlers that only read or act
// on one thing of the caller's, so each says only which service call it is.
// what names the thing for the error.
func replyForID[T any](w http.ResponseWriter, r *http.Request, what, key string,
	fn func(context.Context, *account.User, uuid.UUID) (T, error)) error {
	u, id, err := userAndID(r, what)
	if err != nil {
		return err
	}
	v, err := fn(r.Context(), u, id)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, key, v)
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
