//go:build unix

package measure

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time pavload has used so far, user and system.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
