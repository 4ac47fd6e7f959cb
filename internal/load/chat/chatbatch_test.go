package chat

import (
	"fmt"
	"testing"
	"time"
)

// A protocol version 2 batch is read without decoding it: each event is
// handled as if it came alone, the skipped count is sampling (not a gap),
// a seq neither delivered nor counted is a gap, and a stock event is timed
// from its offer's as_of.
func TestChatBatchFrames(t *testing.T) {
	cfg := &chatConfig{viewers: 1, rate: 10, duration: time.Second}
	r := newChatRun(cfg, "abcd1234", nil)
	r.phase.Store(phaseChat)
	r.stockOn.Store(true)
	v := r.viewers[0]
	v.lastSeq, v.welcomeSeq, v.welcomedAt = 10, 10, 1
	now := time.Now()
	r.msgs[0].sentAt.Store(now.Add(-30 * time.Millisecond).UnixNano())
	text := chatText(nil, "abcd1234", 0, now.Add(-30*time.Millisecond).UnixNano(), 60)
	asOf := now.Add(-20 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	frame := fmt.Appendf(nil, `{"type":"batch","seq":15,"events":[`+
		`{"seq":11,"type":"chat","id":"x","user":{"id":"u","name":"A \"]} [{ name"},"text":%q,"at":"2026-01-01T00:00:00Z"},`+
		`{"seq":13,"type":"stock","offer_id":"o","offer":{"id":"o","available":3,"drop_opens_at":null,"as_of":%q},"available":3,"sold_out":false},`+
		`{"type":"reactions","counts":{"heart":2}},{"count":3,"type":"viewers","note":"ends in a backslash \\\\"}],"skipped":2}`, text, asOf)
	r.handle(v, frame, now.UnixNano())

	if v.received[phaseChat] != 1 || r.msgs[0].got.Load() != 1 {
		t.Errorf("chat received %d, message got %d; want 1, 1", v.received[phaseChat], r.msgs[0].got.Load())
	}
	// 12, 14 and 15 are missing; skipped counts 2 of them.
	if v.sampled[phaseChat] != 2 || v.gaps != 1 || v.lastSeq != 15 {
		t.Errorf("sampled %d, gaps %d, last seq %d; want 2, 1, 15", v.sampled[phaseChat], v.gaps, v.lastSeq)
	}
	if v.stock != 1 || r.stockSeqs[13] != 1 {
		t.Errorf("stock %d, seqs %v", v.stock, r.stockSeqs)
	}
	c := &commerceReport{}
	r.welcomed.Store(1)
	r.commerce(c)
	if c.Events != 1 || c.Deliveries != 1 || c.DeliveredPct != 100 || c.Latency.Count != 1 || c.Latency.P50Ms < 15 || c.Latency.P50Ms > 1000 {
		t.Errorf("commerce = %+v", c)
	}
	if r.reactionFrames[phaseChat].Load() != 1 {
		t.Errorf("reaction frames %d, want 1", r.reactionFrames[phaseChat].Load())
	}

	// A batch with unsequenced events only moves nothing; a broken one is
	// counted, not trusted.
	r.handle(v, []byte(`{"type":"batch","events":[{"count":3,"type":"viewers"}]}`), now.UnixNano())
	r.handle(v, []byte(`{"type":"batch","seq":20,"events":[{"seq":16,"type":"chat"`), now.UnixNano())
	if v.lastSeq != 15 || v.gaps != 1 || r.otherFrames["batch (unreadable)"] != 1 || r.viewersFrames.Load() != 2 {
		t.Errorf("last seq %d, gaps %d, other %v, viewers frames %d", v.lastSeq, v.gaps, r.otherFrames, r.viewersFrames.Load())
	}
}
