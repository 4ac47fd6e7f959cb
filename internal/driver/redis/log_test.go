package redis

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

// The client's own lines come out as slog records: JSON under a JSON handler.
func TestSlogLogger(t *testing.T) {
	var buf bytes.Buffer
	l := slogLogger{log: slog.New(slog.NewJSONHandler(&buf, nil))}
	l.Printf(context.Background(), "redis: discarding bad PubSub connection: %s\n", "EOF")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("not JSON: %v: %s", err, buf.String())
	}
	if rec["msg"] != "redis: discarding bad PubSub connection: EOF" || rec["component"] != "redis" || rec["level"] != "WARN" {
		t.Fatalf("record = %v", rec)
	}
}
