package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/show"
)

// testPins: the show's pinned offer is kept for rooms that open later,
// replaced by the next pin, removed by unpinning and by the show ending,
// and only an offer of the show can be pinned.
func testPins(t *testing.T, f *fixture) {
	ctx := context.Background()
	pinned := func(want uuid.UUID) {
		t.Helper()
		got, err := f.Shows.Pinned(ctx, f.show)
		must(t, err)
		if got != want {
			t.Fatalf("pinned = %s, want %s", got, want)
		}
	}
	pinned(uuid.Nil)
	must(t, f.Shows.SetPinned(ctx, f.show, f.offer.ID, now()))
	pinned(f.offer.ID)
	second := f.newOffer(2, 0)
	must(t, f.Shows.SetPinned(ctx, f.show, second.ID, now()))
	pinned(second.ID)
	must(t, f.Shows.SetPinned(ctx, f.show, uuid.Nil, now()))
	pinned(uuid.Nil)
	must(t, f.Shows.SetPinned(ctx, f.show, uuid.Nil, now())) // unpinning twice is no error

	// Another show's offer, or none at all, is not this show's to pin; the
	// pin stands.
	must(t, f.Shows.SetPinned(ctx, f.show, f.offer.ID, now()))
	other := newShow(f.brand, "Other", now().Add(2*time.Hour))
	must(t, f.Shows.CreateShow(ctx, other))
	wantCode(t, f.Shows.SetPinned(ctx, other.ID, f.offer.ID, now()), apperr.NotFound)
	wantCode(t, f.Shows.SetPinned(ctx, f.show, uuid.New(), now()), apperr.NotFound)
	wantCode(t, f.Shows.SetPinned(ctx, uuid.New(), f.offer.ID, now()), apperr.NotFound)
	pinned(f.offer.ID)
	if got, err := f.Shows.Pinned(ctx, other.ID); err != nil || got != uuid.Nil {
		t.Fatalf("the other show's pin = %s, %v", got, err)
	}

	// Going live keeps the pin; ending the show removes it, and an ended
	// show takes no new one.
	_, err := f.Shows.Transition(ctx, f.show, show.Live, now())
	must(t, err)
	pinned(f.offer.ID)
	_, err = f.Shows.Transition(ctx, f.show, show.Ended, now())
	must(t, err)
	pinned(uuid.Nil)
	wantCode(t, f.Shows.SetPinned(ctx, f.show, f.offer.ID, now()), apperr.Conflict)
	pinned(uuid.Nil)

	// Cancelling removes it too.
	o := &fixture{Stores: f.Stores, t: t, brand: f.brand, show: other.ID, sku: f.sku}
	theirs := o.newOffer(1, 0)
	must(t, f.Shows.SetPinned(ctx, other.ID, theirs.ID, now()))
	_, err = f.Shows.Transition(ctx, other.ID, show.Cancelled, now())
	must(t, err)
	if got, err := f.Shows.Pinned(ctx, other.ID); err != nil || got != uuid.Nil {
		t.Fatalf("a cancelled show's pin = %s, %v", got, err)
	}
}
