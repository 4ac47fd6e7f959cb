// Package measure holds what pavload measures with: latency histograms and
// series, its own CPU and memory, the server's Prometheus figures, and the
// pass/fail checks a report ends with.
package measure

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram is a bounded-memory latency distribution for the chat run, where
// 10,000 viewers × every message would be far too many samples to keep. Its
// buckets are log-linear, as in HDR histograms: values are microseconds; below
// 128 µs every microsecond has its own bucket, and above it every power of two
// is cut into 64 equal buckets, so a bucket is never wider than 1/64 (1.6 %)
// of the values it holds. It covers 1 µs to 2^37 µs (about 38 hours), in
// 2,048 counters (16 KiB); values past the top go in the last bucket, and the
// exact maximum is kept beside.
//
// Every method is safe for concurrent use (atomic counters), so any number of
// viewers can record into one Histogram.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sumUs  atomic.Uint64
	maxNs  atomic.Int64
}

const (
	histSubBits = 7                       // 128 exact buckets, then 64 per power of two
	histSub     = 1 << histSubBits        // 128
	histHalf    = histSub / 2             // 64
	histBuckets = histSub + 30*histHalf   // 2048: up to 2^(7+30) µs
	histTopUs   = uint64(1)<<37 - 1       // the largest value with its own bucket
	histMinNs   = int64(time.Microsecond) // smaller values count as 0 µs
)

// histIndex is the bucket of a value in microseconds.
func histIndex(us uint64) int {
	if us < histSub {
		return int(us)
	}
	if us > histTopUs {
		return histBuckets - 1
	}
	shift := bits.Len64(us) - histSubBits // 1 for 128..255
	top := us >> shift                    // 64..127
	return histSub + (shift-1)*histHalf + int(top-histHalf)
}

// histLow is the smallest value (µs) bucket i holds, and histHigh the largest.
func histLow(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i-histSub)/histHalf + 1
	top := uint64((i-histSub)%histHalf + histHalf)
	return top << shift
}

func histHigh(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	shift := (i-histSub)/histHalf + 1
	return histLow(i) + 1<<shift - 1
}

// Record adds one latency. Negative latencies (clock steps) count as zero.
func (h *Histogram) Record(d time.Duration) {
	ns := int64(d)
	if ns < 0 {
		ns = 0
	}
	us := uint64(ns / histMinNs)
	h.counts[histIndex(us)].Add(1)
	h.n.Add(1)
	h.sumUs.Add(us)
	for {
		m := h.maxNs.Load()
		if ns <= m || h.maxNs.CompareAndSwap(m, ns) {
			break
		}
	}
}

// Merge adds o's counts to h. o must not be recorded into meanwhile.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sumUs.Add(o.sumUs.Load())
	for {
		m, om := h.maxNs.Load(), o.maxNs.Load()
		if om <= m || h.maxNs.CompareAndSwap(m, om) {
			break
		}
	}
}

// Quantile is the value at Quantile q (nearest rank): the middle of the
// bucket holding it, never above the exact maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			mid := (histLow(i) + histHigh(i)) / 2
			d := time.Duration(mid) * time.Microsecond
			if m := time.Duration(h.maxNs.Load()); d > m {
				d = m
			}
			return d
		}
	}
	return time.Duration(h.maxNs.Load())
}

// HistLatency is a histogram's summary, in milliseconds. Count is every
// value recorded; the percentiles are within 1.6 % (one bucket); Max is exact.
type HistLatency struct {
	Latency
	P999Ms float64 `json:"p999_ms"`
}

func (h *Histogram) Latency() HistLatency {
	n := h.n.Load()
	l := HistLatency{Latency: Latency{Count: int64(n), Samples: int(n)}}
	if n == 0 {
		return l
	}
	l.MeanMs = math.Round(float64(h.sumUs.Load())/float64(n)) / 1000
	l.P50Ms = Millis(h.Quantile(0.50))
	l.P90Ms = Millis(h.Quantile(0.90))
	l.P99Ms = Millis(h.Quantile(0.99))
	l.P999Ms = Millis(h.Quantile(0.999))
	l.MaxMs = Millis(time.Duration(h.maxNs.Load()))
	return l
}

// Count is how many durations the histogram holds.
func (h *Histogram) Count() uint64 { return h.n.Load() }
