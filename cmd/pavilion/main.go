// Command pavilion is the Pavilion server and its operator tools:
//
//	pavilion serve    run the server (embedded SQLite by default; PostgreSQL and Redis when configured)
//	pavilion migrate  apply database migrations and report the schema version
//	pavilion user     create accounts with roles, reset passwords, change roles
//	pavilion brand    create a brand (the first one, before anyone can use the API)
//	pavilion gate     reload the stock gates in Redis from the ledger (after a restore)
//	pavilion demo     seed the demo data; --json prints IDs, URLs and tokens for scripts
//
// Every flag has a PAVILION_* environment fallback; `pavilion <command> -h` lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pavilion:", err)
		os.Exit(1)
	}
}

const topUsage = `Pavilion: live-stream shoppable commerce.

Usage:
  pavilion serve [flags]     run the server
  pavilion migrate [flags]   apply database migrations
  pavilion user <create|reset-password|roles> [flags]
  pavilion brand create --slug S --name N [flags]
  pavilion gate reset [flags]   reload the stock gates from the ledger (after a restore)
  pavilion demo [--json] [flags]
  pavilion verify-draw <file | URL | ->   re-derive a fair draw's winners from its published record

Run "pavilion <command> -h" (or "pavilion help <command>") for a command's flags.
`

// isHelp reports whether arg asks for usage.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "--h", "help":
		return true
	}
	return false
}

// run dispatches a command. Usage asked for with -h goes to stdout and
// returns flag.ErrHelp (exit 0); usage after a mistake goes to stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return errors.New("no command given")
	}
	if isHelp(args[0]) {
		if len(args) > 1 && !isHelp(args[1]) {
			return run(ctx, []string{args[1], "-h"}, stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, topUsage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr)
	case "user":
		return user(ctx, args[1:], stdin, stdout, stderr)
	case "brand":
		return brandCmd(ctx, args[1:], stdout, stderr)
	case "gate":
		return gateCmd(ctx, args[1:], stdout, stderr)
	case "demo":
		return demoCmd(ctx, args[1:], stdout, stderr)
	case "verify-draw":
		return verifyDraw(ctx, args[1:], stdin, stdout, stderr)
	default:
		fmt.Fprint(stderr, topUsage)
		return fmt.Errorf("unknown command %q (commands: serve, migrate, user, brand, gate, demo, verify-draw)", args[0])
	}
}

// command is one subcommand's flag set and usage text.
type command struct {
	fs     *flag.FlagSet
	usage  string
	stdout io.Writer
	stderr io.Writer
}

func newCommand(name, usage string, stdout, stderr io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print errors and the usage to its output
	// (stderr) itself; parse returns the error (main prints it once) and
	// prints the usage where it belongs.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{fs: fs, usage: usage, stdout: stdout, stderr: stderr}
}

// parse parses args. -h prints the usage on stdout and returns
// flag.ErrHelp; a bad flag is reported on stderr with a pointer to -h.
// Stray arguments are an error: a command takes flags only.
func (c *command) parse(args []string) error {
	err := c.fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.printUsage(c.stdout)
		return flag.ErrHelp
	}
	if err != nil {
		return fmt.Errorf("%w (pavilion %s -h lists the flags)", err, c.fs.Name())
	}
	if c.fs.NArg() > 0 {
		return fmt.Errorf("pavilion %s takes flags only, not %q (pavilion %s -h lists them)", c.fs.Name(), c.fs.Args(), c.fs.Name())
	}
	return nil
}

func (c *command) printUsage(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nFlags (each also read from the environment variable shown):\n", c.usage)
	c.fs.SetOutput(w)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
}
