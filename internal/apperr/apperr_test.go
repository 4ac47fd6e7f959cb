package apperr_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// TestHTTPStatus: every code a user can act on has a status of its own kind
// (4xx, or 5xx for the server's side), and anything unknown is a 500.
func TestHTTPStatus(t *testing.T) {
	want := map[apperr.Code]int{
		apperr.Invalid: 400, apperr.Unauthorized: 401, apperr.PaymentFailed: 402, apperr.Forbidden: 403,
		apperr.NotFound: 404, apperr.MethodNotAllowed: 405, apperr.Conflict: 409, apperr.SoldOut: 409,
		apperr.LimitReached: 409, apperr.DropClosed: 409, apperr.Gone: 410, apperr.TooLarge: 413,
		apperr.UnsupportedMediaType: 415, apperr.Unprocessable: 422, apperr.RateLimited: 429,
		apperr.Internal: 500, apperr.NotImplemented: 501, apperr.Unavailable: 503, "no_such_code": 500,
	}
	for code, status := range want {
		if got := apperr.HTTPStatus(code); got != status {
			t.Errorf("HTTPStatus(%s) = %d, want %d", code, got, status)
		}
	}
	err := fmt.Errorf("wrapped: %w", apperr.Errorf(apperr.SoldOut, "gone in 40 s"))
	if got := apperr.HTTPStatus(apperr.CodeOf(err)); got != http.StatusConflict {
		t.Errorf("a wrapped sold_out answers %d", got)
	}
}
