package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/driver/testpay"
)

// loadSchema reads protocol.json.
func loadSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile("protocol.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("protocol.json is not JSON: %v", err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("protocol.json $schema = %v", doc["$schema"])
	}
	return doc
}

// schemaTypes returns the frame types the schema describes: the "type"
// consts of its client_* and server_* definitions.
func schemaTypes(t *testing.T, doc map[string]any) (client, server map[string]bool) {
	client, server = map[string]bool{}, map[string]bool{}
	for name, def := range doc["$defs"].(map[string]any) {
		props, _ := def.(map[string]any)["properties"].(map[string]any)
		typ, _ := props["type"].(map[string]any)
		c, ok := typ["const"].(string)
		switch {
		case !ok:
		case strings.HasPrefix(name, "client_"):
			client[c] = true
		case strings.HasPrefix(name, "server_"):
			server[c] = true
		}
	}
	return client, server
}

// codeTypes reads the frame types from the package's source: the Type*
// (client) and Ev* (sequenced server events) constants of protocol.go, and
// every `"type": "…"` literal the server builds a frame with.
func codeTypes(t *testing.T) (client, server []string) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "protocol.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, _ := strconv.Unquote(lit.Value)
				switch {
				case strings.HasPrefix(n.Name, "Type"):
					client = append(client, v)
				case strings.HasPrefix(n.Name, "Ev"):
					server = append(server, v)
				}
			}
		}
	}
	files, _ := filepath.Glob("*.go")
	re := regexp.MustCompile(`"type":\s*"([a-z_]+)"`)
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			server = append(server, string(m[1]))
		}
	}
	slices.Sort(client)
	slices.Sort(server)
	return slices.Compact(client), slices.Compact(server)
}

func TestProtocolDescribesEveryFrame(t *testing.T) {
	doc := loadSchema(t)
	inSchema, outSchema := schemaTypes(t, doc)
	client, server := codeTypes(t)
	if len(client) < 8 || len(server) < 14 {
		t.Fatalf("found only client types %v and server types %v in the source", client, server)
	}
	md, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range client {
		if !inSchema[typ] {
			t.Errorf("client frame %q is not in protocol.json", typ)
		}
		if !strings.Contains(string(md), `"type":"`+typ+`"`) {
			t.Errorf("client frame %q has no example in PROTOCOL.md", typ)
		}
	}
	for _, typ := range server {
		if !outSchema[typ] {
			t.Errorf("server frame %q is not in protocol.json", typ)
		}
		if !strings.Contains(string(md), `"type":"`+typ+`"`) {
			t.Errorf("server frame %q has no example in PROTOCOL.md", typ)
		}
	}
	// And the schema describes nothing the server does not have.
	for typ := range inSchema {
		if !slices.Contains(client, typ) {
			t.Errorf("protocol.json describes a client frame %q the server does not know", typ)
		}
	}
	for typ := range outSchema {
		if !slices.Contains(server, typ) {
			t.Errorf("protocol.json describes a server frame %q the server never sends", typ)
		}
	}
	// The emoji list is the server's.
	if got := fmt.Sprint(doc["$defs"].(map[string]any)["emoji"].(map[string]any)["enum"]); got != fmt.Sprint(chat.Reactions) {
		t.Errorf("protocol.json emoji %s, server %v", got, chat.Reactions)
	}
}

// The examples in PROTOCOL.md are frames the schema accepts.
func TestProtocolExamplesMatchSchema(t *testing.T) {
	v := newValidator(t, loadSchema(t))
	md, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	// Examples are the lines of ```json blocks that start with {"seq" or {"type".
	var n int
	inJSON := false
	for i, line := range strings.Split(string(md), "\n") {
		switch {
		case strings.HasPrefix(line, "```json"):
			inJSON = true
			continue
		case strings.HasPrefix(line, "```"):
			inJSON = false
			continue
		}
		if !inJSON || !(strings.HasPrefix(line, `{"type"`) || strings.HasPrefix(line, `{"seq"`)) {
			continue
		}
		n++
		var frame any
		if err := json.Unmarshal([]byte(line), &frame); err != nil {
			t.Errorf("PROTOCOL.md:%d: not JSON: %v", i+1, err)
			continue
		}
		def := "#/$defs/ServerFrame"
		if _, err := chat.Decode([]byte(line)); err == nil && !strings.HasPrefix(line, `{"seq"`) && isClientExample(line) {
			def = "#/$defs/ClientFrame"
		}
		if errs := v.validate(def, frame); len(errs) > 0 {
			t.Errorf("PROTOCOL.md:%d: %s\n%s", i+1, line, strings.Join(errs, "\n"))
		}
	}
	if n < 30 {
		t.Fatalf("found only %d examples in PROTOCOL.md", n)
	}
}

// isClientExample tells a client frame from a server one of the same type
// (chat, pin, drop): server frames carry fields clients never send.
func isClientExample(line string) bool {
	for _, f := range []string{`"user":`, `"offer":`, `"state":`, `"server_time":`, `"at":`} {
		if strings.Contains(line, f) {
			return false
		}
	}
	return true
}

// Every frame the server sends in a session that exercises the whole
// protocol matches protocol.json, and the session produces every kind.
func TestServerFramesMatchSchema(t *testing.T) {
	v := newValidator(t, loadSchema(t))
	w := newWorld(t, memory.NewBus())
	var mu sync.Mutex
	seen := map[string]int{}
	var problems []string
	w.record = func(raw []byte) {
		var frame any
		if err := json.Unmarshal(raw, &frame); err != nil {
			mu.Lock()
			problems = append(problems, fmt.Sprintf("not JSON: %s", raw))
			mu.Unlock()
			return
		}
		errs := v.validate("#/$defs/ServerFrame", frame)
		mu.Lock()
		defer mu.Unlock()
		if m, ok := frame.(map[string]any); ok {
			seen[fmt.Sprint(m["type"])]++
		}
		for _, e := range errs {
			problems = append(problems, fmt.Sprintf("%s\n    in %s", e, raw))
		}
	}
	ctx := context.Background()
	small := w.createOffer(1, 0)
	dropOffer := w.createDrop()

	host, welcome := w.join("host")
	viewer, _ := w.join("viewer")
	anon, _ := w.join("")
	batched, _ := w.joinQuery("member", "?v=2") // protocol version 2: batch frames
	w.addUser("troll")
	troll, _ := w.join("troll")

	viewer.send(map[string]any{"type": "chat", "text": "hello <b>"})
	msg := viewer.next("chat")
	host.send(map[string]any{"type": "moderate", "action": "delete", "seq": seqOf(msg)})
	for _, f := range []map[string]any{
		{"type": "moderate", "action": "mute", "user_id": w.userID("troll"), "seconds": 60},
		{"type": "moderate", "action": "unmute", "user_id": w.userID("troll")},
		{"type": "moderate", "action": "slow", "seconds": 5},
		{"type": "moderate", "action": "slow", "seconds": 0},
		{"type": "moderate", "action": "words", "words": []string{"x"}},
		{"type": "moderate", "action": "words", "words": []string{}},
		{"type": "moderate", "action": "ban", "user_id": w.userID("troll")},
		{"type": "moderate", "action": "unban", "user_id": w.userID("troll")},
		{"type": "pin", "offer_id": w.offer},
		{"type": "pin"},
	} {
		host.send(f)
	}
	troll.closed()
	for range 9 {
		anon.next("moderation")
	}
	anon.next("pin")
	anon.next("pin")
	batched.next("batch")

	viewer.send(map[string]any{"type": "react", "emoji": "fire"})
	anon.next("reactions")
	anon.next("viewers")

	viewer.send(map[string]any{"type": "reserve", "id": "r1", "offer_id": w.offer})
	res := obj(viewer.next("reservation"), "reservation")
	anon.until(offerEvent("stock", w.offer), "stock")
	w.mu.Lock()
	buyer := w.users["viewer"]
	w.mu.Unlock()
	order, _, err := w.shop.PlaceOrder(ctx, buyer, checkout.OrderRequest{ReservationID: uuid.MustParse(res["id"].(string)),
		Shipping:     checkout.Shipping{Name: "Vic Viewer", Line1: "1 Rue de la Paix", City: "Paris", PostalCode: "75002", Country: "FR"},
		PaymentToken: testpay.TokenSuccess})
	if err != nil {
		t.Fatal(err)
	}
	if o := viewer.next("order"); obj(o, "order")["id"] != order.ID.String() {
		t.Fatalf("order frame = %v", o)
	}
	viewer.send(map[string]any{"type": "reserve", "id": "r2", "offer_id": small})
	r2 := obj(viewer.next("reservation"), "reservation")
	anon.until(offerEvent("sold_out", small), "sold_out")
	viewer.send(map[string]any{"type": "release", "id": "rel", "reservation_id": r2["id"]})
	viewer.next("released")
	anon.until(offerEvent("stock", small), "stock")
	viewer.send(map[string]any{"type": "reserve", "id": "r1", "offer_id": w.offer}) // replayed
	viewer.next("reservation")
	viewer.send(map[string]any{"type": "pin", "id": "nope", "offer_id": w.offer})
	viewer.errorFor("nope")
	viewer.send(map[string]any{"type": "mystery"})
	viewer.next("error")

	host.send(map[string]any{"type": "drop", "id": "d", "offer_id": dropOffer, "action": "open", "seconds": 60})
	host.next("drop_set")
	anon.next("drop")
	// A fair draw opens on the plain offer's room and is drawn.
	draws := &checkout.Draws{Checkout: w.shop, Store: w.db}
	hostUser := w.users["host"]
	rec, err := draws.Open(ctx, hostUser, w.show, checkout.OpenDrawRequest{OfferID: small, Seconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	anon.until(func(m map[string]any) bool { return m["type"] == "draw" && m["state"] == "open" }, "draw")
	if _, err := draws.Enter(ctx, buyer, w.show, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := draws.Close(ctx, hostUser, w.show, rec.ID); err != nil {
		t.Fatal(err)
	}
	anon.until(func(m map[string]any) bool { return m["type"] == "draw" && m["state"] == "drawn" }, "draw")
	host.send(map[string]any{"type": "drop", "id": "d2", "offer_id": dropOffer, "action": "close"})
	host.next("drop_set")
	last := seqOf(anon.next("drop"))
	back, _, err := w.dial("viewer", fmt.Sprintf("?epoch=%s&after=%d", welcome["epoch"], last-1))
	if err != nil {
		t.Fatal(err)
	}
	back.next("resumed")
	sh, err := w.db.ShowByID(ctx, w.show)
	if err != nil {
		t.Fatal(err)
	}
	sh.Title += ": encore"
	w.hub.ShowChanged(ctx, sh) // as show.Service.Update does
	anon.next("show")
	guest := uuid.New()
	w.hub.StageChanged(ctx, cohost.Stage{ShowID: w.show, Layout: cohost.PiP, GuestID: &guest, GuestName: "Ana", Rev: 1, UpdatedAt: time.Now().UTC()}, cohost.ChangeJoined) // as cohost.Service does
	anon.next("stage")
	host.send(map[string]any{"type": "end"})
	anon.next("show_state")
	reset, _, err := w.dial("viewer", "?epoch=old&after=1")
	if err != nil {
		t.Fatal(err)
	}
	reset.next("welcome")

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	_, server := schemaTypes(t, v.doc)
	for typ := range server {
		if seen[typ] == 0 {
			t.Errorf("the session produced no %q frame to check", typ)
		}
	}
}

// createDrop adds a flash-drop offer (closed) of the noir bag's SKU.
func (w *world) createDrop() uuid.UUID {
	w.t.Helper()
	ctx := context.Background()
	bag, err := w.db.OfferByID(ctx, w.offer)
	if err != nil {
		w.t.Fatal(err)
	}
	o := &checkout.Offer{ID: uuid.New(), ShowID: w.show, SKUID: bag.SKUID, PriceMinor: 199000, Currency: "EUR",
		Allocated: 1, PerCustomerLimit: 1, Drop: true, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := w.db.CreateOffer(ctx, o); err != nil {
		w.t.Fatal(err)
	}
	return o.ID
}

// Sample client frames: the schema accepts what Decode accepts, and
// refuses some of what Decode refuses.
func TestClientFramesMatchSchema(t *testing.T) {
	v := newValidator(t, loadSchema(t))
	id := uuid.NewString()
	good := []string{
		`{"type":"chat","text":"hi"}`,
		`{"type":"chat","id":"m1","text":"<img src=x onerror=alert(1)>"}`,
		`{"type":"react","emoji":"clap"}`,
		`{"type":"tap","offer_id":"` + id + `"}`,
		`{"type":"tap","id":"t1","offer_id":"` + id + `"}`,
		`{"type":"reserve","id":"tap-1","offer_id":"` + id + `","quantity":2}`,
		`{"type":"reserve","offer_id":"` + id + `"}`,
		`{"type":"release","id":"r","reservation_id":"` + id + `"}`,
		`{"type":"resume","epoch":"E","after":12}`,
		`{"type":"resume","epoch":"E"}`,
		`{"type":"moderate","action":"delete","seq":3}`,
		`{"type":"moderate","action":"mute","user_id":"` + id + `","seconds":600}`,
		`{"type":"moderate","action":"unmute","user_id":"` + id + `"}`,
		`{"type":"moderate","action":"ban","user_id":"` + id + `"}`,
		`{"type":"moderate","action":"unban","user_id":"` + id + `"}`,
		`{"type":"moderate","action":"slow","seconds":10}`,
		`{"type":"moderate","action":"slow"}`,
		`{"type":"moderate","action":"words","words":["fake"]}`,
		`{"type":"pin","offer_id":"` + id + `"}`,
		`{"type":"pin"}`,
		`{"type":"drop","id":"d","offer_id":"` + id + `","action":"open","seconds":60}`,
		`{"type":"drop","offer_id":"` + id + `","action":"close"}`,
		`{"type":"end","id":"bye"}`,
	}
	bad := []string{
		`{"type":"chat"}`,
		`{"type":"chat","text":"hi","colour":"red"}`,
		`{"type":"shout"}`,
		`{"type":"react","emoji":"skull"}`,
		`{"type":"tap"}`,
		`{"type":"tap","offer_id":"nope"}`,
		`{"type":"reserve"}`,
		`{"type":"reserve","offer_id":"nope"}`,
		`{"type":"resume","after":1}`,
		`{"type":"moderate","action":"mute","user_id":"` + id + `"}`,
		`{"type":"moderate","action":"nuke"}`,
		`{"type":"end","id":"` + strings.Repeat("x", 65) + `"}`,
	}
	for _, s := range good {
		var frame any
		_ = json.Unmarshal([]byte(s), &frame)
		if errs := v.validate("#/$defs/ClientFrame", frame); len(errs) > 0 {
			t.Errorf("schema refuses %s: %v", s, errs)
		}
		if _, err := chat.Decode([]byte(s)); err != nil {
			t.Errorf("Decode refuses %s: %v", s, err)
		}
	}
	for _, s := range bad {
		var frame any
		_ = json.Unmarshal([]byte(s), &frame)
		if errs := v.validate("#/$defs/ClientFrame", frame); len(errs) == 0 {
			t.Errorf("schema accepts %s", s)
		}
		if _, err := chat.Decode([]byte(s)); err == nil {
			t.Errorf("Decode accepts %s", s)
		}
	}
}

// validator checks instances against the subset of JSON Schema 2020-12
// that protocol.json uses. A keyword it does not know fails the test, so
// the schema cannot say more than is checked here.
type validator struct {
	t   *testing.T
	doc map[string]any
}

func newValidator(t *testing.T, doc map[string]any) *validator { return &validator{t: t, doc: doc} }

var annotations = map[string]bool{"$schema": true, "$id": true, "$defs": true, "title": true, "description": true, "$comment": true, "examples": true}

func (v *validator) validate(ref string, x any) []string {
	return v.check(map[string]any{"$ref": ref}, x, "")
}

func (v *validator) resolve(ref string) map[string]any {
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	def, _ := v.doc["$defs"].(map[string]any)[name].(map[string]any)
	if !ok || def == nil {
		v.t.Fatalf("protocol.json: unresolvable $ref %q", ref)
	}
	return def
}

func (v *validator) check(s map[string]any, x any, at string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kw := s[k]
		switch k {
		case "$ref":
			errs = append(errs, v.check(v.resolve(kw.(string)), x, at)...)
		case "type":
			if !hasType(x, kw.(string)) {
				fail("want %s, got %T %v", kw, x, x)
			}
		case "const":
			if fmt.Sprint(kw) != fmt.Sprint(x) || (kw == nil) != (x == nil) {
				fail("want %v, got %v", kw, x)
			}
		case "enum":
			found := false
			for _, e := range kw.([]any) {
				found = found || e == x
			}
			if !found {
				fail("%v is not one of %v", x, kw)
			}
		case "properties":
			m, ok := x.(map[string]any)
			if !ok {
				break
			}
			for name, ps := range kw.(map[string]any) {
				if val, ok := m[name]; ok {
					errs = append(errs, v.check(ps.(map[string]any), val, at+"."+name)...)
				}
			}
		case "required":
			m, ok := x.(map[string]any)
			if !ok {
				break
			}
			for _, name := range kw.([]any) {
				if _, ok := m[name.(string)]; !ok {
					fail("missing %q", name)
				}
			}
		case "additionalProperties":
			m, ok := x.(map[string]any)
			if !ok {
				break
			}
			props, _ := s["properties"].(map[string]any)
			for name, val := range m {
				if _, ok := props[name]; ok {
					continue
				}
				switch ap := kw.(type) {
				case bool:
					if !ap {
						fail("unexpected field %q", name)
					}
				case map[string]any:
					errs = append(errs, v.check(ap, val, at+"."+name)...)
				}
			}
		case "propertyNames":
			if m, ok := x.(map[string]any); ok {
				for name := range m {
					errs = append(errs, v.check(kw.(map[string]any), name, at+" key "+name)...)
				}
			}
		case "items":
			if a, ok := x.([]any); ok {
				for i, e := range a {
					errs = append(errs, v.check(kw.(map[string]any), e, fmt.Sprintf("%s[%d]", at, i))...)
				}
			}
		case "maxItems":
			if a, ok := x.([]any); ok && len(a) > int(kw.(float64)) {
				fail("more than %v items", kw)
			}
		case "oneOf", "anyOf":
			matched := 0
			var sub []string
			for _, alt := range kw.([]any) {
				if e := v.check(alt.(map[string]any), x, at); len(e) == 0 {
					matched++
				} else {
					sub = append(sub, e...)
				}
			}
			if matched == 0 {
				fail("matches none of %s:\n      %s", k, strings.Join(sub, "\n      "))
			} else if k == "oneOf" && matched > 1 {
				fail("matches %d alternatives of oneOf", matched)
			}
		case "minimum", "maximum":
			if n, ok := x.(float64); ok && ((k == "minimum" && n < kw.(float64)) || (k == "maximum" && n > kw.(float64))) {
				fail("%v is out of range (%s %v)", n, k, kw)
			}
		case "minLength", "maxLength":
			if str, ok := x.(string); ok {
				n := utf8.RuneCountInString(str)
				if (k == "minLength" && n < int(kw.(float64))) || (k == "maxLength" && n > int(kw.(float64))) {
					fail("length %d is out of range (%s %v)", n, k, kw)
				}
			}
		case "format":
			str, ok := x.(string)
			if !ok {
				break
			}
			switch kw {
			case "uuid":
				if _, err := uuid.Parse(str); err != nil || len(str) != 36 {
					fail("%q is not a UUID", str)
				}
			case "date-time":
				if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
					fail("%q is not an RFC 3339 time", str)
				}
			default:
				v.t.Fatalf("protocol.json: unchecked format %v", kw)
			}
		default:
			if !annotations[k] {
				v.t.Fatalf("protocol.json uses %q, which this test does not check", k)
			}
		}
	}
	return errs
}

func hasType(x any, typ string) bool {
	switch typ {
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "null":
		return x == nil
	case "integer":
		n, ok := x.(float64)
		return ok && n == math.Trunc(n)
	case "number":
		_, ok := x.(float64)
		return ok
	}
	return false
}
