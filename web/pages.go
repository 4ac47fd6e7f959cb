package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// The pages are plain HTML shells with ES modules under static/js, strings in
// static/i18n and one stylesheet: no build step, and nothing inline, so the
// Content-Security-Policy can forbid inline scripts and styles.
//
//go:embed static
var staticFS embed.FS

// pages serves the browser side: the home page, the live player, the studio
// and the brand console. Each route answers its shell; the scripts fetch the
// data from the API.
func (s *Server) pages(mux *http.ServeMux) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	files := http.FileServerFS(sub)
	mux.Handle("GET /static/", http.StripPrefix("/static/", noCache(files)))
	shell := func(name string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, sub, name)
		}
	}
	mux.HandleFunc("GET /{$}", shell("index.html"))
	mux.HandleFunc("GET /shows/{id}", shell("player.html"))
	mux.HandleFunc("GET /studio/{id}", shell("studio.html"))
	mux.HandleFunc("GET /brand", shell("brand.html"))
	mux.HandleFunc("GET /orders", shell("orders.html"))
	mux.HandleFunc("GET /brands/{id}", shell("brand-page.html"))
	mux.HandleFunc("GET /account", shell("account.html"))
}

// noCache makes browsers revalidate static files: embedded files carry no
// modification time, so without it a new binary could run old scripts.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
