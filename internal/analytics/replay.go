package analytics

import (
	"bytes"
	"context"
	"slices"

	"github.com/google/uuid"
)

// Replays: after a show ends, its replay keeps reaching people and selling.
// Those viewers and sales are counted apart from the live ones, through the
// same recorder: the replay page's play is a ReplayView, a hold made from
// the replay a ReplayHold. The sales themselves are read from the ledger,
// like every sale, as the counted orders of those holds: a refund or cancel
// takes a replay sale back exactly, and nothing is counted twice.

// ReplayView counts one play of the show's replay by viewer ("u:<user id>"
// or "a:<visitor key>"); the viewer is kept once per show among the replay
// viewers, however often and on however many nodes they play it.
func (r *Recorder) ReplayView(show uuid.UUID, viewer string) {
	r.init()
	r.mu.Lock()
	t := r.tallyLocked(show)
	t.replayViews++
	if t.replayViewers == nil {
		t.replayViewers = map[string]struct{}{}
	}
	t.replayViewers[viewer] = struct{}{}
	r.mu.Unlock()
}

// ReplayHold notes that a hold was made from the show's replay (after the
// show ended); its order, once paid, is a replay sale. The checkout calls it
// (checkout.ReplayHolds) where the hold is won.
func (r *Recorder) ReplayHold(show, _, reservation uuid.UUID) {
	r.init()
	r.mu.Lock()
	t := r.tallyLocked(show)
	t.replayHolds = append(t.replayHolds, reservation)
	r.mu.Unlock()
}

// drainReplay moves the replay tallies into d and clears them.
func (t *tally) drainReplay(d *ShowDelta) {
	d.ReplayViews = t.replayViews
	for v := range t.replayViewers {
		d.ReplayViewers = append(d.ReplayViewers, v)
	}
	slices.Sort(d.ReplayViewers)
	d.ReplayHolds = t.replayHolds
	slices.SortFunc(d.ReplayHolds, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	t.replayViews, t.replayViewers, t.replayHolds = 0, nil, nil
}

// ReplayStore reads what shows' replays did. The SQLite and PostgreSQL
// stores implement it.
type ReplayStore interface {
	// ReplayFigures adds up the replays of the shows: plays and distinct
	// replay viewers (as recorded), and the counted (paid or fulfilled)
	// orders of holds made from them (from the ledger). Zero figures for
	// shows without any.
	ReplayFigures(ctx context.Context, showIDs []uuid.UUID) (*ReplayFigures, error)
}

// ReplayFigures are replay views and replay sales, apart from live ones.
type ReplayFigures struct {
	Views int64
	// Viewers are distinct people who played a replay of the shows; a
	// person may also be among the live viewers.
	Viewers int64
	// Holds made from the replays, whatever became of them.
	Holds int64
	// Orders, Units, Buyers and GMV of the holds' paid or fulfilled orders:
	// part of the shows' sales, not added to them.
	Orders, Units, Buyers int64
	GMV                   []Money
}

// replayFigures reads the shows' replay figures when the store keeps them,
// zero figures otherwise.
func replayFigures(ctx context.Context, st any, showIDs []uuid.UUID) (*ReplayFigures, error) {
	rs, ok := st.(ReplayStore)
	if !ok {
		return &ReplayFigures{GMV: []Money{}}, nil
	}
	f, err := rs.ReplayFigures(ctx, showIDs)
	if err != nil {
		return nil, err
	}
	f.GMV = nonNil(f.GMV)
	return f, nil
}

// ReplayStats is a show's replay part of its Stats.
type ReplayStats struct {
	// Views: plays of the replay page; Viewers: distinct people who played it.
	Views   int64 `json:"views"`
	Viewers int64 `json:"viewers"`
	// Reservations made from the replay; the counted orders of those, their
	// units, buyers and value (included in the show's totals).
	Reservations int64   `json:"reservations"`
	Orders       int64   `json:"orders"`
	Units        int64   `json:"units"`
	Buyers       int64   `json:"buyers"`
	GMV          []Money `json:"gmv"`
}

func replayStats(f *ReplayFigures) ReplayStats {
	return ReplayStats{Views: f.Views, Viewers: f.Viewers, Reservations: f.Holds, Orders: f.Orders, Units: f.Units,
		Buyers: f.Buyers, GMV: nonNil(f.GMV)}
}
