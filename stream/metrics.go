package stream

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pavilion-live/pavilion/internal/crashguard"
)

// Metrics exports the media server's figures. Per-show figures are read
// from the live feeds when Prometheus scrapes, so the packet path pays
// only for an atomic add, and a show's series disappear when it ends.
type Metrics struct {
	publishes        prometheus.Counter
	keyframeRequests prometheus.Counter
	skips            prometheus.Counter
	retransmits      prometheus.Counter
	reattaches       prometheus.Counter
	panics           *crashguard.Guard

	rooms *rooms

	viewersDesc, ingestDesc, egressDesc, bitrateDesc *prometheus.Desc
	depthDesc, childrenDesc                          *prometheus.Desc
}

// NewMetrics registers the stream metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		publishes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pavilion_stream_publishes_total", Help: "WHIP sessions accepted.",
		}),
		keyframeRequests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pavilion_stream_keyframe_requests_total", Help: "PLIs sent to publishers (after rate limiting).",
		}),
		skips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pavilion_stream_viewer_skips_total", Help: "Times a lagging viewer was moved to the live edge (video: the next keyframe).",
		}),
		retransmits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pavilion_stream_retransmits_total", Help: "Packets resent to viewers in answer to NACKs.",
		}),
		reattaches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pavilion_stream_relay_reattaches_total", Help: "Times this node, relaying a show, found a new parent after losing its own.",
		}),
		depthDesc:    prometheus.NewDesc("pavilion_stream_relay_depth", "Hops from the show's origin to this node (0 on the origin), per show.", []string{"show"}, nil),
		childrenDesc: prometheus.NewDesc("pavilion_stream_relay_children", "Nodes this node feeds the show to (its children in the relay tree), per show.", []string{"show"}, nil),
		viewersDesc:  prometheus.NewDesc("pavilion_stream_viewers", "WHEP viewers connected, per show (other nodes pulling the show are counted in pavilion_stream_relay_children).", []string{"show"}, nil),
		ingestDesc:   prometheus.NewDesc("pavilion_stream_ingest_bytes_total", "RTP bytes received from the publisher, per show and kind.", []string{"show", "kind"}, nil),
		egressDesc:   prometheus.NewDesc("pavilion_stream_egress_bytes_total", "RTP bytes sent to viewers, per show (retransmissions excluded).", []string{"show"}, nil),
		bitrateDesc:  prometheus.NewDesc("pavilion_stream_ingest_bitrate_bits", "Publisher bitrate over the last second, per show, kind and simulcast layer.", []string{"show", "kind", "layer"}, nil),
	}
	if reg != nil {
		reg.MustRegister(m.publishes, m.keyframeRequests, m.skips, m.retransmits, m.reattaches, m)
	}
	m.panics = crashguard.New(reg, nil) // the server adds its logger
	return m
}

func (m *Metrics) attach(r *rooms) {
	r.mu.Lock()
	m.rooms = r
	r.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.viewersDesc
	ch <- m.ingestDesc
	ch <- m.egressDesc
	ch <- m.bitrateDesc
	ch <- m.depthDesc
	ch <- m.childrenDesc
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	var feeds []*feed
	if r := m.rooms; r != nil {
		feeds = r.list()
	}
	for _, f := range feeds {
		show := f.show.String()
		f.mu.Lock()
		var viewers, children int
		egress := f.goneBytes
		for _, v := range f.viewers {
			if v.relay {
				children++
			} else {
				viewers++
			}
			for _, b := range v.bindings() {
				egress += b.bytes.Load()
			}
		}
		layers := append([]*source(nil), f.video...)
		if f.audio != nil {
			layers = append(layers, f.audio)
		}
		f.mu.Unlock()
		ch <- prometheus.MustNewConstMetric(m.viewersDesc, prometheus.GaugeValue, float64(viewers), show)
		ch <- prometheus.MustNewConstMetric(m.childrenDesc, prometheus.GaugeValue, float64(children), show)
		ch <- prometheus.MustNewConstMetric(m.depthDesc, prometheus.GaugeValue, float64(f.depth.Load()), show)
		ch <- prometheus.MustNewConstMetric(m.egressDesc, prometheus.CounterValue, float64(egress), show)
		ch <- prometheus.MustNewConstMetric(m.ingestDesc, prometheus.CounterValue, float64(f.ingest[0].Load()), show, "video")
		ch <- prometheus.MustNewConstMetric(m.ingestDesc, prometheus.CounterValue, float64(f.ingest[1].Load()), show, "audio")
		for _, l := range layers {
			ch <- prometheus.MustNewConstMetric(m.bitrateDesc, prometheus.GaugeValue, float64(l.rate()), show, l.kind, l.rid)
		}
	}
}
