package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The pages are plain HTML shells with ES modules under static/js, strings in
// static/i18n and one stylesheet: no build step, and nothing inline in the
// sources, so the Content-Security-Policy can forbid inline scripts and
// styles. The two scripts the server writes into the shells it serves (the
// import map, the player's boot.js) are allowed by their hashes.
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
	a, err := loadAssets(sub)
	if err != nil {
		panic(err) // the embedded files are fixed at build time; TestEmbeddedAssets loads them
	}
	mux.Handle("GET /static/", a.static())
	mux.Handle("GET /{$}", a.shell("index.html", sessionHint))
	mux.Handle("GET /studio/{id}", a.shell("studio.html", sessionHint))
	mux.Handle("GET /studio/{id}/guest", a.shell("guest.html", sessionHint))
	mux.Handle("GET /brand", a.shell("brand.html", sessionHint))
	mux.Handle("GET /orders", a.shell("orders.html", sessionHint))
	mux.Handle("GET /brands/{id}", a.shell("brand-page.html", sessionHint))
	mux.Handle("GET /account", a.shell("account.html", sessionHint))
	mux.Handle("GET /shows/{id}", a.shell("player.html", sessionHint, s.videoHint))
}

// Hints are what the server knows as it answers a shell and a script would
// otherwise have to ask with a request that fails: a visitor's GET /api/me
// answers 401, a WHEP offer for a show not on air 404, and the browser
// logs each such answer as an error in its console. A hint is a <meta> in
// the shell's head, before the first script, so even the player's first
// script (boot.js, inline) can read it.
type hint func(*http.Request) string

// sessionHint tells the page the request carries no session cookie: the
// visitor is signed out, and the page need not ask /api/me (shell.js).
func sessionHint(r *http.Request) string {
	if _, err := r.Cookie(SessionCookie); err == nil {
		return ""
	}
	return `<meta name="pavilion-session" content="none">` + "\n"
}

// videoHint tells the player its show has no publisher on air now (not
// started, ended, or between the host's connections), so boot.js and
// connect.js do not send the first WHEP offer only to be answered 404; the
// player's video loop asks when the show goes live. Unknown (no media server answer in
// time, a malformed id): no hint, and the player asks.
func (s *Server) videoHint(r *http.Request) string {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil || s.Media == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
	defer cancel()
	if st, err := s.Media.Publisher(ctx, id); err != nil || st.Live {
		return ""
	}
	return `<meta name="pavilion-video" content="off">` + "\n"
}

// Caching. Every static file is served under a versioned URL,
// /static/<path>?v=<content hash>, as immutable for a year: a page loaded
// again (the player above all, whose time to the first frame counts) takes
// its scripts, style sheet and strings from the browser's cache without a
// single request. The pages' own URLs and the modules' imports stay plain:
// the server rewrites the shells' /static/ links to the versioned URLs when
// it starts, and an import map in each shell maps every module's and string
// table's plain URL to its versioned one, so `import "./rtc.js"` lands on
// the same module the shell preloaded. A new binary changes the URL of
// every file it changed and of nothing else, and a page never mixes
// modules of two builds from the cache. The shells themselves, and any
// static URL without the current version, are revalidated on each use
// (no-cache) against a content-hash ETag: a 304 costs a round trip but no
// body. Content hashes rather than modification times, which embedded
// files do not have, and rather than the build's version, which would
// throw every file out of every cache at each release.

// asset is one file served from memory, with its content hash.
type asset struct {
	name    string // for the Content-Type, from its extension
	body    []byte
	version string // the content hash in URLs: ?v=version
	etag    string // the quoted ETag: the same hash
}

func newAsset(name string, body []byte) asset {
	sum := sha256.Sum256(body)
	v := hex.EncodeToString(sum[:8])
	return asset{name: name, body: body, version: v, etag: `"` + v + `"`}
}

// assets are the static files and the page shells, hashed once at start.
type assets struct {
	files      map[string]asset // by path under static/: "js/player.js"
	shells     map[string]asset // the shells as served: links versioned, the import map in
	importHash string           // the import map's CSP source: 'sha256-…'
	scriptSrc  string           // the CSP sources of every inline script: the import map's, the inlined files'
}

// staticRef finds the /static/ URLs the shells link (href, src).
var staticRef = regexp.MustCompile(`((?:href|src)=")/static/([^"?#]+)"`)

// inlineRef finds the classic scripts a shell wants written into it: the
// source stays a file (no inline code in the sources, and the page works
// served as it is), and the page served runs it as soon as it is parsed,
// with no request (the player's boot.js).
var inlineRef = regexp.MustCompile(`<script src="/static/([^"?#]+\.js)" data-inline></script>`)

// loadAssets reads every file of the static tree, hashes it, and builds
// the shells (its top-level .html files) with the scripts they ask for
// inlined, versioned links and the import map.
func loadAssets(root fs.FS) (*assets, error) {
	a := &assets{files: map[string]asset{}, shells: map[string]asset{}}
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		a.files[p] = newAsset(p, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	imports := map[string]string{}
	for p := range a.files {
		if ext := path.Ext(p); ext == ".js" || ext == ".json" {
			imports["/static/"+p] = a.url(p)
		}
	}
	m, err := json.Marshal(map[string]any{"imports": imports}) // keys sorted: the same map, the same hash
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(m)
	a.importHash = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	importMap := append(append([]byte(`<script type="importmap">`), m...), "</script>\n"...)

	scripts := map[string]bool{a.importHash: true}
	for p, f := range a.files {
		if path.Dir(p) != "." || path.Ext(p) != ".html" {
			continue
		}
		var missing []string
		body := inlineRef.ReplaceAllFunc(f.body, func(ref []byte) []byte {
			name := string(inlineRef.FindSubmatch(ref)[1])
			src, ok := a.files[name]
			if !ok || bytes.Contains(bytes.ToLower(src.body), []byte("</script")) {
				missing = append(missing, name+" (to inline)")
				return ref
			}
			sum := sha256.Sum256(src.body)
			scripts["'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'"] = true
			return slices.Concat([]byte("<script>"), src.body, []byte("</script>"))
		})
		body = staticRef.ReplaceAllFunc(body, func(ref []byte) []byte {
			sm := staticRef.FindSubmatch(ref)
			if _, ok := a.files[string(sm[2])]; !ok {
				missing = append(missing, string(sm[2]))
				return ref
			}
			return []byte(string(sm[1]) + a.url(string(sm[2])) + `"`)
		})
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s links %s, which is not among the static files", p, strings.Join(missing, ", "))
		}
		// The import map goes before the first element that loads
		// anything (module scripts and preloads resolve through it), and
		// after <meta charset>, which must stay in the first 1024 bytes.
		at := firstLoad(body)
		if at < 0 {
			return nil, fmt.Errorf("%s has no <link> or <script> in its head to put the import map before", p)
		}
		body = slices.Concat(body[:at], importMap, body[at:])
		a.shells[p] = newAsset(p, body)
	}
	a.scriptSrc = strings.Join(slices.Sorted(maps.Keys(scripts)), " ")
	return a, nil
}

// firstLoad is where the first <link or <script tag begins, or -1.
func firstLoad(html []byte) int {
	i, j := bytes.Index(html, []byte("<link")), bytes.Index(html, []byte("<script"))
	switch {
	case i < 0:
		return j
	case j < 0:
		return i
	}
	return min(i, j)
}

// url is a static file's versioned URL.
func (a *assets) url(p string) string { return "/static/" + p + "?v=" + a.files[p].version }

// static serves /static/<path>: immutable under the file's current
// version, revalidated by ETag otherwise.
func (a *assets) static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := a.files[strings.TrimPrefix(r.URL.Path, "/static/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if v := r.URL.Query().Get("v"); v != "" && v == f.version {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			// An old page asking for an old version gets the current
			// file, to use once: it must not stay cached under that URL.
			w.Header().Set("Cache-Control", "no-cache")
		}
		f.serve(w, r)
	})
}

// shell serves a page with the hints that apply to the request:
// revalidated on every load, so a new binary's pages (and through them its
// files) are used at once; its ETag names the hints too. Its CSP lets its
// import map run.
func (a *assets) shell(name string, hints ...hint) http.Handler {
	f, ok := a.shells[name]
	if !ok {
		panic("web: no page shell " + name) // the routes name files of the embedded tree; TestEmbeddedAssets checks
	}
	at := firstLoad(f.body) // where the import map begins
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if csp := h.Get("Content-Security-Policy"); csp != "" {
			h.Set("Content-Security-Policy", allowScript(csp, a.scriptSrc))
		}
		h.Set("Cache-Control", "no-cache")
		h.Add("Vary", "Cookie")
		var meta []byte
		for _, hi := range hints {
			meta = append(meta, hi(r)...)
		}
		if len(meta) == 0 {
			f.serve(w, r)
			return
		}
		sum := sha256.Sum256(meta)
		v := asset{name: f.name, body: slices.Concat(f.body[:at], meta, f.body[at:])}
		v.etag = `"` + f.version + "-" + hex.EncodeToString(sum[:4]) + `"`
		v.serve(w, r)
	})
}

func (f asset) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body)) // answers 304 to If-None-Match
}

// allowScript adds a source to a CSP's script-src, starting one from
// default-src if the policy has none.
func allowScript(csp, src string) string {
	dirs := strings.Split(csp, ";")
	def := ""
	for i, d := range dirs {
		f := strings.Fields(d)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "script-src":
			dirs[i] = strings.TrimRight(d, " ") + " " + src
			return strings.Join(dirs, ";")
		case "default-src":
			def = strings.Join(f[1:], " ")
		}
	}
	if def == "" {
		def = "'self'"
	}
	return csp + "; script-src " + def + " " + src
}
