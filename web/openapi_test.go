package web

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/stream"
)

// openAPIOp is the part of an OpenAPI operation the tests look at.
type openAPIOp struct {
	Summary     string                     `json:"summary"`
	Description string                     `json:"description"`
	Responses   map[string]json.RawMessage `json:"responses"`
}

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// loadOpenAPI parses the embedded description and returns its operations
// keyed by "METHOD /path" (OpenAPI path template).
func loadOpenAPI(t *testing.T) (doc map[string]any, ops map[string]openAPIOp) {
	t.Helper()
	if !json.Valid(openAPI) {
		t.Fatal("openapi.json is not valid JSON")
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var shape struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &shape); err != nil {
		t.Fatalf("openapi.json paths: %v", err)
	}
	ops = map[string]openAPIOp{}
	for path, item := range shape.Paths {
		for key, raw := range item {
			if !slices.Contains(openAPIMethods, key) {
				continue // parameters, summary, …
			}
			var op openAPIOp
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", key, path, err)
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return doc, ops
}

func TestOpenAPIIsValid(t *testing.T) {
	doc, ops := loadOpenAPI(t)
	if v := doc["openapi"]; v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	if info, _ := doc["info"].(map[string]any); info["title"] == nil || info["version"] == nil {
		t.Error("info needs title and version")
	}
	if len(ops) == 0 {
		t.Fatal("no operations in paths")
	}
	for key, op := range ops {
		if op.Summary == "" {
			t.Errorf("%s has no summary", key)
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s has no responses", key)
		}
	}
	// Every local $ref must point at something that exists.
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				if !resolves(doc, r) {
					t.Errorf("$ref %q does not resolve", r)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
}

func resolves(doc map[string]any, ref string) bool {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = doc
	for part := range strings.SplitSeq(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// pageRoutes are the HTML pages: not part of the API description.
var pageRoutes = []string{"GET /{$}", "GET /shows/{id}", "GET /studio/{id}", "GET /studio/{id}/guest", "GET /brand", "GET /orders", "GET /brands/{id}", "GET /account", "GET /static/"}

// TestOpenAPIRoutesExist checks that every documented operation is a route
// the server registers, under exactly that pattern.
func TestOpenAPIRoutesExist(t *testing.T) {
	_, ops := loadOpenAPI(t)
	mux := http.NewServeMux()
	s := &Server{Registry: prometheus.NewRegistry(), Live: fakeLive{}, Media: fakeMedia{}} // handlers are never called
	s.routes(mux)

	param := regexp.MustCompile(`\{[^}]+\}`)
	for key := range ops {
		method, path, _ := strings.Cut(key, " ")
		req := httptest.NewRequest(method, param.ReplaceAllString(path, "0b8e3a4e-6f0c-4d5e-9a57-3c1f2f0d9e11"), nil)
		if _, pattern := mux.Handler(req); pattern != key {
			t.Errorf("documented %s, but the server routes it to %q", key, pattern)
		}
	}
}

// TestOpenAPIDocumentsRoutes reads the package source for the route patterns
// the server registers (literal patterns passed to Handle/HandleFunc, and the
// keys of the notBuilt map) and checks that each is documented; routes that
// answer 501 must say so, naming what is missing.
func TestOpenAPIDocumentsRoutes(t *testing.T) {
	_, ops := loadOpenAPI(t)
	registered, notBuilt := sourceRoutes(t)
	for _, want := range []string{"GET /healthz", "POST /api/shows", "GET /brand"} {
		if !slices.Contains(registered, want) {
			t.Fatalf("route %q not found in the source: the source walk is broken", want)
		}
	}

	for _, pattern := range registered {
		if slices.Contains(pageRoutes, pattern) || pattern == "/api/" { // "/api/" is the JSON 404 for unknown API paths
			continue
		}
		if pattern == "GET /metrics" { // MetricsHandler's, on the --metrics-addr listener: not the public API
			continue
		}
		method, path, ok := strings.Cut(pattern, " ")
		if !ok || !strings.HasPrefix(path, "/") {
			t.Errorf("route %q has no method; document it or give it one", pattern)
			continue
		}
		key := method + " " + openAPIPath(path)
		op, ok := ops[key]
		if !ok {
			t.Errorf("route %q is not documented in openapi.json (want %s)", pattern, key)
			continue
		}
		if what, ok := notBuilt[pattern]; ok {
			if !strings.Contains(op.Description, "Not built yet: answers 501") || !strings.Contains(op.Description, what) {
				t.Errorf("%s: description must say \"Not built yet: answers 501\" and name %q; got %q", key, what, op.Description)
			}
			if _, ok := op.Responses["501"]; !ok {
				t.Errorf("%s: no 501 response", key)
			}
		}
	}

	// And the other way: an operation documented as not built must still be one.
	for key, op := range ops {
		if !strings.Contains(op.Description, "Not built yet") {
			continue
		}
		found := false
		for pattern := range notBuilt {
			method, path, _ := strings.Cut(pattern, " ")
			found = found || method+" "+openAPIPath(path) == key
		}
		if !found {
			t.Errorf("%s is documented as not built, but the server no longer answers 501 for it", key)
		}
	}
}

// openAPIPath turns a ServeMux path pattern into an OpenAPI path template.
func openAPIPath(p string) string {
	p = strings.TrimSuffix(p, "{$}")
	return strings.ReplaceAll(p, "...}", "}")
}

var routePatternRE = regexp.MustCompile(`^(?:[A-Z]+ )?/\S*$`)

// sourceRoutes parses the package's non-test Go files and returns the
// literal route patterns they register, and the notBuilt map (pattern: what).
func sourceRoutes(t *testing.T) (registered []string, notBuilt map[string]string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	notBuilt = map[string]string{}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") || len(n.Args) != 2 {
					return true
				}
				if p, ok := stringLit(n.Args[0]); ok {
					registered = append(registered, p)
				}
			case *ast.FuncDecl:
				if n.Name.Name != "notBuilt" || n.Body == nil {
					return true
				}
				ast.Inspect(n.Body, func(m ast.Node) bool {
					kv, ok := m.(*ast.KeyValueExpr)
					if !ok {
						return true
					}
					p, ok := stringLit(kv.Key)
					if !ok || !routePatternRE.MatchString(p) {
						return true
					}
					what, _ := stringLit(kv.Value)
					notBuilt[p] = what
					registered = append(registered, p)
					return true
				})
				return false
			}
			return true
		})
	}
	return registered, notBuilt
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// fakeLive stands in for the live room so its routes get registered.
type fakeLive struct{ http.Handler }

func (fakeLive) Pin(context.Context, *account.User, uuid.UUID, uuid.UUID) error { return nil }
func (fakeLive) Sanctions(context.Context, *account.User, uuid.UUID) ([]chat.Sanction, error) {
	return nil, nil
}
func (fakeLive) Lift(context.Context, *account.User, uuid.UUID, uuid.UUID) error { return nil }

// fakeMedia stands in for the media server so its routes get registered.
type fakeMedia struct{}

func (fakeMedia) WHIP(http.ResponseWriter, *http.Request)    {}
func (fakeMedia) WHEP(http.ResponseWriter, *http.Request)    {}
func (fakeMedia) Delete(http.ResponseWriter, *http.Request)  {}
func (fakeMedia) Patch(http.ResponseWriter, *http.Request)   {}
func (fakeMedia) Options(http.ResponseWriter, *http.Request) {}
func (fakeMedia) Layer(http.ResponseWriter, *http.Request)   {}
func (fakeMedia) Publisher(context.Context, uuid.UUID) (stream.PublisherState, error) {
	return stream.PublisherState{}, nil
}
func (fakeMedia) TakeOver(context.Context, uuid.UUID) (string, error) { return "", nil }
