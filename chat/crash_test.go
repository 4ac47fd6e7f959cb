package chat_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/crashguard"
	"github.com/pavilion-live/pavilion/internal/driver/memory"
	"github.com/pavilion-live/pavilion/internal/show"
)

// panics reads pavilion_panics_total{component} from reg.
func panics(t *testing.T, reg *prometheus.Registry, component string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != crashguard.MetricName {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "component" && l.GetValue() == component {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestDropCloseOnAnOfferThatIsNotADrop: a staff member closing a "drop" on
// an offer that is not a flash drop used to dereference its missing window
// in the socket's reader and take the whole node down. It is a conflict.
func TestDropCloseOnAnOfferThatIsNotADrop(t *testing.T) {
	w := newWorld(t, memory.NewBus())
	w.addUser("admin", account.RoleAdmin)
	for _, who := range []string{"host", "brand", "admin"} {
		c, _ := w.join(who)
		c.send(map[string]any{"type": "drop", "id": "close-" + who, "offer_id": w.offer, "action": "close"})
		if e := c.errorFor("close-" + who); e["code"] != "conflict" {
			t.Fatalf("%s closing a drop on a plain offer: %v", who, e)
		}
		// The connection and the room serve on.
		c.send(map[string]any{"type": "chat", "text": "still here, " + who})
		c.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == "still here, "+who }, "the chat after the refusal")
	}
	w.join("viewer")
	if o, err := w.db.OfferByID(context.Background(), w.offer); err != nil || o.Drop || o.DropClosesAt != nil {
		t.Fatalf("the plain offer after the refused closes: %+v, %v", o, err)
	}
}

// panickingLifecycle is a show service with a bug: ending a show panics.
type panickingLifecycle struct{}

func (panickingLifecycle) End(context.Context, uuid.UUID) (*show.Show, error) {
	var m map[string]int
	m["boom"]++ // a nil-map write, as a real bug would
	return nil, nil
}

// TestPanicInAHandlerEndsOnlyThatConnection: a bug reached through one
// client's frame answers that client with an internal error, closes its
// connection with 1011, is counted, and every other connection and the
// room serve on.
func TestPanicInAHandlerEndsOnlyThatConnection(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWorld(t, memory.NewBus(), withRegistry(reg), withLifecycle(panickingLifecycle{}))
	host, _ := w.join("host")
	viewer, _ := w.join("viewer")
	member, _ := w.join("member")

	host.send(map[string]any{"type": "end", "id": "bye"})
	e := host.errorFor("bye")
	if e["code"] != "internal" || e["message"] != "internal error" {
		t.Fatalf("answer to the panicking frame = %v", e)
	}
	host.expectClose(chat.CloseInternal)
	if n := panics(t, reg, "chat_reader"); n != 1 {
		t.Fatalf("pavilion_panics_total{component=chat_reader} = %v; want 1", n)
	}

	// The others were not touched: they chat and hear each other.
	viewer.send(map[string]any{"type": "chat", "text": "did something happen?"})
	for _, c := range []*client{viewer, member} {
		c.until(func(f map[string]any) bool { return f["type"] == "chat" && f["text"] == "did something happen?" }, "the chat after the panic")
	}
	// New connections are served, the host's own included.
	again, welcome := w.join("host")
	if obj(welcome, "you")["can_moderate"] != true {
		t.Fatalf("the host's welcome after the panic: %v", welcome)
	}
	again.send(map[string]any{"type": "pin", "offer_id": w.offer})
	member.next("pin")
	if _, conns := w.hub.Rooms(); conns != 3 {
		t.Fatalf("connections after the panic = %d; want 3 (the crashed one left the room)", conns)
	}
}

// panickingCatalog is a catalogue whose offer reads fail at first (the
// announcement made in the caller's goroutine) and panic afterwards (the
// timer's read). Nothing else is used.
type panickingCatalog struct {
	checkout.Store
	reads *atomic.Int32
}

func (c panickingCatalog) OfferByID(context.Context, uuid.UUID) (*checkout.Offer, error) {
	if c.reads.Add(1) == 1 {
		return nil, errors.New("injected: the store is away")
	}
	panic("injected: offer read")
}

// TestPanicInADropTimerIsContained: the timer that announces a drop's end
// runs on its own goroutine; a panic there is counted, not fatal.
func TestPanicInADropTimerIsContained(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := &chat.Hub{Bus: memory.NewBus(), Catalog: panickingCatalog{reads: new(atomic.Int32)}, Registry: reg, Logger: slog.New(slog.DiscardHandler)}
	now := time.Now().UTC()
	closes := now.Add(20 * time.Millisecond)
	h.DropChanged(&checkout.Offer{ID: uuid.New(), ShowID: uuid.New(), Drop: true, DropOpensAt: &now, DropClosesAt: &closes})
	deadline := time.Now().Add(wait)
	for panics(t, reg, "chat_timer") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the drop timer's panic was not counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// panickingRecorder is an analytics recorder whose Join has a bug.
type panickingRecorder struct{ chat.Recorder }

func (panickingRecorder) Join(uuid.UUID, string, time.Time) { panic("injected: join") }

// TestPanicWhileJoiningLeavesNoGhost: a panic after the upgrade but before
// the connection's reader and writer run ends that socket with 1011 and
// takes it out of the room (a ghost would keep the room from ever closing
// as idle, and count as a viewer).
func TestPanicWhileJoiningLeavesNoGhost(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWorld(t, memory.NewBus(), withRegistry(reg), withAnalytics(panickingRecorder{}))
	c, _, err := w.dial("viewer", "")
	if err != nil {
		t.Fatal(err)
	}
	c.expectClose(chat.CloseInternal)
	if n := panics(t, reg, "chat_join"); n != 1 {
		t.Fatalf("pavilion_panics_total{component=chat_join} = %v; want 1", n)
	}
	if _, conns := w.hub.Rooms(); conns != 0 {
		t.Fatalf("connections after the failed join = %d; want 0", conns)
	}
}

// panickyArchive is an archive whose first write panics (a bug on one batch).
type panickyArchive struct {
	chat.Archive
	calls atomic.Int32
}

func (a *panickyArchive) KeepLines(ctx context.Context, lines []chat.Line) error {
	if a.calls.Add(1) == 1 {
		var m map[string]int
		m["boom"]++
	}
	return a.Archive.KeepLines(ctx, lines)
}

// TestKeeperSurvivesAPanic: a write of the chat archive that panics loses
// that batch (counted) and the node keeps archiving the lines after it.
func TestKeeperSurvivesAPanic(t *testing.T) {
	reg := prometheus.NewRegistry()
	w := newWorld(t, memory.NewBus(), withRegistry(reg), withArchive(func(a chat.Archive) chat.Archive { return &panickyArchive{Archive: a} }))
	host, _ := w.join("host")
	host.send(map[string]any{"type": "chat", "text": "lost with the panic"})
	host.until(func(f map[string]any) bool { return f["text"] == "lost with the panic" }, "the first line")
	deadline := time.Now().Add(wait)
	for panics(t, reg, "chat_keeper") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the keeper's panic was not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	host.send(map[string]any{"type": "chat", "text": "kept after it"})
	for {
		lines, err := w.db.Lines(context.Background(), w.show, nil, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) == 1 && lines[0].Text == "kept after it" {
			return
		}
		if time.Now().After(deadline.Add(wait)) {
			t.Fatalf("archived lines = %v", lines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
