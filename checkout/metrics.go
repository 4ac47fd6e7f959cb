package checkout

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts what the buy path does. A nil *Metrics counts nothing.
type Metrics struct {
	taps        *prometheus.CounterVec
	corrections prometheus.Counter
	expiredHold prometheus.Counter
	payments    *prometheus.CounterVec
	holdBatches prometheus.Histogram
}

// NewMetrics registers checkout's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		taps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pavilion_checkout_taps_total",
			Help: "Reserve attempts by outcome: reserved, sold_out, limit_over, ledger_refused.",
		}, []string{"outcome"}),
		corrections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pavilion_checkout_gate_corrections_total",
			Help: "Times the ledger refused a tap the stock gate had let through, and the gate was corrected from the ledger.",
		}),
		expiredHold: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pavilion_checkout_holds_expired_total",
			Help: "Reservations released by the sweeper because their hold ran out.",
		}),
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pavilion_checkout_payments_total",
			Help: "Payment attempts by outcome: paid, failed, unknown (left for reconciliation), reconciled_paid, reconciled_abandoned.",
		}, []string{"outcome"}),
		holdBatches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pavilion_checkout_hold_batch_size",
			Help:    "Holds written to the ledger in one transaction (group commit).",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 … 256
		}),
	}
	reg.MustRegister(m.taps, m.corrections, m.expiredHold, m.payments, m.holdBatches)
	return m
}

func (m *Metrics) tap(outcome string) {
	if m != nil {
		m.taps.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) correction() {
	if m != nil {
		m.corrections.Inc()
	}
}

func (m *Metrics) expired(n int) {
	if m != nil && n > 0 {
		m.expiredHold.Add(float64(n))
	}
}

func (m *Metrics) payment(outcome string) {
	if m != nil {
		m.payments.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) holdBatch(n int) {
	if m != nil {
		m.holdBatches.Observe(float64(n))
	}
}
