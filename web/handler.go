package web

import "net/http"

// apiHandler is an API handler written plainly: it either writes its whole
// response and returns nil, or returns an error without having written
// anything (headers it set stay, and go out with the error response).
type apiHandler func(w http.ResponseWriter, r *http.Request) error

// api adapts h to the mux, answering a returned error in the JSON error shape.
func (s *Server) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// reply writes v under key as a JSON object with the given status; it returns
// nil so a handler can end with it.
func reply(w http.ResponseWriter, status int, key string, v any) error {
	writeJSON(w, status, map[string]any{key: v})
	return nil
}
