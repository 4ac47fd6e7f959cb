package web

import (
	_ "embed"
	"net/http"
)

// openAPI is the hand-kept description of the HTTP API. A test checks that
// every route the server registers appears in it.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPI)
}
