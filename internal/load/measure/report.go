package measure

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
)

// ClientInfo describes the machine the load generator ran on.
type ClientInfo struct {
	GoVersion  string `json:"go_version"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
}

// Check is one verdict of a run: a target met, missed or not measured.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"` // PASS, FAIL or SKIP
	Detail string `json:"detail"`
}

// Round1 rounds to one decimal, for reports.
func Round1(f float64) float64 { return math.Round(f*10) / 10 }

// Round3 rounds to three decimals, for reports.
func Round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// ClientMemory is pavload's own heap and stacks: what its viewers cost it.
func ClientMemory() (heapInuse, stackInuse uint64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// CountsLine is "3 a, 1 b", largest first, or "none".
func CountsLine(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int { return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b)) })
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d %s", m[k], k)
	}
	return s
}
