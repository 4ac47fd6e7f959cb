package media

import (
	"strings"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/load/measure"
)

// The media figures come from /metrics: skips, and the video ingest of
// every show (not the audio's).
func TestParseStreamMetrics(t *testing.T) {
	body := `# HELP pavilion_stream_viewer_skips_total x
pavilion_stream_viewer_skips_total 7
pavilion_stream_ingest_bytes_total{kind="video",show="a"} 1000
pavilion_stream_ingest_bytes_total{kind="audio",show="a"} 50
pavilion_stream_ingest_bytes_total{kind="video",show="b"} 24
pavilion_stream_viewers{show="a"} 3
`
	m := measure.ParseMetrics([]byte(body))
	if m.StreamSkips != 7 || m.StreamIngestVideo != 1024 || m.StreamViewers != 3 {
		t.Fatalf("skips %v, video ingest %v, viewers %v; want 7, 1024, 3", m.StreamSkips, m.StreamIngestVideo, m.StreamViewers)
	}
}

// A step with no loss still fails when the server skipped viewers ahead or
// a viewer got less than 97% of the source's rate; a busy client is said.
func TestWhepVerdict(t *testing.T) {
	zero, some := 0.0, 3.0
	start := &measure.ServerMetrics{At: time.Unix(0, 0), StreamIngestVideo: 0}
	end := &measure.ServerMetrics{At: time.Unix(10, 0), StreamIngestVideo: 10 * 1.5e6 / 8} // 1.5 Mbit/s
	good := func() *whepReport {
		return &whepReport{
			Connect:  whepConnect{Attempted: 2, Connected: 2},
			Server:   serverMedia{Skips: &zero},
			Delivery: newDelivery([]float64{1.49, 1.5}, start, end),
			Frames:   map[string]*frameTotals{"video": {Viewers: 2, Expected: 600, Received: 600}},
		}
	}
	if v := good().judge(); !v.Pass || v.ClientLimited {
		t.Fatalf("a clean step: %+v", v)
	}
	cases := map[string]func(r *whepReport){
		"server-side skips":   func(r *whepReport) { r.Server.Skips = &some },
		"skips unknown":       func(r *whepReport) { r.Server.Skips = nil },
		"under 97%":           func(r *whepReport) { r.Delivery = newDelivery([]float64{1.2, 1.5}, start, end) },
		"source rate unknown": func(r *whepReport) { r.Delivery = newDelivery([]float64{1.5, 1.5}, nil, nil) },
		"frames missing":      func(r *whepReport) { r.Frames["video"].Missing = 60 },
		"viewers connected":   func(r *whepReport) { r.Connect.Connected = 1 },
		"loss":                func(r *whepReport) { r.LossPct = 1.5 },
	}
	for want, spoil := range cases {
		r := good()
		spoil(r)
		v := r.judge()
		if v.Pass || !strings.Contains(strings.Join(v.Reasons, "; "), want) {
			t.Errorf("%s: %+v", want, v)
		}
	}
	r := good()
	r.Client.CPUPct = 97
	drops := int64(12)
	r.UDPRcvbufErrors = &drops
	if v := r.judge(); !v.Pass || !v.ClientLimited || !strings.Contains(v.ClientNote, "97%") || !strings.Contains(v.ClientNote, "12 UDP") {
		t.Fatalf("a busy client: %+v", v)
	}
	// Once pavload's own sockets' drops are known, other sockets' do not
	// make the client the limit; its own do.
	r = good()
	var none, own int64 = 0, 5
	r.UDPRcvbufErrors, r.ClientSocketDrops = &drops, &none
	if v := r.judge(); v.ClientLimited {
		t.Fatalf("drops elsewhere on the machine, none on pavload's sockets: %+v", v)
	}
	r.ClientSocketDrops = &own
	if v := r.judge(); !v.ClientLimited || !strings.Contains(v.ClientNote, "5 UDP receive-buffer drops on pavload's") {
		t.Fatalf("drops on pavload's sockets: %+v", v)
	}
	if d := newDelivery([]float64{1.2, 1.5}, start, end); d.Below97 != 1 || d.WorstPct != 80 || d.SourceMbit != 1.5 {
		t.Fatalf("delivery %+v", d)
	}
}
