//go:build !unix

package measure

import "time"

// ProcessCPU is not measured here: the client CPU figures read 0.
func ProcessCPU() time.Duration { return 0 }
