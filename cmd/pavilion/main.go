// Command pavilion is the Pavilion server and its operator tools:
//
//	pavilion serve    run the server (embedded SQLite by default; PostgreSQL and Redis when configured)
//	pavilion migrate  apply database migrations and report the schema version
//	pavilion user     create accounts with roles, reset passwords, change roles
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
  pavilion demo [--json] [flags]

Run "pavilion <command> -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrate(ctx, args[1:], stdout, stderr)
	case "user":
		return user(ctx, args[1:], stdin, stdout, stderr)
	case "demo":
		return demoCmd(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		fmt.Fprint(stderr, topUsage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags (each also read from the environment variable shown):\n", usage)
		fs.PrintDefaults()
	}
	return fs
}
