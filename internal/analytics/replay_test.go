package analytics_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

// Replay plays and holds go out in the next batch, each viewer key once per
// batch and sorted, the holds sorted; a refused batch is retried whole, and
// nothing is sent again after it went.
func TestReplayViewsAndHoldsBatched(t *testing.T) {
	ctx := context.Background()
	st := &batches{}
	r := &analytics.Recorder{Store: st, Node: "n"}
	show := uuid.New()
	for _, v := range []string{"u:b", "a:x", "u:b", "u:a"} {
		r.ReplayView(show, v)
	}
	holds := []uuid.UUID{uuid.New(), uuid.New(), uuid.New()}
	for _, h := range holds {
		r.ReplayHold(show, uuid.New(), h)
	}
	st.fail = errors.New("database down")
	if err := r.Flush(ctx, time.Now()); err == nil {
		t.Fatal("a refused batch was not reported")
	}
	st.fail = nil
	r.ReplayView(show, "u:c") // after the refusal: the next batch
	for range 2 {
		if err := r.Flush(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.got) != 2 {
		t.Fatalf("%d batches, want the retried one and the next", len(st.got))
	}
	d := st.got[0].Shows[0]
	slices.SortFunc(holds, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	if d.ShowID != show || d.ReplayViews != 4 || !slices.Equal(d.ReplayViewers, []string{"a:x", "u:a", "u:b"}) ||
		!slices.Equal(d.ReplayHolds, holds) || len(d.Viewers) != 0 || d.Joins != 0 {
		t.Fatalf("first batch = %+v", d)
	}
	if d := st.got[1].Shows[0]; d.ReplayViews != 1 || !slices.Equal(d.ReplayViewers, []string{"u:c"}) || len(d.ReplayHolds) != 0 {
		t.Fatalf("second batch = %+v", d)
	}
}
