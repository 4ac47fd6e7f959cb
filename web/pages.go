package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var staticFS embed.FS

// pages serves the browser side. The viewer player, studio and brand console
// are issue 7; until then the home page lists shows and says so.
func (s *Server) pages(mux *http.ServeMux) {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(sub)
	mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	index := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, sub, "index.html")
	}
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("GET /shows/{id}", index)
	mux.HandleFunc("GET /studio/{id}", index)
	mux.HandleFunc("GET /brand", index)
}
