// Package scenario is what every pavload subcommand shares around its run:
// the common flags, the demo file, run IDs and labels, and writing the
// report (text and --json) under an optional CPU profile.
package scenario

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

// Common holds the flags every pavload scenario shares: where the
// server is, the demo file, the run's label and where its figures go.
type Common struct {
	Base       string
	DemoFile   string
	AdminToken string
	ShowID     string
	// MetricsURL is where the server's Prometheus metrics are read, on
	// their own listener (pavilion serve --metrics-addr).
	MetricsURL string

	Label      string
	JSONPath   string
	CPUProfile string
}

// RegisterCommon registers the shared flags; adminUse and showUse describe
// --admin-token and --show for the scenario.
func (c *Common) RegisterCommon(fs *flag.FlagSet, adminUse, showUse string) {
	fs.StringVar(&c.Base, "base", "", "server base URL (default: base_url from --demo)")
	fs.StringVar(&c.DemoFile, "demo", "", "`file` holding the JSON printed by pavilion demo --json (tokens and IDs)")
	fs.StringVar(&c.AdminToken, "admin-token", "", adminUse)
	fs.StringVar(&c.ShowID, "show", "", showUse)
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "URL of the server's Prometheus metrics, on their own listener (pavilion serve --metrics-addr 127.0.0.1:9090: http://127.0.0.1:9090/metrics); without it the server's own figures are not read")
	fs.StringVar(&c.Label, "label", "", "a name for this run, copied into the report")
	fs.StringVar(&c.JSONPath, "json", "", "also write every figure as one JSON object to this file")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write pavload's own CPU profile to this file (is the load generator the bottleneck?)")
}

// LoadDemo reads --demo, when given, and fills the shared fields flags left
// empty; it returns the demo file (nil without --demo) for the rest.
func (c *Common) LoadDemo() (*Demo, error) {
	if c.DemoFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.DemoFile)
	if err != nil {
		return nil, err
	}
	var d Demo
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("--demo %s: %w", c.DemoFile, err)
	}
	c.Base = FirstSet(c.Base, d.BaseURL)
	c.AdminToken = FirstSet(c.AdminToken, d.AdminToken)
	c.ShowID = FirstSet(c.ShowID, d.ShowID)
	return &d, nil
}

// ParseFlags parses a subcommand's arguments into the flags register sets
// up; it returns the names of the flags given.
func ParseFlags(name, usage string, args []string, stderr io.Writer, register func(*flag.FlagSet)) (map[string]bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fs.PrintDefaults()
	}
	register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected arguments %q", name, fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set, nil
}

// RunReport runs a scenario, under --cpuprofile when given, and writes its
// report (as far as it got) to --json when given.
func RunReport[R any](c *Common, stdout io.Writer, run func() (*R, error)) (*R, error) {
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := run()
	if rep != nil && c.JSONPath != "" {
		if werr := WriteJSONFile(c.JSONPath, rep); werr != nil {
			return rep, errors.Join(err, werr)
		}
		fmt.Fprintf(stdout, "figures written to %s\n", c.JSONPath)
	}
	return rep, err
}

// Demo is the part of `pavilion demo --json` pavload reads.
type Demo struct {
	BaseURL         string   `json:"base_url"`
	ShowID          string   `json:"show_id"`
	BrandID         string   `json:"brand_id"`
	OfferIDs        []string `json:"offer_ids"`
	AdminToken      string   `json:"admin_token"`
	BrandAdminToken string   `json:"brand_admin_token"`
	HostToken       string   `json:"host_token"`
}

// Checks gathers what is wrong with a scenario's flags, so that one run
// reports every problem at once.
type Checks []string

// Need records msg unless ok.
func (c *Checks) Need(ok bool, msg string) {
	if !ok {
		*c = append(*c, msg)
	}
}

// Err is the problems joined, nil when there are none.
func (c Checks) Err() error {
	if len(c) == 0 {
		return nil
	}
	return errors.New(strings.Join(c, "; "))
}

// FirstSet is a when set, else b.
func FirstSet(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// LabelPrefix is the run's label and a space, for the first line of a report.
func LabelPrefix(label string) string {
	if label == "" {
		return ""
	}
	return label + " "
}

// NewRunID names a run, so that its accounts, products and chat lines can be
// told apart from another run's on the same server.
func NewRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WriteJSONFile writes v as indented JSON (the --json report).
func WriteJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// SleepUntil waits until t or ctx ends; false when ctx ended.
func SleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}
