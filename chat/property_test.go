package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/show"
)

// The property: whatever a client sends, whoever it is, the node serves on
// and answers only with frames of the protocol. Frames of every type, from
// every role, carry fields drawn from edge values (missing, null, the wrong
// JSON type, empty, huge, ids of other users, shows and offers, offers that
// are not flash drops, negative and overflowing numbers) by a seeded PRNG.
// A failure names the seed; PAVILION_PROPERTY_SEED=<seed> replays the run.

// propertyRoles are who sends: "" is anonymous; otherhost hosts no show
// here; rival administers another brand; admin is a platform admin.
var propertyRoles = []string{"", "viewer", "member", "otherhost", "host", "brand", "admin", "rival"}

// staffRoles may moderate this show. The test never bans them, so one of
// them (admin) can always lift the bans of the others.
var staffRoles = []string{"host", "brand", "admin"}

var propertyTypes = []string{chat.TypeChat, chat.TypeReact, chat.TypeTap, chat.TypeReserve, chat.TypeRelease,
	chat.TypeResume, chat.TypeModerate, chat.TypePin, chat.TypeDrop, chat.TypeEnd}

var moderateActions = []string{chat.ActDelete, chat.ActMute, chat.ActUnmute, chat.ActBan, chat.ActUnban, chat.ActSlow, chat.ActWords}

func TestAnyFrameFromAnyoneKeepsTheNodeServing(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PAVILION_PROPERTY_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("PAVILION_PROPERTY_SEED: %v", err)
		}
	}
	t.Logf("seed %d (PAVILION_PROPERTY_SEED=%d replays this run)", seed, seed)
	rounds := 12
	if testing.Short() {
		rounds = 4
	}

	reg := prometheus.NewRegistry()
	w := newWorld(t, memory.NewBus(), withRegistry(reg))
	g := &frameGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), fx: newPropertyFixtures(w)}
	p := &propertyRun{t: t, w: w, seed: seed, v: newValidator(t, loadSchema(t)), g: g,
		codes: documentedErrorCodes(t), closes: documentedCloseCodes(t), peers: map[string]*peer{}}
	for _, role := range propertyRoles {
		p.connect(role)
	}

	for round := range rounds {
		// Ending the show is for keeps: most rounds run a live show, the
		// last ones add end frames (and then run an ended one).
		types := propertyTypes
		if round < rounds*3/4 {
			types = slices.DeleteFunc(slices.Clone(types), func(s string) bool { return s == chat.TypeEnd })
		}
		type send struct{ role, typ string }
		var batch []send
		for _, role := range propertyRoles {
			for _, typ := range types {
				batch = append(batch, send{role, typ})
			}
		}
		g.rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		for _, s := range batch {
			pr := p.peers[s.role]
			if pr == nil || pr.isClosed() {
				p.heal()
				pr = p.peers[s.role]
			}
			kind, data := g.frame(s.role, s.typ)
			p.sent++
			_ = pr.ws.WriteMessage(kind, data) // a closed connection shows up at the checkpoint
		}
		p.checkpoint(fmt.Sprintf("round %d", round))
	}
	if n := panics(t, reg, "chat_reader") + panics(t, reg, "chat_writer") + panics(t, reg, "chat_bus"); n != 0 {
		t.Fatalf("seed %d: %v panics were recovered: a frame reached a bug", seed, n)
	}
	t.Logf("%d frames sent, %d frames received, close codes %v, frames by type %v", p.sent, p.answered, p.closeCodes, p.seen)
}

// propertyFixtures are the ids frames draw from.
type propertyFixtures struct {
	show, brand, otherShow        uuid.UUID
	plain, drop, small, otherShop uuid.UUID // offers: not a drop, a drop, one unit, another show's
	users                         map[string]uuid.UUID
	mu                            sync.Mutex
	reservations                  []uuid.UUID // seen in answers, anyone's
	epoch                         string
}

func newPropertyFixtures(w *world) *propertyFixtures {
	t := w.t
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	sh, err := w.db.ShowByID(ctx, w.show)
	if err != nil {
		t.Fatal(err)
	}
	fx := &propertyFixtures{show: w.show, brand: sh.BrandID, plain: w.offer, users: map[string]uuid.UUID{}}
	fx.drop = w.createDrop()
	fx.small = w.createOffer(1, 0)
	// Another show of the brand, members-only, with an offer of its own.
	other := &show.Show{ID: uuid.New(), BrandID: sh.BrandID, Title: "Another show", Kind: show.KindShow, Visibility: show.Members,
		State: show.Scheduled, StartsAt: now.Add(72 * time.Hour), EndsAt: now.Add(73 * time.Hour), TimeZone: "UTC",
		HostIDs: []uuid.UUID{}, CreatedAt: now, UpdatedAt: now}
	if err := w.db.CreateShow(ctx, other); err != nil {
		t.Fatal(err)
	}
	fx.otherShow = other.ID
	bag, err := w.db.OfferByID(ctx, w.offer)
	if err != nil {
		t.Fatal(err)
	}
	o := &checkout.Offer{ID: uuid.New(), ShowID: other.ID, SKUID: bag.SKUID, PriceMinor: 1000, Currency: "EUR", Allocated: 1, CreatedAt: now}
	if err := w.db.CreateOffer(ctx, o); err != nil {
		t.Fatal(err)
	}
	fx.otherShop = o.ID

	w.addUser("otherhost", account.RoleHost)
	w.addUser("admin", account.RoleAdmin)
	rivalBrand := &brand.Brand{ID: uuid.New(), Slug: "rival", Name: "Rival", CreatedAt: now, UpdatedAt: now}
	if err := w.db.CreateBrand(ctx, rivalBrand); err != nil {
		t.Fatal(err)
	}
	rival := &account.User{ID: uuid.New(), Email: "rival@test.example", DisplayName: "Rival Admin",
		Roles: []account.Role{account.RoleBrandAdmin}, BrandIDs: []uuid.UUID{rivalBrand.ID}, CreatedAt: now}
	if err := w.db.CreateUser(ctx, rival, "not-a-hash"); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.users["rival"] = rival
	for _, role := range propertyRoles {
		if u := w.users[role]; u != nil {
			fx.users[role] = u.ID
		}
	}
	w.mu.Unlock()

	// The show goes live, as the room hears it in production.
	live, err := w.db.Transition(ctx, w.show, show.Live, now)
	if err != nil {
		t.Fatal(err)
	}
	w.hub.ShowStateChanged(ctx, live)
	return fx
}

func (fx *propertyFixtures) sawReservation(id uuid.UUID) {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	if len(fx.reservations) < 50 {
		fx.reservations = append(fx.reservations, id)
	}
}

// frameGen draws frames.
type frameGen struct {
	rng *rand.Rand
	fx  *propertyFixtures
	n   int
}

// missing leaves a field out.
type missingField struct{}

var missing = missingField{}

// raw is a JSON number literal no Go value marshals to (overflowing ints, 1e400).
func raw(s string) json.RawMessage { return json.RawMessage(s) }

// edges are values that fit no field, or sit at the edge of every field.
var edges = []any{missing, nil, true, false, 0, -1, 1.5, "", " ", "x", []any{}, map[string]any{}, []any{nil},
	raw("1e400"), raw("-1e400"), raw("18446744073709551616"), raw("-9223372036854775809"), raw("9223372036854775807"),
	raw("-0"), strings.Repeat("é", 1000), "\u0000", "\u202e\u2066", "<script>alert(1)</script>"}

// pick returns one of the good values (well-typed, often valid) five
// times in six, an edge value otherwise: a frame has a few fields, and one
// edge in any of them stops most frames at the decoder, before the paths
// behind it.
func (g *frameGen) pick(good ...any) any {
	if len(good) > 0 && g.rng.IntN(6) < 5 {
		return good[g.rng.IntN(len(good))]
	}
	return edges[g.rng.IntN(len(edges))]
}

func (g *frameGen) offers() []any {
	fx := g.fx
	// This show's offers (a plain one, a flash drop, a one-unit one) come
	// up most, so frames get past "not found" to the rules behind it.
	return []any{fx.plain, fx.drop, fx.small, fx.plain, fx.drop, fx.small, fx.plain, fx.drop, fx.small,
		fx.otherShop, fx.show, fx.brand, fx.otherShow, uuid.New(), uuid.Nil, "not-a-uuid"}
}

func (g *frameGen) users(role string, forBan bool) []any {
	var out []any
	for r, id := range g.fx.users {
		if forBan && slices.Contains(staffRoles, r) {
			continue
		}
		out = append(out, id)
	}
	if own, ok := g.fx.users[role]; ok && !forBan {
		out = append(out, own)
	}
	return append(out, uuid.New(), uuid.Nil, g.fx.show, g.fx.brand)
}

func (g *frameGen) reservations() []any {
	g.fx.mu.Lock()
	defer g.fx.mu.Unlock()
	out := []any{uuid.New(), uuid.Nil, g.fx.plain}
	for _, id := range g.fx.reservations {
		out = append(out, id)
	}
	return out
}

// frame draws one frame of typ for role: usually a JSON object with typ's
// fields, sometimes a frame that is broken as a whole.
func (g *frameGen) frame(role, typ string) (int, []byte) {
	g.n++
	switch g.rng.IntN(80) {
	case 0:
		return websocket.BinaryMessage, []byte(`{"type":"chat","text":"binary"}`)
	case 1:
		bad := []string{"", "null", "[]", "{", `{"type":"chat","text":"a"}{}`, `"chat"`, "\xff\xfe", `{"type":"chat","text":"a"} ]`}
		return websocket.TextMessage, []byte(bad[g.rng.IntN(len(bad))])
	case 2:
		return websocket.TextMessage, []byte(`{"type":"chat","text":"` + strings.Repeat("a", chat.MaxFrame) + `"}`)
	}
	f := map[string]any{"type": typ}
	if g.rng.IntN(20) == 0 {
		f["type"] = g.pick("nope", "CHAT", "chat ")
	}
	id := fmt.Sprintf("p%d", g.n)
	f["id"] = g.pick(id, id, id, id, id, strings.Repeat("i", 64), strings.Repeat("i", 65), "ünï")
	switch typ {
	case chat.TypeChat:
		f["text"] = g.pick("hi", "a\nb", strings.Repeat("t", chat.MaxChat), strings.Repeat("t", chat.MaxChat+1), "scam deal", "\u202eevil")
	case chat.TypeReact:
		f["emoji"] = g.pick("heart", "bag", "fire", "clap", "HEART", "💖")
	case chat.TypeTap, chat.TypePin:
		f["offer_id"] = g.pick(g.offers()...)
	case chat.TypeReserve:
		f["offer_id"] = g.pick(g.offers()...)
		f["quantity"] = g.pick(1, 1, 1, 2, 20, 21, 1000, -5, "1", raw("1e3"))
	case chat.TypeRelease:
		f["reservation_id"] = g.pick(g.reservations()...)
	case chat.TypeResume:
		g.fx.mu.Lock()
		epoch := g.fx.epoch
		g.fx.mu.Unlock()
		f["epoch"] = g.pick(epoch, epoch, "old-epoch", strings.Repeat("e", 300))
		f["after"] = g.pick(0, 1, 5, 50, 100_000, raw("18446744073709551615"))
	case chat.TypeModerate:
		action := g.pick(anys(moderateActions)...)
		f["action"] = action
		ban := action == chat.ActBan
		// The action's own fields, and now and then the others' too.
		uses := map[string][]string{chat.ActDelete: {"seq"}, chat.ActMute: {"user_id", "seconds"}, chat.ActUnmute: {"user_id"},
			chat.ActBan: {"user_id"}, chat.ActUnban: {"user_id"}, chat.ActSlow: {"seconds"}, chat.ActWords: {"words"}}[fmt.Sprint(action)]
		field := func(name string, good ...any) {
			if slices.Contains(uses, name) || g.rng.IntN(4) == 0 {
				f[name] = g.pick(good...)
			}
		}
		field("seq", 1, 2, 10, 1_000_000)
		field("user_id", g.users(role, ban)...)
		field("seconds", 0, 1, 30, 600, 601, 604800, 604801)
		field("words", []string{}, []string{"scam"}, []string{" Deal ", "fake"}, []string{strings.Repeat("w", 41)},
			slices.Repeat([]string{"w"}, 201), []any{1}, "scam")
		if ban {
			// Only users the run can let back in may be banned (see staffRoles).
			if id, ok := f["user_id"].(uuid.UUID); ok && slices.ContainsFunc(staffRoles, func(r string) bool { return g.fx.users[r] == id }) {
				f["user_id"] = uuid.New()
			}
		}
	case chat.TypeDrop:
		f["offer_id"] = g.pick(g.offers()...)
		f["action"] = g.pick(checkout.DropOpen, checkout.DropClose, checkout.DropClose, "OPEN")
		f["seconds"] = g.pick(5, 30, 600, 5, 30, 600, 4, 86400, 86401)
	case chat.TypeEnd:
	}
	// Now and then a field of another type (decoded and ignored), or one
	// no frame has.
	switch g.rng.IntN(12) {
	case 0:
		f["quantity"] = g.pick(1)
	case 1:
		f["colour"] = "noir"
	}
	for k, v := range f {
		if v == missing {
			delete(f, k)
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // the generator's own values always marshal
	}
	return websocket.TextMessage, b
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// peer is one role's connection; a goroutine collects every frame it gets.
type peer struct {
	role string
	ws   *websocket.Conn

	mu     sync.Mutex
	cond   *sync.Cond
	frames [][]byte
	ids    map[string]bool // ids of error frames seen
	err    error           // why reading stopped
}

func (p *peer) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err != nil
}

func (p *peer) read() {
	for {
		kind, b, err := p.ws.ReadMessage()
		p.mu.Lock()
		if err == nil && kind != websocket.TextMessage {
			err = fmt.Errorf("a non-text frame %d", kind)
		}
		if err != nil {
			p.err = err
			p.cond.Broadcast()
			p.mu.Unlock()
			return
		}
		p.frames = append(p.frames, b)
		var f struct{ Type, ID string }
		if json.Unmarshal(b, &f) == nil && f.Type == "error" {
			p.ids[f.ID] = true
		}
		p.cond.Broadcast()
		p.mu.Unlock()
	}
}

// waitError waits for the error frame answering id; false if the
// connection ended first.
func (p *peer) waitError(id string) bool {
	timer := time.AfterFunc(wait, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(wait)
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.ids[id] {
		if p.err != nil || time.Now().After(deadline) {
			return false
		}
		p.cond.Wait()
	}
	return true
}

// waitClosed waits until reading stopped (a write can fail on a closed
// connection before the reader has read the close); false after wait.
func (p *peer) waitClosed() bool {
	deadline := time.Now().Add(wait)
	for !p.isClosed() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// take returns the frames collected so far and forgets them.
func (p *peer) take() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.frames
	p.frames = nil
	return out
}

type propertyRun struct {
	t      *testing.T
	w      *world
	seed   uint64
	v      *validator
	g      *frameGen
	codes  map[string]bool
	closes map[int]bool
	peers  map[string]*peer

	sent, answered int
	closeCodes     map[int]int
	seen           map[string]int // answers by type, errors by code
	syncs          int
}

func (p *propertyRun) fatalf(format string, args ...any) {
	p.t.Helper()
	p.t.Fatalf("seed %d: %s", p.seed, fmt.Sprintf(format, args...))
}

// connect opens role's connection; false when the upgrade is refused with 403 (banned).
func (p *propertyRun) connect(role string) bool {
	p.t.Helper()
	c, res, err := p.w.dial(role, "")
	if err != nil {
		if res != nil && res.StatusCode == 403 {
			return false
		}
		p.fatalf("%q could not connect: %v (%v)", role, err, res)
	}
	pr := &peer{role: role, ws: c.ws, ids: map[string]bool{}}
	pr.cond = sync.NewCond(&pr.mu)
	go pr.read()
	p.peers[role] = pr
	return true
}

// heal replaces closed connections, checking how they were closed; a
// banned role is let back in by the admin.
func (p *propertyRun) heal() {
	p.t.Helper()
	order := append([]string{"admin"}, propertyRoles...) // the admin lifts bans, so it comes back first
	for _, role := range order {
		pr := p.peers[role]
		if pr == nil || !pr.isClosed() {
			continue
		}
		p.check(pr, pr.take())
		pr.mu.Lock()
		err := pr.err
		pr.mu.Unlock()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			p.fatalf("%q's connection ended without a close frame: %v", role, err)
		}
		if ce.Code == chat.CloseInternal || !p.closes[ce.Code] {
			p.fatalf("%q's connection closed with %d %q: not a documented close for a client's frames", role, ce.Code, ce.Text)
		}
		if p.closeCodes == nil {
			p.closeCodes = map[int]int{}
		}
		p.closeCodes[ce.Code]++
		_ = pr.ws.Close()
		delete(p.peers, role)
		deadline := time.Now().Add(wait)
		for !p.connect(role) {
			admin := p.peers["admin"]
			if role == "admin" || admin == nil || time.Now().After(deadline) {
				p.fatalf("%q stays banned", role)
			}
			_ = admin.ws.WriteJSON(map[string]any{"type": "moderate", "action": "unban", "user_id": p.g.fx.users[role]})
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// checkpoint waits until every connection has had its frames handled,
// checks every frame it got, and checks that the node takes a newcomer.
func (p *propertyRun) checkpoint(where string) {
	p.t.Helper()
	for range 3 { // a connection closed by a frame is replaced, then synced again
		p.heal()
		p.syncs++
		id := fmt.Sprintf("sync-%d", p.syncs)
		synced := true
		for _, role := range propertyRoles {
			pr := p.peers[role]
			// An unknown type is answered (with its id) to anyone, and
			// only after every frame sent before it.
			if err := pr.ws.WriteJSON(map[string]any{"type": "sync", "id": id}); err != nil || !pr.waitError(id) {
				if !pr.waitClosed() {
					p.fatalf("%s: %q's frames were not all answered", where, role)
				}
				synced = false
			}
		}
		for _, pr := range p.peers {
			p.check(pr, pr.take())
		}
		if synced {
			break
		}
	}
	// The node serves a newcomer.
	c, welcome := p.w.join("")
	c.ws.Close()
	p.g.fx.mu.Lock()
	p.g.fx.epoch, _ = welcome["epoch"].(string)
	p.g.fx.mu.Unlock()
}

// check holds frames to the protocol: each one a server frame of the
// schema; errors with a documented code, and no internal ones.
func (p *propertyRun) check(pr *peer, frames [][]byte) {
	p.t.Helper()
	for _, b := range frames {
		p.answered++
		var f any
		if err := json.Unmarshal(b, &f); err != nil {
			p.fatalf("%q got a frame that is not JSON: %q", pr.role, b)
		}
		if errs := p.v.validate("#/$defs/ServerFrame", f); len(errs) > 0 {
			p.fatalf("%q got a frame outside the protocol: %s\n%s", pr.role, b, strings.Join(errs, "\n"))
		}
		m, _ := f.(map[string]any)
		if p.seen == nil {
			p.seen = map[string]int{}
		}
		if m["type"] == "error" {
			p.seen["error:"+fmt.Sprint(m["code"])]++
		} else {
			p.seen[fmt.Sprint(m["type"])]++
		}
		switch m["type"] {
		case "error":
			code, _ := m["code"].(string)
			if !p.codes[code] || code == "internal" {
				p.fatalf("%q got error code %q, not one for a client's mistake in PROTOCOL.md: %s", pr.role, code, b)
			}
		case "reservation":
			if r, ok := m["reservation"].(map[string]any); ok {
				if id, err := uuid.Parse(fmt.Sprint(r["id"])); err == nil {
					p.g.fx.sawReservation(id)
				}
			}
		}
	}
}

// documentedErrorCodes reads the error codes PROTOCOL.md lists ("The codes: …").
func documentedErrorCodes(t *testing.T) map[string]bool {
	b, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "The codes:")
	if i < 0 {
		t.Fatal("PROTOCOL.md lists no error codes")
	}
	para := doc[i:]
	if j := strings.Index(para, "\n\n"); j >= 0 {
		para = para[:j]
	}
	codes := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(para, -1) {
		codes[m[1]] = true
	}
	if !codes["invalid"] || !codes["internal"] {
		t.Fatalf("PROTOCOL.md's error codes look wrong: %v", codes)
	}
	return codes
}

// documentedCloseCodes reads the close codes table of PROTOCOL.md.
func documentedCloseCodes(t *testing.T) map[int]bool {
	b, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "## Close codes")
	if i < 0 {
		t.Fatal("PROTOCOL.md has no close codes")
	}
	codes := map[int]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d{4}) \|`).FindAllStringSubmatch(doc[i:], -1) {
		n, _ := strconv.Atoi(m[1])
		codes[n] = true
	}
	if !codes[1009] || !codes[4003] {
		t.Fatalf("PROTOCOL.md's close codes look wrong: %v", codes)
	}
	return codes
}
