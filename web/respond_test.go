package web

import (
	"net/http/httptest"
	"testing"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// TestErrorBodyAsEncoded holds writeErrorBody's quick answer to what
// encoding/json writes for the same error: status, headers and bytes.
func TestErrorBodyAsEncoded(t *testing.T) {
	for _, c := range []struct {
		code apperr.Code
		msg  string
	}{
		{apperr.SoldOut, "sold out"},
		{apperr.LimitReached, "per-customer limit reached for this offer"},
		{apperr.Invalid, `field "quantity" must be a number`},
		{apperr.Invalid, `malformed JSON at byte 3: invalid character '\' looking for beginning of value`},
		{apperr.Invalid, "<script>alert(1)</script> & more"},
		{apperr.Invalid, "tab\there, line\nthere, nul\x00, del\x7f"},
		{apperr.Invalid, "café \u2028 \u2029 \xff"},
		{apperr.Code("odd\"code"), "x"},
		{apperr.NotFound, ""},
	} {
		quick, encoded := httptest.NewRecorder(), httptest.NewRecorder()
		writeErrorBody(quick, apperr.HTTPStatus(c.code), c.code, c.msg)
		writeJSON(encoded, apperr.HTTPStatus(c.code), errorBody{Error: errorDetail{Code: c.code, Message: c.msg}})
		if quick.Code != encoded.Code || quick.Body.String() != encoded.Body.String() {
			t.Errorf("%q: %d %q, encoding/json's %d %q", c.msg, quick.Code, quick.Body, encoded.Code, encoded.Body)
		}
		for _, k := range []string{"Content-Type", "Cache-Control"} {
			if quick.Header().Get(k) != encoded.Header().Get(k) {
				t.Errorf("%q: %s %q, encoding/json's %q", c.msg, k, quick.Header().Get(k), encoded.Header().Get(k))
			}
		}
	}
}
