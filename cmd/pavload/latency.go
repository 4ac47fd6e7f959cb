package main

import (
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// sampleBudget bounds how many latency samples a run keeps in memory, across
// all workers. Counts, sums and maxima stay exact past the budget; only the
// percentiles come from the samples kept (the first ones).
type sampleBudget struct {
	left atomic.Int64
}

func newSampleBudget(n int) *sampleBudget {
	b := &sampleBudget{}
	b.left.Store(int64(n))
	return b
}

func (b *sampleBudget) take() bool { return b.left.Add(-1) >= 0 }

// series is what one worker saw of one outcome.
type series struct {
	count   int64
	sum     time.Duration
	max     time.Duration
	samples []time.Duration
}

func (s *series) add(d time.Duration, keep bool) {
	s.count++
	s.sum += d
	s.max = max(s.max, d)
	if keep {
		s.samples = append(s.samples, d)
	}
}

func (s *series) merge(o *series) {
	s.count += o.count
	s.sum += o.sum
	s.max = max(s.max, o.max)
	s.samples = append(s.samples, o.samples...)
}

// recorder collects the outcomes and latencies of one worker; it is not
// safe for concurrent use, so each worker owns one and they are merged after.
type recorder struct {
	budget   *sampleBudget
	outcomes map[string]*series
}

func newRecorder(b *sampleBudget) *recorder {
	return &recorder{budget: b, outcomes: map[string]*series{}}
}

func (r *recorder) add(outcome string, d time.Duration) {
	s := r.outcomes[outcome]
	if s == nil {
		s = &series{}
		r.outcomes[outcome] = s
	}
	s.add(d, r.budget.take())
}

func (r *recorder) merge(o *recorder) {
	for k, v := range o.outcomes {
		s := r.outcomes[k]
		if s == nil {
			s = &series{}
			r.outcomes[k] = s
		}
		s.merge(v)
	}
}

// total is every outcome together.
func (r *recorder) total() *series {
	all := &series{}
	for _, k := range slices.Sorted(maps.Keys(r.outcomes)) {
		all.merge(r.outcomes[k])
	}
	return all
}

func (r *recorder) count(outcome string) int64 {
	if s := r.outcomes[outcome]; s != nil {
		return s.count
	}
	return 0
}

// Latency is a latency distribution in milliseconds. Percentiles are exact
// (nearest rank over the sorted samples kept); Mean and Max cover every
// request, kept or not.
type Latency struct {
	Count   int64   `json:"count"`
	Samples int     `json:"samples"`
	MeanMs  float64 `json:"mean_ms"`
	P50Ms   float64 `json:"p50_ms"`
	P90Ms   float64 `json:"p90_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
}

func (s *series) latency() Latency {
	l := Latency{Count: s.count, Samples: len(s.samples), MaxMs: ms(s.max)}
	if s.count > 0 {
		l.MeanMs = ms(s.sum / time.Duration(s.count))
	}
	if len(s.samples) == 0 {
		return l
	}
	sorted := slices.Clone(s.samples)
	slices.Sort(sorted)
	l.P50Ms = ms(percentile(sorted, 0.50))
	l.P90Ms = ms(percentile(sorted, 0.90))
	l.P99Ms = ms(percentile(sorted, 0.99))
	return l
}

// percentile is the nearest-rank percentile of sorted, which must not be empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// ms is d in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
