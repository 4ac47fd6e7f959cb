package e2e

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// These checks read the page sources and need no browser.

const staticDir = "../static"

func readTable(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(staticDir, "i18n", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	return m
}

func sources(t *testing.T, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(staticDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ext) {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %s files under %s", ext, staticDir)
	}
	return out
}

// TestStringTables: both languages have the same keys, no empty strings,
// and the same {placeholders}.
func TestStringTables(t *testing.T) {
	en, zh := readTable(t, "en"), readTable(t, "zh-CN")
	ph := regexp.MustCompile(`\{\w+\}`)
	for k, v := range en {
		z, ok := zh[k]
		if !ok {
			t.Errorf("zh-CN lacks %q", k)
			continue
		}
		if strings.TrimSpace(v) == "" || strings.TrimSpace(z) == "" {
			t.Errorf("%q is empty in a table", k)
		}
		a, b := ph.FindAllString(v, -1), ph.FindAllString(z, -1)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("%q: placeholders %v in English, %v in Chinese", k, a, b)
		}
	}
	for k := range zh {
		if _, ok := en[k]; !ok {
			t.Errorf("en lacks %q", k)
		}
	}
}

// TestStringsUsed: every key the markup and scripts name exists, and every
// error code the API can answer has a message.
func TestStringsUsed(t *testing.T) {
	en := readTable(t, "en")
	keyRE := regexp.MustCompile(`(?:data-i18n(?:-label|-placeholder|-title)?=|i18n: |"data-i18n-label": |\bt\()"([a-zA-Z0-9_.-]+)"`)
	for _, files := range []map[string]string{sources(t, ".html"), sources(t, ".js")} {
		for name, src := range files {
			for _, m := range keyRE.FindAllStringSubmatch(src, -1) {
				if strings.HasSuffix(m[1], ".") { // a prefix the script completes ("order.state." + state)
					if !slices.ContainsFunc(slices.Collect(maps.Keys(en)), func(k string) bool { return strings.HasPrefix(k, m[1]) }) {
						t.Errorf("%s uses keys starting %q; there are none", name, m[1])
					}
					continue
				}
				if _, ok := en[m[1]]; !ok {
					t.Errorf("%s uses %q, which is in no string table", name, m[1])
				}
			}
		}
	}
	codes := []apperr.Code{apperr.Invalid, apperr.Unauthorized, apperr.Forbidden, apperr.NotFound, apperr.Conflict, apperr.Gone,
		apperr.TooLarge, apperr.Unprocessable, apperr.SoldOut, apperr.LimitReached, apperr.DropClosed, apperr.PaymentFailed,
		apperr.RateLimited, apperr.Unavailable, apperr.NotImplemented, apperr.Internal}
	for _, c := range codes {
		if _, ok := en["err."+string(c)]; !ok {
			t.Errorf("no message for error code %q", c)
		}
	}
	for _, st := range []string{"pending", "paid", "fulfilled", "cancelled", "refunded"} {
		if _, ok := en["order.state."+st]; !ok {
			t.Errorf("no name for order state %q", st)
		}
	}
	for _, r := range []string{"heart", "fire", "clap", "wow", "laugh", "bag"} {
		if _, ok := en["react."+r]; !ok {
			t.Errorf("no name for reaction %q", r)
		}
	}
}

// TestNoInlineCodeOrWords: the CSP forbids inline scripts and styles, user
// text must never be parsed as HTML, and the words live in the tables.
func TestNoInlineCodeOrWords(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\sstyle=|\son[a-z]+=|<style`)
	tags := regexp.MustCompile(`(?s)<!--.*?-->|<script.*?</script>|<title[^>]*>.*?</title>|<[^>]+>`)
	for name, src := range sources(t, ".html") {
		if inline.MatchString(src) {
			t.Errorf("%s has an inline script, style or event handler: %q", name, inline.FindString(src))
		}
		body := src[strings.Index(src, "<body"):]
		for _, word := range strings.Fields(tags.ReplaceAllString(body, " ")) {
			if strings.Trim(word, "·|–-") != "" {
				t.Errorf("%s has words in its markup: %q", name, word)
			}
		}
	}
	sink := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(`)
	for name, src := range sources(t, ".js") {
		if m := sink.FindString(src); m != "" {
			t.Errorf("%s uses %s: text must go in as textContent", name, m)
		}
	}
}

// TestModulePreloads: a page that lists modulepreloads lists every module
// its scripts import, however deep, and no other: a module left off is
// fetched only once its importer is parsed, one round trip per level, and
// the page waits for the slowest chain.
func TestModulePreloads(t *testing.T) {
	preload := regexp.MustCompile(`<link rel="modulepreload" href="/static/js/([\w.-]+)">`)
	script := regexp.MustCompile(`<script type="module"[^>]* src="/static/js/([\w.-]+)">`)
	imports := regexp.MustCompile(`(?m)^import\s[^;]*?from\s+"\./([\w.-]+)";`)
	js := map[string]string{}
	for p, src := range sources(t, ".js") {
		js[filepath.Base(p)] = src
	}
	for name, src := range sources(t, ".html") {
		listed := map[string]bool{}
		for _, m := range preload.FindAllStringSubmatch(src, -1) {
			listed[m[1]] = true
		}
		if len(listed) == 0 {
			continue
		}
		need := map[string]bool{}
		var walk func(f string)
		walk = func(f string) {
			for _, m := range imports.FindAllStringSubmatch(js[f], -1) {
				if !need[m[1]] {
					need[m[1]] = true
					walk(m[1])
				}
			}
		}
		scripts := map[string]bool{}
		for _, m := range script.FindAllStringSubmatch(src, -1) {
			scripts[m[1]] = true
			walk(m[1])
		}
		for f := range need {
			if !listed[f] && !scripts[f] {
				t.Errorf("%s: module %s is imported but not modulepreloaded", name, f)
			}
		}
		for f := range listed {
			if !need[f] && !scripts[f] {
				t.Errorf("%s: modulepreloads %s, which none of its scripts imports", name, f)
			}
		}
	}
}
