//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package record

import (
	"errors"
	"os"
)

// lock is a no-op where flock is missing: Repair then trusts the caller to
// repair only the files of writers that are gone.
func lock(*os.File) error { return nil }

func locked(string) (bool, error) { return false, nil }

// errLocked is never lock's error here.
var errLocked = errors.New("record: locked")
