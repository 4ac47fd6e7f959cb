package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// reserveBodyCases are bodies decodeReserve must answer as decode does:
// the ones its own parser takes and every kind it must leave to decode.
var reserveBodyCases = []string{
	`{"offer_id":"0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11","quantity":1}`,
	` { "quantity" : 20 ,` + "\n\t" + `"offer_id" : "0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11" } ` + "\r\n",
	`{"offer_id":"0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11"}`,
	`{"quantity":0}`,
	`{}`,
	`{"offer_id":"{0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11}","quantity":1}`,
	`{"offer_id":"0b7c5e4e3f0c4c599a572f7e2b1c9d11","quantity":1}`,
	`{"offer_id":"urn:uuid:0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11","quantity":1}`,
	`{"offer_id":"\u0030b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11","quantity":1}`,
	`{"offer_id":"not-a-uuid","quantity":1}`,
	`{"offer_id":"","quantity":1}`,
	`{"offer_id":null,"quantity":null}`,
	`{"offer_id":7,"quantity":1}`,
	`{"offer_id":"0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11","quantity":"1"}`,
	`{"OFFER_ID":"0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11","Quantity":2}`,
	`{"offer_id":"0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11","offer_id":"1b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11"}`,
	`{"quantity":1,"quantity":2}`,
	`{"quantity":1,"colour":"red"}`,
	`{"quantity":-1}`,
	`{"quantity":-0}`,
	`{"quantity":01}`,
	`{"quantity":1.0}`,
	`{"quantity":1e0}`,
	`{"quantity":999999999}`,
	`{"quantity":1099511627776}`,
	`{"quantity":99999999999999999999999}`,
	`{"quantity":1}{"quantity":2}`,
	`{"quantity":1} x`,
	`{"quantity":1,}`,
	`{"quantity" 1}`,
	`{"offer_id":"0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11`,
	`{"quantity":1`,
	`{`,
	``,
	`   `,
	`[]`,
	`"x"`,
	`null`,
	"\xef\xbb\xbf{}",
	`{"offer_id":"0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11","quantity":1}` + strings.Repeat(" ", 300),
	`{"quantity":1}` + strings.Repeat(" ", 300) + `x`,
	`{"quantity":1, "note":"` + strings.Repeat("é", 200) + `"}`,
	strings.Repeat(" ", 1000) + `{"quantity":1}`,
}

func decodeBoth(t *testing.T, body, contentType string, limit int64) {
	t.Helper()
	run := func(dec func(*http.Request, *checkout.ReserveRequest) error) (checkout.ReserveRequest, error) {
		r := httptest.NewRequest("POST", "/api/reservations", strings.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
		var req checkout.ReserveRequest
		err := dec(r, &req)
		return req, err
	}
	want, wantErr := run(func(r *http.Request, req *checkout.ReserveRequest) error { return decode(r, req) })
	got, gotErr := run(decodeReserve)
	if (wantErr == nil) != (gotErr == nil) || (wantErr != nil &&
		(apperr.CodeOf(gotErr) != apperr.CodeOf(wantErr) || apperr.MessageOf(gotErr) != apperr.MessageOf(wantErr))) {
		t.Errorf("%q (limit %d): error %v, decode's %v", body, limit, gotErr, wantErr)
		return
	}
	if wantErr == nil && got != want {
		t.Errorf("%q: %+v, decode's %+v", body, got, want)
	}
}

// TestDecodeReserveAnswersAsDecode holds the buy button's quick body reader
// to decode's answer — the same request, or the same status and message —
// for good bodies and bad ones, short and long, under a small body limit too.
func TestDecodeReserveAnswersAsDecode(t *testing.T) {
	for _, body := range reserveBodyCases {
		for _, limit := range []int64{1 << 20, 64, 20} {
			decodeBoth(t, body, "application/json", limit)
		}
		decodeBoth(t, body, "", 1<<20)
		decodeBoth(t, body, "text/plain", 1<<20)
	}
}

func FuzzDecodeReserve(f *testing.F) {
	for _, body := range reserveBodyCases {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		decodeBoth(t, body, "application/json", 1<<20)
		decodeBoth(t, body, "application/json", 64)
	})
}

func TestParseReserveTakesTheButtonsBody(t *testing.T) {
	var req checkout.ReserveRequest
	if !parseReserve([]byte(`{"offer_id":"0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11","quantity":1}`), &req) ||
		req.OfferID.String() != "0b7c5e4e-3f0c-4c59-9a57-2f7e2b1c9d11" || req.Quantity != 1 {
		t.Errorf("the buy button's body went to decode (%+v): the quick path is not taken", req)
	}
}
