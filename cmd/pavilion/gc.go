package main

import "log/slog"

// mediaGCPercent is the garbage collector's target serve sets when the
// environment does not set GOGC. A node's heap is mostly long-lived state
// (each WHEP viewer's PeerConnection, the live room's sockets) and its
// packet path allocates little, so collections are rare and the runtime's
// default (100: the heap may grow by as much again as is live before the
// next collection) mostly buys resident memory that holds garbage. A lower
// target keeps RSS closer to what is live for a little more GC CPU; README
// "Sizing a node" has the measured trade-off.
const mediaGCPercent = 25

// setGCTarget gives serve its GC target: mediaGCPercent (through
// setGCPercent, debug.SetGCPercent in serve), unless the operator set GOGC
// (getenv reads the environment), which the runtime has applied already
// and which is kept. It logs the target in force and where it came from.
func setGCTarget(log *slog.Logger, getenv func(string) string, setGCPercent func(int) int) {
	if v := getenv("GOGC"); v != "" {
		log.Info("gc target", "gogc", v, "source", "GOGC")
		return
	}
	setGCPercent(mediaGCPercent)
	log.Info("gc target", "gogc", mediaGCPercent, "source", "serve's default for a media node; GOGC overrides it")
}
