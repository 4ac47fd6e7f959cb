// Package loadtest runs a pavload scenario from a test and reads back the
// report it writes, the way `make bench` does.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Scenario is a pavload subcommand's entry point (buy.Run, chat.Run, ...).
type Scenario func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Run runs scenario with args and --json, and reads the report back. It
// returns what the scenario printed, the report (as far as it got) and the
// scenario's error.
func Run[R any](t *testing.T, scenario Scenario, args ...string) (string, *R, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := scenario(ctx, append(args, "--json", out), &stdout, &stderr)
	t.Log(stdout.String(), stderr.String())
	var rep R
	if b, rerr := os.ReadFile(out); rerr == nil {
		if jerr := json.Unmarshal(b, &rep); jerr != nil {
			t.Fatalf("--json wrote something that is not a report: %v", jerr)
		}
	}
	return stdout.String(), &rep, err
}
