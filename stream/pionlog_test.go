package stream

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// Pion's lines reach slog as records; its per-peer chatter stays at debug.
func TestPionLogsGoThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	l := (&pionLogs{log: slog.New(slog.NewJSONHandler(&buf, nil))}).NewLogger("ice")
	l.Infof("ICE connection state changed: %s", "connected")
	l.Warn("a lost packet")
	l.Errorf("failed to %s", "bind")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want only the error at level info, got:\n%s", buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "failed to bind" || rec["level"] != "ERROR" || rec["component"] != "pion" || rec["scope"] != "ice" {
		t.Fatalf("record = %v", rec)
	}
}

// A scope's logger is built once, not once per connection.
func TestPionLoggersKeptByScope(t *testing.T) {
	f := &pionLogs{log: slog.New(slog.DiscardHandler)}
	a, b := f.NewLogger("ice").(pionLogger), f.NewLogger("ice").(pionLogger)
	if a.log != b.log {
		t.Error("two loggers for one scope")
	}
	if c := f.NewLogger("dtls").(pionLogger); c.log == a.log {
		t.Error("one logger for two scopes")
	}
}
