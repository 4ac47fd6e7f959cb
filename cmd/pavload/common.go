package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// commonConfig holds the flags every pavload scenario shares: where the
// server is, the demo file, the run's label and where its figures go.
type commonConfig struct {
	base       string
	demoFile   string
	adminToken string
	showID     string
	// metricsURL is where the server's Prometheus metrics are read, on
	// their own listener (pavilion serve --metrics-addr).
	metricsURL string

	label      string
	jsonPath   string
	cpuProfile string
}

// registerCommon registers the shared flags; adminUse and showUse describe
// --admin-token and --show for the scenario.
func (c *commonConfig) registerCommon(fs *flag.FlagSet, adminUse, showUse string) {
	fs.StringVar(&c.base, "base", "", "server base URL (default: base_url from --demo)")
	fs.StringVar(&c.demoFile, "demo", "", "`file` holding the JSON printed by pavilion demo --json (tokens and IDs)")
	fs.StringVar(&c.adminToken, "admin-token", "", adminUse)
	fs.StringVar(&c.showID, "show", "", showUse)
	fs.StringVar(&c.metricsURL, "metrics-url", "", "URL of the server's Prometheus metrics, on their own listener (pavilion serve --metrics-addr 127.0.0.1:9090: http://127.0.0.1:9090/metrics); without it the server's own figures are not read")
	fs.StringVar(&c.label, "label", "", "a name for this run, copied into the report")
	fs.StringVar(&c.jsonPath, "json", "", "also write every figure as one JSON object to this file")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write pavload's own CPU profile to this file (is the load generator the bottleneck?)")
}

// loadDemo reads --demo, when given, and fills the shared fields flags left
// empty; it returns the demo file (nil without --demo) for the rest.
func (c *commonConfig) loadDemo() (*demoFile, error) {
	if c.demoFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(c.demoFile)
	if err != nil {
		return nil, err
	}
	var d demoFile
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("--demo %s: %w", c.demoFile, err)
	}
	c.base = firstSet(c.base, d.BaseURL)
	c.adminToken = firstSet(c.adminToken, d.AdminToken)
	c.showID = firstSet(c.showID, d.ShowID)
	return &d, nil
}

// parseFlags parses a subcommand's arguments into the flags register sets
// up; it returns the names of the flags given.
func parseFlags(name, usage string, args []string, stderr io.Writer, register func(*flag.FlagSet)) (map[string]bool, error) {
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

// runReport runs a scenario, under --cpuprofile when given, and writes its
// report (as far as it got) to --json when given.
func runReport[R any](c *commonConfig, stdout io.Writer, run func() (*R, error)) (*R, error) {
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
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
	if rep != nil && c.jsonPath != "" {
		if werr := writeJSONFile(c.jsonPath, rep); werr != nil {
			return rep, errors.Join(err, werr)
		}
		fmt.Fprintf(stdout, "figures written to %s\n", c.jsonPath)
	}
	return rep, err
}
