package analytics

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Recorder collects one node's live-room figures in memory and flushes them
// to the Store in batches. Its event methods (Join, Leave, Chat, Reaction,
// CardTap, LostIntent) are safe for concurrent use, never wait on I/O, and
// allocate only for what is new since the last flush (a viewer's first
// join, a show's first event, an offer's first tap or loss, a viewer's
// first engagement). It also keeps, per viewer and show on this node, what
// the brand's data bank counts people by: connected time and the ways they
// took part (Engagement), each flag sent once. Exported fields are set
// before Run.
type Recorder struct {
	Store Store
	// Node names this process in the store; default: a random UUID. Two
	// live processes must never share one.
	Node string
	// Every is the flush period; default 5 s.
	Every  time.Duration
	Logger *slog.Logger

	once sync.Once
	mu   sync.Mutex
	// shows holds the tallies since the last flush, and the state that
	// outlives a flush (connected viewers, the keys already stored).
	shows map[uuid.UUID]*tally
	// failed is a drained batch the store refused; it is retried, with the
	// same Seq, before anything new is drained.
	failed *Batch
	seq    int64
	// flushMu makes flushes (the loop's and Close's) take turns.
	flushMu sync.Mutex
}

// tally is one show on this node.
type tally struct {
	// Since the last flush.
	joins, chats, reactions int64
	watch                   time.Duration
	taps                    map[uuid.UUID]int64
	viewers                 []string
	samples                 []Sample
	lost                    map[lostKey]int64
	// marked are people with engagement flags not yet sent.
	marked []string
	// Replays: plays, who played, and holds made from the replay.
	replayViews   int64
	replayViewers map[string]struct{}
	replayHolds   []uuid.UUID

	// Kept across flushes.
	connected int64     // open connections now
	lastAt    time.Time // when watch time and samples were last accounted up to
	next      time.Time // the next sample instant
	people    map[string]*person
}

// person is one viewer key in one show on this node.
type person struct {
	conns   int           // open connections
	since   time.Time     // when the first of them opened
	watched time.Duration // connected time of connections already closed
	flags   Engagement    // flags already marked (sent, or in marked)
	pending Engagement    // flags marked since the last flush
}

type lostKey struct {
	offer uuid.UUID
	cause string
}

func (r *Recorder) init() {
	r.once.Do(func() {
		r.shows = map[uuid.UUID]*tally{}
		if r.Node == "" {
			r.Node = uuid.NewString()
		}
		if r.Every <= 0 {
			r.Every = 5 * time.Second
		}
	})
}

func (r *Recorder) log() *slog.Logger {
	if r.Logger == nil {
		return slog.Default()
	}
	return r.Logger
}

// tallyLocked returns the show's tally, creating it.
func (r *Recorder) tallyLocked(show uuid.UUID) *tally {
	t := r.shows[show]
	if t == nil {
		t = &tally{people: map[string]*person{}}
		r.shows[show] = t
	}
	return t
}

// advanceLocked accounts watch time and viewer samples up to at, before the
// connected count changes. A sample is the count at an instant, a multiple
// of SampleEvery (before any change at that very instant): point samples of
// several nodes add up exactly, where per-node peaks would count a viewer
// who moved between nodes twice. Events that arrive slightly out of order
// (two goroutines, one clock) count as happening at the latest time seen.
func (t *tally) advanceLocked(at time.Time) {
	if t.lastAt.IsZero() {
		t.lastAt, t.next = at, at.Truncate(SampleEvery).Add(SampleEvery)
	}
	if !at.After(t.lastAt) {
		return
	}
	t.watch += time.Duration(t.connected) * at.Sub(t.lastAt)
	t.lastAt = at
	if t.connected == 0 {
		// Nobody here: nothing to sample, skip the empty instants at once.
		if !t.next.After(at) {
			t.next = at.Truncate(SampleEvery).Add(SampleEvery)
		}
		return
	}
	for ; !t.next.After(at); t.next = t.next.Add(SampleEvery) {
		t.samples = append(t.samples, Sample{At: t.next, Viewers: t.connected})
	}
}

// Join counts a viewer's connection to the show's live room. viewer is the
// viewer's key: "u:<user id>" when signed in, else "a:<visitor key>"; the
// same key counts once in unique viewers, however often it reconnects and
// on however many nodes.
func (r *Recorder) Join(show uuid.UUID, viewer string, at time.Time) {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.tallyLocked(show)
	t.advanceLocked(at)
	t.connected++
	t.joins++
	p := t.personLocked(viewer)
	if p.conns == 0 {
		p.since = at
	}
	p.conns++
}

// personLocked returns the viewer's state in the show, creating it (and
// listing the key as new) on first sight.
func (t *tally) personLocked(viewer string) *person {
	p := t.people[viewer]
	if p == nil {
		p = &person{}
		t.people[viewer] = p
		t.viewers = append(t.viewers, viewer)
	}
	return p
}

// markLocked sets an engagement flag on a viewer once; a flag is sent in
// one batch and never again while the show is in memory. Only a viewer who
// joined on this node is marked: the live room calls for connected viewers
// only, and anything else must not make a viewer out of a stray event.
func (t *tally) markLocked(viewer string, f Engagement) {
	p := t.people[viewer]
	if p == nil || p.flags&f != 0 {
		return
	}
	if p.pending == 0 {
		t.marked = append(t.marked, viewer)
	}
	p.flags |= f
	p.pending |= f
}

// watchLocked marks the viewer Watched once their connected time, closed
// connections plus the open ones up to at, reaches WatchedAtLeast.
func (t *tally) watchLocked(viewer string, p *person, at time.Time) {
	if p.flags&Watched != 0 {
		return
	}
	d := p.watched
	if p.conns > 0 && at.After(p.since) {
		d += at.Sub(p.since)
	}
	if d >= WatchedAtLeast {
		t.markLocked(viewer, Watched)
	}
}

// Leave counts a connection of the viewer to the show's room ending.
func (r *Recorder) Leave(show uuid.UUID, viewer string, at time.Time) {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.shows[show]
	if t == nil || t.connected == 0 {
		return // a leave without its join: nothing to account
	}
	t.advanceLocked(at)
	t.connected--
	if p := t.people[viewer]; p != nil && p.conns > 0 {
		t.watchLocked(viewer, p, at)
		p.conns--
		if p.conns == 0 && at.After(p.since) {
			p.watched += at.Sub(p.since)
		}
	}
}

// Chat counts one chat message the viewer posted in the show.
func (r *Recorder) Chat(show uuid.UUID, viewer string) {
	r.init()
	r.mu.Lock()
	t := r.tallyLocked(show)
	t.chats++
	t.markLocked(viewer, Chatted)
	r.mu.Unlock()
}

// Reaction counts n reactions the viewer sent in the show.
func (r *Recorder) Reaction(show uuid.UUID, viewer string, n int) {
	r.init()
	r.mu.Lock()
	t := r.tallyLocked(show)
	t.reactions += int64(n)
	t.markLocked(viewer, Reacted)
	r.mu.Unlock()
}

// CardTap counts the viewer opening the product card of an offer of the show.
func (r *Recorder) CardTap(show, offer uuid.UUID, viewer string) {
	r.init()
	r.mu.Lock()
	t := r.tallyLocked(show)
	if t.taps == nil {
		t.taps = map[uuid.UUID]int64{}
	}
	t.taps[offer]++
	t.markLocked(viewer, Tapped)
	r.mu.Unlock()
}

// LostIntent counts one wish to buy an offer of the show that did not
// become a sale, with its cause (one of Causes; anything else is counted as
// CauseOther so that a new cause is never lost, only unnamed).
func (r *Recorder) LostIntent(show, offer uuid.UUID, cause string) {
	if !slices.Contains(Causes, cause) {
		cause = CauseOther
	}
	r.init()
	r.mu.Lock()
	t := r.tallyLocked(show)
	if t.lost == nil {
		t.lost = map[lostKey]int64{}
	}
	t.lost[lostKey{offer, cause}]++
	r.mu.Unlock()
}

// drain takes what was collected up to now as a batch (nil when there is
// nothing to send) and forgets shows with no viewer left and nothing pending.
func (r *Recorder) drain(now time.Time) *Batch {
	r.mu.Lock()
	defer r.mu.Unlock()
	var shows []ShowDelta
	for id, t := range r.shows {
		t.advanceLocked(now)
		for key, p := range t.people {
			if p.conns > 0 {
				t.watchLocked(key, p, now)
			}
		}
		slices.Sort(t.viewers)
		d := ShowDelta{ShowID: id, Joins: t.joins, Chats: t.chats, Reactions: t.reactions,
			WatchMillis: t.watch.Milliseconds(), Taps: t.taps, Viewers: t.viewers, Samples: t.samples}
		for k, n := range t.lost {
			d.Lost = append(d.Lost, Lost{OfferID: k.offer, Cause: k.cause, N: n})
		}
		slices.SortFunc(d.Lost, func(a, b Lost) int {
			return cmp.Or(bytes.Compare(a.OfferID[:], b.OfferID[:]), strings.Compare(a.Cause, b.Cause))
		})
		slices.Sort(t.marked)
		for _, key := range t.marked {
			p := t.people[key]
			d.People = append(d.People, PersonFlags{Viewer: key, Flags: p.pending})
			p.pending = 0
		}
		t.drainReplay(&d)
		// Sub-millisecond remainders wait for the next flush.
		t.watch -= time.Duration(d.WatchMillis) * time.Millisecond
		t.joins, t.chats, t.reactions, t.taps, t.viewers, t.samples, t.lost, t.marked = 0, 0, 0, nil, nil, nil, nil, nil
		if d.Joins != 0 || d.Chats != 0 || d.Reactions != 0 || d.WatchMillis != 0 || len(d.Taps) > 0 || len(d.Viewers) > 0 ||
			len(d.Samples) > 0 || len(d.Lost) > 0 || len(d.People) > 0 || d.ReplayViews != 0 || len(d.ReplayHolds) > 0 {
			shows = append(shows, d)
		}
		if t.connected == 0 {
			// Nobody left to account for (a sub-millisecond of watch time
			// at most goes with it); a later join starts afresh.
			delete(r.shows, id)
		}
	}
	if len(shows) == 0 {
		return nil
	}
	slices.SortFunc(shows, func(a, b ShowDelta) int { return bytes.Compare(a.ShowID[:], b.ShowID[:]) })
	r.seq++
	return &Batch{Node: r.Node, Seq: r.seq, Shows: shows}
}

// Flush writes everything collected up to now to the store: a batch that
// failed before first, then what is new. Watch time of viewers still
// connected is counted up to now. On an error the batch is kept and retried
// by the next Flush, so nothing is lost or counted twice.
func (r *Recorder) Flush(ctx context.Context, now time.Time) error {
	r.init()
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	if r.failed != nil {
		if err := r.Store.ApplyAnalytics(ctx, r.failed); err != nil {
			return fmt.Errorf("analytics: flush: %w", err)
		}
		r.failed = nil
	}
	b := r.drain(now)
	if b == nil {
		return nil
	}
	if err := r.Store.ApplyAnalytics(ctx, b); err != nil {
		r.failed = b
		return fmt.Errorf("analytics: flush: %w", err)
	}
	return nil
}

// Run flushes every r.Every until ctx ends. Call Close after it to write
// what came since the last tick (a graceful shutdown loses nothing).
func (r *Recorder) Run(ctx context.Context) {
	r.init()
	tick := time.NewTicker(r.Every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if err := r.Flush(ctx, now); err != nil && ctx.Err() == nil {
				r.log().Warn("writing analytics; will retry", "err", err)
			}
		}
	}
}

// Close flushes what is left, retrying until it is written or ctx ends.
// Viewers still connected have their watch time counted up to now.
func (r *Recorder) Close(ctx context.Context) error {
	r.init()
	for {
		err := r.Flush(ctx, time.Now())
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("analytics: lost at shutdown: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
