//go:build race

package stream

// raceEnabled: the race detector multiplies memory and slows every
// goroutine, so TestViewerCost's figures would mean nothing.
const raceEnabled = true
