package chat

import "github.com/prometheus/client_golang/prometheus"

// hubMetrics counts the node's live-room sockets and the chat it leaves out.
type hubMetrics struct {
	conns   prometheus.Gauge
	drops   prometheus.Counter
	skips   prometheus.Counter
	cappeds prometheus.Counter
}

func newHubMetrics(reg prometheus.Registerer) *hubMetrics {
	m := &hubMetrics{
		conns:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "pavilion_chat_connections", Help: "Open live-room websockets on this node."}),
		drops:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_dropped_total", Help: "Chat shed for the whole room as too late, and slow readers disconnected."}),
		skips:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_sampled_total", Help: "Chat lines left out for a viewer who fell behind (a lean tick), per viewer."}),
		cappeds: prometheus.NewCounter(prometheus.CounterOpts{Name: "pavilion_chat_capped_total", Help: "Chat lines a big room left out of its ticks (the per-viewer chat cap), per tick."}),
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.drops, m.skips, m.cappeds)
	}
	return m
}

func (m *hubMetrics) dropped()      { m.drops.Inc() }
func (m *hubMetrics) skipped(n int) { m.skips.Add(float64(n)) }
func (m *hubMetrics) capped(n int)  { m.cappeds.Add(float64(n)) }
