// Command pavload is Pavilion's load generator. It is a client like any
// other: it only uses the public HTTP API, with bearer tokens.
//
//	pavload buy    a stampede of buyers on one offer: reserve, pay, verify the ledger
//	pavload chat   a crowd in one live room: chat delivery latency, reactions, memory per connection
//	pavload whip   one WHIP publisher: synthetic VP8 + Opus (or a file), stamped for latency
//	pavload whep   N WHEP viewers: time to first packet and keyframe, loss, latency
//	pavload draw   a fair draw: a crowd enters over a cluster's nodes, viewers time the result, the result is verified
//
// `pavload <command> -h` lists a command's flags. `make bench` runs it
// against a fresh server in each storage mode.
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

	"github.com/pavilion-live/pavilion/internal/load/buy"
	"github.com/pavilion-live/pavilion/internal/load/chat"
	"github.com/pavilion-live/pavilion/internal/load/drawload"
	"github.com/pavilion-live/pavilion/internal/load/media"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pavload:", err)
		os.Exit(1)
	}
}

const topUsage = `pavload: load generator for Pavilion (public HTTP API only).

Usage:
  pavload buy [flags]    a stampede of buyers on one offer: reserve, pay, verify
  pavload chat [flags]   a crowd in one live room: chat delivery, reactions, memory
  pavload whip [flags]   one WHIP publisher: synthetic VP8 + Opus, or a file
  pavload whep [flags]   N WHEP viewers: startup times, loss, latency
  pavload draw [flags]   a fair draw: entries over the nodes, the result at every viewer, verified

Run "pavload <command> -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "buy":
		return buy.Run(ctx, args[1:], stdout, stderr)
	case "buy-worker": // one of `buy --procs N`'s processes, started by it
		return buy.Worker(ctx, os.Stdin, stdout)
	case "chat":
		return chat.Run(ctx, args[1:], stdout, stderr)
	case "draw":
		return drawload.Run(ctx, args[1:], stdout, stderr)
	case "whip":
		return media.WHIP(ctx, args[1:], stdout, stderr)
	case "whep":
		return media.WHEP(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		fmt.Fprint(stderr, topUsage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
