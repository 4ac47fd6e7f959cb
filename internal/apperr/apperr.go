// Package apperr is Pavilion's one application error type. Every layer returns
// *Error for failures a user can act on; the HTTP layer maps Code to a status in
// one place and shows Message to the user. Anything else is an internal error:
// logged, never shown.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a machine-readable error class. It is part of the public API: the JSON
// error shape carries it and clients switch on it.
type Code string

const (
	Invalid       Code = "invalid"        // malformed or semantically wrong input (400)
	Unauthorized  Code = "unauthorized"   // no or bad credentials (401)
	Forbidden     Code = "forbidden"      // authenticated but not allowed (403)
	NotFound      Code = "not_found"      // no such thing, or not visible to the caller (404)
	Conflict      Code = "conflict"       // state conflict: duplicate, overlap, already taken (409)
	Gone          Code = "gone"           // existed but no longer usable, e.g. an expired hold (410)
	TooLarge      Code = "too_large"      // body or frame over its limit (413)
	Unprocessable Code = "unprocessable"  // well-formed but cannot be honoured, e.g. key reuse (422)
	SoldOut       Code = "sold_out"       // no units left (409)
	LimitReached  Code = "limit_reached"  // per-customer limit reached (409)
	DropClosed    Code = "drop_closed"    // a flash drop that is not open (409)
	PaymentFailed Code = "payment_failed" // the card was declined or lacks funds (402)
	RateLimited   Code = "rate_limited"   // slow down (429)
	// MethodNotAllowed: the route exists, but not for this method (405, with Allow).
	MethodNotAllowed Code = "method_not_allowed"
	// UnsupportedMediaType: a body of the wrong Content-Type, e.g. WHIP without application/sdp (415).
	UnsupportedMediaType Code = "unsupported_media_type"
	Unavailable          Code = "unavailable"     // a dependency is down; retry later (503)
	NotImplemented       Code = "not_implemented" // the route exists in the plan but is not built yet (501)
	Internal             Code = "internal"        // a bug or an unexpected failure (500)
)

// Error is an application error with a code and a message fit for users.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	// Err is the underlying cause, kept for logs and errors.Is; never shown.
	Err error `json:"-"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, apperr.E(code)) match any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap builds an *Error that keeps cause for logs.
func Wrap(code Code, cause error, message string) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// E is a sentinel for errors.Is comparisons by code: errors.Is(err, apperr.E(apperr.NotFound)).
func E(code Code) error { return &Error{Code: code} }

// CodeOf reports the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok { // errors.As would put e on the heap
		return e.Code
	}
	return Internal
}

// MessageOf reports the user-facing message of err. Internal errors get a
// generic message so that no detail of a failure leaks to a client.
func MessageOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok && e.Code != Internal {
		return e.Message
	}
	return "internal error"
}

// HTTPStatus is the one mapping of codes to HTTP status codes, for every
// HTTP face of the server (the JSON API, WHIP and WHEP).
func HTTPStatus(code Code) int {
	switch code {
	case Invalid:
		return http.StatusBadRequest
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case Conflict, SoldOut, LimitReached, DropClosed:
		return http.StatusConflict
	case PaymentFailed:
		return http.StatusPaymentRequired
	case Gone:
		return http.StatusGone
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Unprocessable:
		return http.StatusUnprocessableEntity
	case RateLimited:
		return http.StatusTooManyRequests
	case MethodNotAllowed:
		return http.StatusMethodNotAllowed
	case UnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case Unavailable:
		return http.StatusServiceUnavailable
	case NotImplemented:
		return http.StatusNotImplemented
	default:
		return http.StatusInternalServerError
	}
}
