package main

import "log/slog"

// mediaGCPercent is the garbage collector's target serve sets when the
// environment does not set GOGC. A node's heap is mostly long-lived state
// (each WHEP viewer's PeerConnection, each live-room socket) and the media
// path allocates little, so the runtime's default (100: the heap may grow
// by as much again as is live before the next collection) mostly buys
// resident memory that holds garbage. 25 keeps RSS per viewer near what a
// viewer holds, for more GC CPU: a few percent of the server's on the
// media path, more in a busy live room, which allocates more. README
// "Configuration" has the measured trade-off; GOGC=100 suits a node whose
// limit is CPU rather than memory.
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
