//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import "context"

// lockFile is a no-op where flock is not available: there, two processes
// must not migrate the same new file at the same moment.
func lockFile(context.Context, string) (unlock func(), err error) {
	return func() {}, nil
}
