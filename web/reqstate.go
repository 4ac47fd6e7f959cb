package web

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/clientip"
)

// requestState is what the middleware learns about one request: the client
// address, the caller, the matched route. It is put in the request's
// context once, by the outermost middleware, and the ones after fill in
// their part: a context layer and a request copy per middleware cost 8 of a
// sold-out tap's allocations (BenchmarkReserveSoldOut).
//
// It is itself the request's context, answering Value for the keys it
// holds, so UserFrom, PrincipalFrom and clientip.FromContext read it
// without knowing it exists. Each field is written by one middleware on the
// request's goroutine, before it calls the next handler (route: after the
// mux returns; route and rec are observe's alone), so goroutines a handler
// starts see the fields they may read already set.
type requestState struct {
	context.Context
	client    netip.Addr
	principal *account.Principal
	authErr   error // a credential was sent and refused
	route     string
	rec       statusRecorder // observe's writer: the answer's status and size
}

func (st *requestState) Value(key any) any {
	switch key {
	case stateKey:
		return st
	case userKey:
		if st.principal != nil {
			return st.principal
		}
	case authErrKey:
		if st.authErr != nil {
			return st.authErr
		}
	case clientip.Key():
		if st.client.IsValid() {
			return &st.client
		}
	}
	return st.Context.Value(key)
}

// stateOf returns r's state and the request that carries it: r itself once
// findClient has put it there, else a copy of r with a new one (only for a
// middleware used outside Handler's chain).
func stateOf(r *http.Request) (*requestState, *http.Request) {
	if st, ok := r.Context().Value(stateKey).(*requestState); ok {
		return st, r
	}
	st := &requestState{Context: r.Context()}
	return st, r.WithContext(st)
}
