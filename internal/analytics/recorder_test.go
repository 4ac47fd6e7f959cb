package analytics_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/analytics"
)

// batches is a Store that keeps what it is given, and can fail on demand.
type batches struct {
	mu   sync.Mutex
	got  []analytics.Batch
	fail error
}

func (s *batches) ApplyAnalytics(_ context.Context, b *analytics.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.got = append(s.got, *b)
	return nil
}

func (s *batches) ShowAnalytics(context.Context, uuid.UUID) (*analytics.Collected, error) {
	return nil, errors.New("not used")
}

func (s *batches) ShowSales(context.Context, uuid.UUID) (*analytics.Sales, error) {
	return nil, errors.New("not used")
}

// sum folds every stored batch for the show into one delta; samples of one
// instant keep the highest value, as the stores do.
func (s *batches) sum(show uuid.UUID) analytics.ShowDelta {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := analytics.ShowDelta{ShowID: show, Taps: map[uuid.UUID]int64{}}
	samples := map[time.Time]int64{}
	lost := map[lostKey]int64{}
	people := map[string]analytics.Engagement{}
	for _, b := range s.got {
		for _, d := range b.Shows {
			if d.ShowID != show {
				continue
			}
			out.Joins += d.Joins
			out.Chats += d.Chats
			out.Reactions += d.Reactions
			out.WatchMillis += d.WatchMillis
			for o, n := range d.Taps {
				out.Taps[o] += n
			}
			for _, v := range d.Viewers {
				if !slices.Contains(out.Viewers, v) {
					out.Viewers = append(out.Viewers, v)
				}
			}
			for _, smp := range d.Samples {
				samples[smp.At] = max(samples[smp.At], smp.Viewers)
			}
			for _, l := range d.Lost {
				lost[lostKey{l.OfferID, l.Cause}] += l.N
			}
			for _, p := range d.People {
				people[p.Viewer] |= p.Flags
			}
		}
	}
	for at, n := range samples {
		out.Samples = append(out.Samples, analytics.Sample{At: at, Viewers: n})
	}
	slices.SortFunc(out.Samples, func(a, b analytics.Sample) int { return a.At.Compare(b.At) })
	slices.Sort(out.Viewers)
	for k, n := range lost {
		out.Lost = append(out.Lost, analytics.Lost{OfferID: k.offer, Cause: k.cause, N: n})
	}
	for v, f := range people {
		out.People = append(out.People, analytics.PersonFlags{Viewer: v, Flags: f})
	}
	slices.SortFunc(out.People, func(a, b analytics.PersonFlags) int { return strings.Compare(a.Viewer, b.Viewer) })
	return out
}

type lostKey struct {
	offer uuid.UUID
	cause string
}

var t0 = time.Date(2030, 5, 1, 18, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestWatchTimeAndSamples(t *testing.T) {
	ctx := context.Background()
	st := &batches{}
	r := &analytics.Recorder{Store: st, Node: "n"}
	show := uuid.New()

	r.Join(show, "u:1", at(3))
	r.Join(show, "u:2", at(14))
	// Still connected at the flush: counted up to it.
	if err := r.Flush(ctx, at(25)); err != nil {
		t.Fatal(err)
	}
	if d := st.sum(show); d.WatchMillis != 22_000+11_000 || d.Joins != 2 {
		t.Fatalf("after the first flush: %+v", d)
	}
	r.Leave(show, "u:2", at(47))
	// A quiet stretch: the instants in between hold the count.
	r.Leave(show, "u:1", at(81))
	r.Join(show, "u:1", at(95)) // a viewer already counted
	r.Leave(show, "u:1", at(96))
	if err := r.Flush(ctx, at(200)); err != nil {
		t.Fatal(err)
	}
	d := st.sum(show)
	// u:1 3→81 and 95→96, u:2 14→47.
	if want := int64((78 + 1 + 33) * 1000); d.WatchMillis != want {
		t.Fatalf("watch = %d ms, want %d", d.WatchMillis, want)
	}
	if d.Joins != 3 || !slices.Equal(d.Viewers, []string{"u:1", "u:2"}) {
		t.Fatalf("joins %d, viewers %v", d.Joins, d.Viewers)
	}
	want := []analytics.Sample{{At: at(10), Viewers: 1}, {At: at(20), Viewers: 2}, {At: at(30), Viewers: 2}, {At: at(40), Viewers: 2},
		{At: at(50), Viewers: 1}, {At: at(60), Viewers: 1}, {At: at(70), Viewers: 1}, {At: at(80), Viewers: 1}}
	if !slices.Equal(d.Samples, want) {
		t.Fatalf("samples = %v\nwant %v", d.Samples, want)
	}
	// Nothing new: nothing sent.
	n := len(st.got)
	if err := r.Flush(ctx, at(300)); err != nil || len(st.got) != n {
		t.Fatalf("an idle flush sent a batch (%v)", err)
	}
}

// A batch the store refuses is retried as it was (same Seq), before what
// came after it, so a store that recovers gets everything exactly once.
func TestFlushRetriesTheSameBatch(t *testing.T) {
	ctx := context.Background()
	st := &batches{fail: errors.New("database is down")}
	r := &analytics.Recorder{Store: st, Node: "n"}
	show, offer := uuid.New(), uuid.New()

	r.Chat(show, "u:1")
	r.CardTap(show, offer, "u:1")
	if err := r.Flush(ctx, at(5)); err == nil {
		t.Fatal("Flush hid the store's error")
	}
	r.Chat(show, "u:1")
	r.Reaction(show, "u:1", 3)
	if err := r.Flush(ctx, at(10)); err == nil {
		t.Fatal("Flush hid the store's error")
	}
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	if err := r.Flush(ctx, at(15)); err != nil {
		t.Fatal(err)
	}
	if len(st.got) != 2 || st.got[0].Seq != 1 || st.got[1].Seq != 2 || st.got[0].Shows[0].Chats != 1 {
		t.Fatalf("batches = %+v", st.got)
	}
	if d := st.sum(show); d.Chats != 2 || d.Reactions != 3 || d.Taps[offer] != 1 {
		t.Fatalf("sum = %+v", d)
	}
}

// Close writes what came since the last flush.
func TestCloseFlushes(t *testing.T) {
	st := &batches{}
	r := &analytics.Recorder{Store: st, Node: "n"}
	show := uuid.New()
	r.Reaction(show, "u:1", 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if d := st.sum(show); d.Reactions != 2 {
		t.Fatalf("after Close: %+v", d)
	}
	st.fail = errors.New("down for good")
	r.Chat(show, "u:1")
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := r.Close(short); err == nil {
		t.Fatal("Close reported success with the store down")
	}
}

// The hot path from many goroutines: nothing lost (go test -race checks
// the locking).
func TestConcurrentEvents(t *testing.T) {
	st := &batches{}
	r := &analytics.Recorder{Store: st, Node: "n"}
	show, offer := uuid.New(), uuid.New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r.Join(show, "a:"+string(rune('a'+g)), time.Now())
			for i := range 500 {
				v := "a:" + string(rune('a'+g))
				r.Chat(show, v)
				r.Reaction(show, v, 1)
				r.CardTap(show, offer, v)
				r.LostIntent(show, offer, analytics.CauseSoldOut)
				if i%100 == 0 {
					_ = r.Flush(context.Background(), time.Now())
				}
			}
		})
	}
	wg.Wait()
	if err := r.Flush(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	d := st.sum(show)
	if d.Chats != 4000 || d.Reactions != 4000 || d.Taps[offer] != 4000 || len(d.Viewers) != 8 {
		t.Fatalf("sum = chats %d reactions %d taps %d viewers %d", d.Chats, d.Reactions, d.Taps[offer], len(d.Viewers))
	}
	if len(d.Lost) != 1 || d.Lost[0].N != 4000 || len(d.People) != 8 {
		t.Fatalf("lost %v, people %v", d.Lost, d.People)
	}
}

// BenchmarkHotPath measures what a live room pays per event.
func BenchmarkHotPath(b *testing.B) {
	r := &analytics.Recorder{Store: &batches{}, Node: "n"}
	show, offer := uuid.New(), uuid.New()
	now := time.Now()
	r.Join(show, "u:warm", now) // the show's tally exists, as in a live room
	r.CardTap(show, offer, "u:warm")
	b.Run("Chat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Chat(show, "u:warm")
		}
	})
	b.Run("Reaction", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Reaction(show, "u:warm", 1)
		}
	})
	b.Run("CardTap", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.CardTap(show, offer, "u:warm")
		}
	})
	b.Run("JoinLeave", func(b *testing.B) {
		b.ReportAllocs()
		at := now
		for b.Loop() {
			at = at.Add(time.Millisecond)
			r.Join(show, "u:warm", at) // a reconnect: the key is known
			r.Leave(show, "u:warm", at)
		}
	})
	b.Run("ChatParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Chat(show, "u:warm")
			}
		})
	})
}
