package measure

import (
	"maps"
	"math"
	"slices"
	"sync/atomic"
	"time"
)

// SampleBudget bounds how many latency samples a run keeps in memory, across
// all workers. Counts, sums and maxima stay exact past the budget; only the
// percentiles come from the samples kept (the first ones).
type SampleBudget struct {
	left atomic.Int64
}

// NewSampleBudget keeps at most n samples over every recorder sharing it.
func NewSampleBudget(n int) *SampleBudget {
	b := &SampleBudget{}
	b.left.Store(int64(n))
	return b
}

func (b *SampleBudget) Take() bool { return b.left.Add(-1) >= 0 }

// Series is what one worker saw of one outcome.
type Series struct {
	count   int64
	sum     time.Duration
	max     time.Duration
	samples []time.Duration
}

func (s *Series) Add(d time.Duration, keep bool) {
	s.count++
	s.sum += d
	s.max = max(s.max, d)
	if keep {
		s.samples = append(s.samples, d)
	}
}

func (s *Series) Merge(o *Series) {
	s.count += o.count
	s.sum += o.sum
	s.max = max(s.max, o.max)
	s.samples = append(s.samples, o.samples...)
}

// Recorder collects the outcomes and latencies of one worker; it is not
// safe for concurrent use, so each worker owns one and they are merged after.
type Recorder struct {
	budget   *SampleBudget
	outcomes map[string]*Series
}

// NewRecorder is one worker's recorder, keeping samples while b lasts.
func NewRecorder(b *SampleBudget) *Recorder {
	return &Recorder{budget: b, outcomes: map[string]*Series{}}
}

func (r *Recorder) Add(outcome string, d time.Duration) {
	s := r.outcomes[outcome]
	if s == nil {
		s = &Series{}
		r.outcomes[outcome] = s
	}
	s.Add(d, r.budget.Take())
}

func (r *Recorder) Merge(o *Recorder) {
	for k, v := range o.outcomes {
		s := r.outcomes[k]
		if s == nil {
			s = &Series{}
			r.outcomes[k] = s
		}
		s.Merge(v)
	}
}

// Total is every outcome together.
func (r *Recorder) Total() *Series {
	all := &Series{}
	for _, k := range slices.Sorted(maps.Keys(r.outcomes)) {
		all.Merge(r.outcomes[k])
	}
	return all
}

func (r *Recorder) Count(outcome string) int64 {
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

func (s *Series) Latency() Latency {
	l := Latency{Count: s.count, Samples: len(s.samples), MaxMs: Millis(s.max)}
	if s.count > 0 {
		l.MeanMs = Millis(s.sum / time.Duration(s.count))
	}
	if len(s.samples) == 0 {
		return l
	}
	sorted := slices.Clone(s.samples)
	slices.Sort(sorted)
	l.P50Ms = Millis(Percentile(sorted, 0.50))
	l.P90Ms = Millis(Percentile(sorted, 0.90))
	l.P99Ms = Millis(Percentile(sorted, 0.99))
	return l
}

// Percentile is the nearest-rank Percentile of sorted, which must not be empty.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Millis is d in milliseconds, rounded to the microsecond.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// N is how many durations the series holds.
func (s *Series) N() int64 { return s.count }

// Outcomes is the series of each outcome recorded, by name.
func (r *Recorder) Outcomes() map[string]*Series { return r.outcomes }

// SeriesData is a Series in a form that crosses a process boundary as JSON:
// `pavload buy --procs` merges what its worker processes saw.
type SeriesData struct {
	Count     int64   `json:"count"`
	SumNs     int64   `json:"sum_ns"`
	MaxNs     int64   `json:"max_ns"`
	SamplesNs []int64 `json:"samples_ns"`
}

// Data is s as SeriesData.
func (s *Series) Data() SeriesData {
	d := SeriesData{Count: s.count, SumNs: int64(s.sum), MaxNs: int64(s.max), SamplesNs: make([]int64, len(s.samples))}
	for i, v := range s.samples {
		d.SamplesNs[i] = int64(v)
	}
	return d
}

// SeriesFrom is the Series d describes.
func SeriesFrom(d SeriesData) *Series {
	s := &Series{count: d.Count, sum: time.Duration(d.SumNs), max: time.Duration(d.MaxNs), samples: make([]time.Duration, len(d.SamplesNs))}
	for i, v := range d.SamplesNs {
		s.samples[i] = time.Duration(v)
	}
	return s
}

// MergeSeries adds s to the outcome's series.
func (r *Recorder) MergeSeries(outcome string, s *Series) {
	r.Merge(&Recorder{outcomes: map[string]*Series{outcome: s}})
}
