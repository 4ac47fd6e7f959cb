//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package record

import (
	"errors"
	"os"
	"syscall"
)

// lock takes an exclusive advisory lock on a file being written, held until
// it is closed or the process ends: Repair leaves a locked file alone (its
// writer is alive), and finishes one whose writer died.
func lock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// errLocked is lock's error when another open file holds the lock.
var errLocked = syscall.EWOULDBLOCK

// locked reports whether another process holds the file's lock.
func locked(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}
