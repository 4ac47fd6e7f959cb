package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/stream"
)

func testTree(player string) fstest.MapFS {
	return fstest.MapFS{
		"index.html": {Data: []byte(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>t</title>
<script src="/static/js/boot.js" data-inline></script>
<link rel="modulepreload" href="/static/js/rtc.js">
<script type="module" src="/static/js/player.js"></script>
<link rel="stylesheet" href="/static/base.css">
</head>
<body></body>
</html>`)},
		"js/player.js":  {Data: []byte(player)},
		"js/rtc.js":     {Data: []byte(`export const rtc = 1;`)},
		"js/boot.js":    {Data: []byte(`window.booted = 1;`)},
		"base.css":      {Data: []byte(`body{}`)},
		"i18n/en.json":  {Data: []byte(`{"a":"b"}`)},
		"demo/logo.svg": {Data: []byte(`<svg/>`)},
	}
}

func mustAssets(t *testing.T, root fs.FS) *assets {
	t.Helper()
	a, err := loadAssets(root)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

var (
	importMapRE = regexp.MustCompile(`<script type="importmap">(.*?)</script>`)
	plainLink   = regexp.MustCompile(`(?:href|src)="/static/[^"?]*"`)
)

// TestAssetVersions: the shell links every file by its content hash, its
// import map maps each module's and table's plain URL to that URL, and a
// changed file (only that one) gets a new URL and ETag.
func TestAssetVersions(t *testing.T) {
	a := mustAssets(t, testTree(`import "./rtc.js";`))
	shell := string(a.shells["index.html"].body)
	for _, p := range []string{"js/rtc.js", "js/player.js", "base.css"} {
		if !strings.Contains(shell, `"`+a.url(p)+`"`) {
			t.Errorf("the shell does not link %s as %s:\n%s", p, a.url(p), shell)
		}
	}
	if plainLink.MatchString(shell) {
		t.Errorf("the shell still has an unversioned link:\n%s", shell)
	}
	if i, j := strings.Index(shell, `<script type="importmap">`), strings.Index(shell, "<link"); i < 0 || i > j || i < strings.Index(shell, "<meta charset") {
		t.Errorf("the import map is not after <meta charset> and before the first link:\n%s", shell)
	}
	m := importMapRE.FindStringSubmatch(shell)
	if m == nil {
		t.Fatalf("no import map in\n%s", shell)
	}
	var im struct{ Imports map[string]string }
	if err := json.Unmarshal([]byte(m[1]), &im); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"/static/js/rtc.js": a.url("js/rtc.js"), "/static/js/boot.js": a.url("js/boot.js"), "/static/js/player.js": a.url("js/player.js"), "/static/i18n/en.json": a.url("i18n/en.json")}
	if len(im.Imports) != len(want) {
		t.Errorf("import map %v, want %v", im.Imports, want)
	}
	for k, v := range want {
		if im.Imports[k] != v {
			t.Errorf("import map maps %s to %q, want %q", k, im.Imports[k], v)
		}
	}
	sum := sha256.Sum256([]byte(m[1]))
	if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; a.importHash != h || !strings.Contains(a.scriptSrc, h) {
		t.Errorf("import map hash %s (script-src %s), the map's is %s", a.importHash, a.scriptSrc, h)
	}
	// boot.js is written into the page, before the first module, and
	// allowed by its hash.
	boot := "<script>window.booted = 1;</script>"
	if i := strings.Index(shell, boot); i < 0 || i > strings.Index(shell, `<link rel="modulepreload"`) || strings.Contains(shell, "data-inline") {
		t.Errorf("boot.js is not inlined before the first module:\n%s", shell)
	}
	sum = sha256.Sum256([]byte("window.booted = 1;"))
	if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(a.scriptSrc, h) {
		t.Errorf("script-src %s lacks boot.js's hash %s", a.scriptSrc, h)
	}

	b := mustAssets(t, testTree(`import "./rtc.js"; export const changed = true;`))
	if a.url("js/player.js") == b.url("js/player.js") || a.files["js/player.js"].etag == b.files["js/player.js"].etag {
		t.Errorf("a changed player.js kept its URL %s", b.url("js/player.js"))
	}
	if a.url("js/rtc.js") != b.url("js/rtc.js") || a.url("base.css") != b.url("base.css") {
		t.Errorf("unchanged files changed URL: %s → %s, %s → %s", a.url("js/rtc.js"), b.url("js/rtc.js"), a.url("base.css"), b.url("base.css"))
	}
	if a.shells["index.html"].etag == b.shells["index.html"].etag || a.importHash == b.importHash {
		t.Errorf("the shell's ETag or import map did not change with player.js")
	}
}

func TestAssetsRefuseAMissingLink(t *testing.T) {
	tree := testTree("")
	delete(tree, "js/rtc.js")
	if _, err := loadAssets(tree); err == nil || !strings.Contains(err.Error(), "js/rtc.js") {
		t.Fatalf("a shell linking a missing file: %v, want an error naming it", err)
	}
	tree = testTree("")
	tree["js/boot.js"] = &fstest.MapFile{Data: []byte(`document.write("</script>");`)}
	if _, err := loadAssets(tree); err == nil || !strings.Contains(err.Error(), "js/boot.js") {
		t.Fatalf("inlining a script that closes the element: %v, want an error naming it", err)
	}
}

func get(t *testing.T, h http.Handler, url string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestAssetCaching: a versioned URL is immutable, a plain or stale one is
// revalidated, the shell is revalidated, and revalidation answers 304
// without a body; the shell's CSP lets its import map run.
func TestAssetCaching(t *testing.T) {
	a := mustAssets(t, testTree(`import "./rtc.js";`))
	mux := http.NewServeMux()
	mux.Handle("GET /static/", a.static())
	mux.Handle("GET /{$}", a.shell("index.html"))
	h := securityHeaders(mux)

	f := a.files["js/player.js"]
	w := get(t, h, a.url("js/player.js"))
	if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" || w.Header().Get("ETag") != f.etag ||
		w.Body.String() != string(f.body) || !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
		t.Errorf("versioned module: %d, %v, %q", w.Code, w.Header(), w.Body.String())
	}
	for _, u := range []string{"/static/js/player.js", "/static/js/player.js?v=0123456789abcdef"} {
		w = get(t, h, u)
		if w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" || w.Header().Get("ETag") != f.etag {
			t.Errorf("%s: %d, %v; want 200, no-cache and the ETag", u, w.Code, w.Header())
		}
		w = get(t, h, u, "If-None-Match", f.etag)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("%s revalidated: %d with %d bytes, want 304 and none", u, w.Code, w.Body.Len())
		}
		if w = get(t, h, u, "If-None-Match", `"stale"`); w.Code != 200 {
			t.Errorf("%s with a stale ETag: %d, want 200", u, w.Code)
		}
	}
	if w = get(t, h, "/static/js/nothing.js"); w.Code != 404 {
		t.Errorf("missing file: %d", w.Code)
	}

	s := a.shells["index.html"]
	w = get(t, h, "/")
	if w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" || w.Header().Get("ETag") != s.etag || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Errorf("shell: %d, %v; want 200, no-cache, its ETag, HTML", w.Code, w.Header())
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "; script-src 'self' "+a.scriptSrc) || !strings.Contains(a.scriptSrc, a.importHash) || strings.Count(a.scriptSrc, "'sha256-") != 2 ||
		!strings.HasPrefix(csp, "default-src 'self';") {
		t.Errorf("shell CSP %q lacks script-src 'self' and the two inline scripts' hashes", csp)
	}
	if w = get(t, h, "/", "If-None-Match", s.etag); w.Code != http.StatusNotModified {
		t.Errorf("shell revalidated: %d, want 304", w.Code)
	}
}

func TestAllowScript(t *testing.T) {
	for csp, want := range map[string]string{
		"default-src 'self'; img-src https:":                   "default-src 'self'; img-src https:; script-src 'self' 'h'",
		"default-src 'self'; script-src 'self' https://x; a b": "default-src 'self'; script-src 'self' https://x 'h'; a b",
		"img-src https:": "img-src https:; script-src 'self' 'h'",
	} {
		if got := allowScript(csp, "'h'"); got != want {
			t.Errorf("allowScript(%q) = %q, want %q", csp, got, want)
		}
	}
}

// TestEmbeddedAssets: the real pages load (every link names a file) and
// every route's shell exists.
func TestEmbeddedAssets(t *testing.T) {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		t.Fatal(err)
	}
	a := mustAssets(t, sub)
	for _, name := range []string{"index.html", "player.html", "studio.html", "guest.html", "brand.html", "orders.html", "brand-page.html", "account.html"} {
		s, ok := a.shells[name]
		if !ok {
			t.Errorf("no shell %s", name)
			continue
		}
		if !importMapRE.Match(s.body) || plainLink.Match(s.body) {
			t.Errorf("%s: no import map, or an unversioned module link", name)
		}
	}
}

// airMedia is a media server whose only answer is whether a show is on air.
type airMedia struct {
	Media
	live bool
	err  error
}

func (m airMedia) Publisher(context.Context, uuid.UUID) (stream.PublisherState, error) {
	return stream.PublisherState{Live: m.live}, m.err
}

// TestShellHints: a request without a session cookie gets the visitor
// hint, a player whose show is not on air the video hint, both before the
// first script and named by the ETag; with a cookie and a live show the
// shell is the plain one.
func TestShellHints(t *testing.T) {
	a := mustAssets(t, testTree(`import "./rtc.js";`))
	const visitor, offAir = `<meta name="pavilion-session" content="none">`, `<meta name="pavilion-video" content="off">`
	show := "/shows/" + uuid.NewString()
	for _, c := range []struct {
		name            string
		media           Media
		path            string
		cookie          bool
		visitor, offAir bool
	}{
		{"visitor, live", airMedia{live: true}, show, false, true, false},
		{"signed in, live", airMedia{live: true}, show, true, false, false},
		{"signed in, off air", airMedia{}, show, true, false, true},
		{"visitor, off air", airMedia{}, show, false, true, true},
		{"media server fails", airMedia{err: errors.New("redis down")}, show, true, false, false},
		{"no media server", nil, show, true, false, false},
		{"malformed show id", airMedia{}, "/shows/nope", true, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{Media: c.media}
			mux := http.NewServeMux()
			mux.Handle("GET /shows/{id}", a.shell("index.html", sessionHint, s.videoHint))
			var hdr []string
			if c.cookie {
				hdr = []string{"Cookie", SessionCookie + "=x"}
			}
			w := get(t, mux, c.path, hdr...)
			body := w.Body.String()
			if strings.Contains(body, visitor) != c.visitor || strings.Contains(body, offAir) != c.offAir {
				t.Fatalf("visitor hint %v, off-air hint %v; want %v, %v:\n%s", strings.Contains(body, visitor), strings.Contains(body, offAir), c.visitor, c.offAir, body)
			}
			etag := w.Header().Get("ETag")
			if plain := !c.visitor && !c.offAir; plain != (etag == a.shells["index.html"].etag) {
				t.Errorf("ETag %s for the shell %s", etag, map[bool]string{true: "as it is", false: "with hints"}[plain])
			}
			if (c.visitor || c.offAir) && strings.Index(body, "<meta name=\"pavilion-") > strings.Index(body, "<script") {
				t.Errorf("a hint after the first script:\n%s", body)
			}
			if w = get(t, mux, c.path, append(hdr, "If-None-Match", etag)...); w.Code != http.StatusNotModified {
				t.Errorf("revalidated with its ETag: %d, want 304", w.Code)
			}
		})
	}
}
