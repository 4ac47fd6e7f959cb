package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// runLoad runs pavload with args and --json, and reads the report back.
func runLoad[R any](t *testing.T, args ...string) (string, *R, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, append(args, "--json", out), &stdout, &stderr)
	t.Log(stdout.String(), stderr.String())
	var rep R
	if b, rerr := os.ReadFile(out); rerr == nil {
		if jerr := json.Unmarshal(b, &rep); jerr != nil {
			t.Fatalf("--json wrote something that is not a report: %v", jerr)
		}
	}
	return stdout.String(), &rep, err
}
