package chattest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/internal/apperr"
)

// line makes a chat line of show f.Show at t.
func (f Fixture) line(epoch string, seq uint64, at time.Time, text string) chat.Line {
	return chat.Line{ShowID: f.Show, Epoch: epoch, Seq: seq, ID: uuid.New(), Author: chat.Author{ID: f.Users[seq%3], Name: "Name " + text},
		Staff: seq%2 == 0, Text: text, At: at}
}

func texts(lines []chat.Line) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.Text
	}
	return out
}

// RunArchive checks the chat.Archive contract on f.Archive; open returns a
// fresh fixture.
func RunArchive(t *testing.T, open func(t *testing.T) Fixture) {
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Microsecond).Add(-time.Hour)
	t.Run("KeepAndPage", func(t *testing.T) {
		f := open(t)
		a := f.Archive
		// Two epochs: the numbering restarted after "e1-3".
		var lines []chat.Line
		for i := range 3 {
			lines = append(lines, f.line("E1", uint64(i+1), t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("e1-%d", i+1)))
		}
		for i := range 2 {
			lines = append(lines, f.line("E2", uint64(i+1), t0.Add(time.Duration(10+i)*time.Second), fmt.Sprintf("e2-%d", i+1)))
		}
		other := f.line("E1", 1, t0, "other show")
		other.ShowID = f.Show2
		gone := f.line("E1", 1, t0, "no such show")
		gone.ShowID = uuid.New()
		must(t, a.KeepLines(ctx, append(slices.Clone(lines), other, gone)))
		must(t, a.KeepLines(ctx, nil))

		got, err := a.Lines(ctx, f.Show, nil, 10)
		must(t, err)
		if want := []string{"e2-2", "e2-1", "e1-3", "e1-2", "e1-1"}; !slices.Equal(texts(got), want) {
			t.Fatalf("lines = %v, want %v", texts(got), want)
		}
		// Every field comes back as kept.
		want := lines[4]
		if g := got[0]; g.ShowID != f.Show || g.Epoch != "E2" || g.Seq != 2 || g.ID != want.ID || g.Author != want.Author ||
			g.Staff != want.Staff || !g.At.Equal(want.At) || g.At.Location() != time.UTC {
			t.Fatalf("line = %+v, want %+v", g, want)
		}
		// Pages, newest first, each after the last of the one before.
		page, err := a.Lines(ctx, f.Show, nil, 2)
		must(t, err)
		var all []string
		for len(page) > 0 {
			all = append(all, texts(page)...)
			page, err = a.Lines(ctx, f.Show, page[len(page)-1].Cursor(), 2)
			must(t, err)
		}
		if want := []string{"e2-2", "e2-1", "e1-3", "e1-2", "e1-1"}; !slices.Equal(all, want) {
			t.Fatalf("paged = %v", all)
		}
		// A time as the cursor: the lines sent before it.
		got, err = a.Lines(ctx, f.Show, &chat.Cursor{At: t0.Add(2 * time.Second)}, 10)
		must(t, err)
		if want := []string{"e1-2", "e1-1"}; !slices.Equal(texts(got), want) {
			t.Fatalf("before a time = %v", texts(got))
		}
		// The other show's line is its own.
		got, err = a.Lines(ctx, f.Show2, nil, 10)
		must(t, err)
		if !slices.Equal(texts(got), []string{"other show"}) {
			t.Fatalf("other show = %v", texts(got))
		}
		// A line kept again (a retried batch) stays as it was.
		again := lines[0]
		again.Text, again.ID = "changed", uuid.New()
		must(t, a.KeepLines(ctx, []chat.Line{again}))
		got, err = a.Lines(ctx, f.Show, nil, 10)
		must(t, err)
		if len(got) != 5 || got[4].Text != "e1-1" || got[4].ID != lines[0].ID {
			t.Fatalf("after keeping a line again: %v", texts(got))
		}
	})
	t.Run("Between", func(t *testing.T) {
		f := open(t)
		a := f.Archive
		var lines []chat.Line
		for i := range 6 {
			lines = append(lines, f.line("E", uint64(i+1), t0.Add(time.Duration(6-i)*time.Second), fmt.Sprint(i+1))) // times out of order: seq decides
		}
		must(t, a.KeepLines(ctx, append(lines, f.line("F", 3, t0, "other epoch"))))
		must(t, a.DeleteLine(ctx, chat.Deletion{ShowID: f.Show, Epoch: "E", Seq: 4, By: f.Users[0], At: t0}))
		got, err := a.LinesBetween(ctx, f.Show, "E", 1, 6)
		must(t, err)
		if want := []string{"2", "3", "5"}; !slices.Equal(texts(got), want) {
			t.Fatalf("between 1 and 6 = %v, want %v", texts(got), want)
		}
		if got[0].Epoch != "E" || got[0].Seq != 2 || got[0].ID != lines[1].ID || !got[0].At.Equal(lines[1].At) || got[0].ShowID != f.Show {
			t.Fatalf("line = %+v", got[0])
		}
		got, err = a.LinesBetween(ctx, f.Show, "E", 0, math.MaxUint64)
		must(t, err)
		if len(got) != 5 {
			t.Fatalf("the whole epoch = %v", texts(got))
		}
		got, err = a.LinesBetween(ctx, f.Show2, "E", 0, 10)
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("another show = %v", texts(got))
		}
	})
	t.Run("Deletions", func(t *testing.T) {
		f := open(t)
		a := f.Archive
		mod := f.Users[0]
		// Deleted before its line is written (the line was in another
		// node's batch), and after.
		must(t, a.DeleteLine(ctx, chat.Deletion{ShowID: f.Show, Epoch: "E", Seq: 2, By: mod, At: t0.Add(time.Minute)}))
		must(t, a.KeepLines(ctx, []chat.Line{f.line("E", 1, t0, "one"), f.line("E", 2, t0.Add(time.Second), "two"), f.line("E", 3, t0.Add(2*time.Second), "three")}))
		must(t, a.DeleteLine(ctx, chat.Deletion{ShowID: f.Show, Epoch: "E", Seq: 3, By: mod, At: t0.Add(time.Minute)}))
		must(t, a.DeleteLine(ctx, chat.Deletion{ShowID: f.Show, Epoch: "E", Seq: 3, By: f.Users[1], At: t0.Add(2 * time.Minute)})) // twice
		// The same seq in another epoch is another line.
		must(t, a.KeepLines(ctx, []chat.Line{f.line("F", 2, t0.Add(3*time.Second), "two again")}))
		got, err := a.Lines(ctx, f.Show, nil, 10)
		must(t, err)
		if want := []string{"two again", "one"}; !slices.Equal(texts(got), want) {
			t.Fatalf("lines = %v, want %v", texts(got), want)
		}
		err = a.DeleteLine(ctx, chat.Deletion{ShowID: uuid.New(), Epoch: "E", Seq: 1, By: mod, At: t0})
		if apperr.CodeOf(err) != apperr.NotFound || apperr.MessageOf(err) != "show not found" {
			t.Fatalf("deleting in an unknown show: %v", err)
		}
	})
	t.Run("Forget", func(t *testing.T) {
		f := open(t)
		a := f.Archive
		must(t, a.KeepLines(ctx, []chat.Line{f.line("E", 1, t0, "old"), f.line("E", 2, t0.Add(time.Second), "old too"),
			f.line("E", 3, t0.Add(time.Hour), "new"), f.line("E", 4, t0.Add(time.Hour+time.Second), "new deleted")}))
		must(t, a.DeleteLine(ctx, chat.Deletion{ShowID: f.Show, Epoch: "E", Seq: 4, By: f.Users[0], At: t0.Add(2 * time.Hour)}))
		n, err := a.ForgetLines(ctx, t0.Add(time.Minute))
		must(t, err)
		if n != 2 {
			t.Fatalf("forgot %d lines, want 2", n)
		}
		got, err := a.Lines(ctx, f.Show, nil, 10)
		must(t, err)
		if !slices.Equal(texts(got), []string{"new"}) {
			t.Fatalf("after forgetting = %v", texts(got))
		}
		// The deletion of a line still kept is kept with it.
		if n, err = a.ForgetLines(ctx, t0.Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("forgetting again: %d, %v", n, err)
		}
		got, err = a.Lines(ctx, f.Show, nil, 10)
		must(t, err)
		if !slices.Equal(texts(got), []string{"new"}) {
			t.Fatalf("the deleted line came back: %v", texts(got))
		}
	})
	t.Run("ConcurrentRetries", func(t *testing.T) {
		f := open(t)
		a := f.Archive
		// Eight writers keep overlapping batches (retries, two nodes'
		// views): every line is stored once.
		const n = 200
		lines := make([]chat.Line, n)
		for i := range n {
			lines[i] = f.line("E", uint64(i+1), t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprint(i+1))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for w := range 8 {
			wg.Go(func() {
				for from := w * 10; from < n; from += 40 {
					if err := a.KeepLines(ctx, lines[from:min(from+50, n)]); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		got, err := a.Lines(ctx, f.Show, nil, n+10)
		must(t, err)
		if len(got) != n {
			t.Fatalf("%d lines stored, want %d", len(got), n)
		}
		for i, l := range got {
			if l.Seq != uint64(n-i) || l.ID != lines[n-1-i].ID {
				t.Fatalf("line %d = seq %d", i, l.Seq)
			}
		}
	})
}

// BenchKeepLines measures KeepLines with batches of 256 lines, the
// archive writer's largest, on f.Archive: b.N lines in all.
func BenchKeepLines(b *testing.B, f Fixture) {
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Microsecond)
	lines := make([]chat.Line, 256)
	b.ResetTimer()
	for seq := 0; seq < b.N; {
		n := min(len(lines), b.N-seq)
		for i := range n {
			seq++
			lines[i] = chat.Line{ShowID: f.Show, Epoch: "E", Seq: uint64(seq), ID: uuid.New(), Author: chat.Author{ID: f.Users[0], Name: "Bench"},
				Text: "Is the noir one lambskin? I would love to see it closer", At: at}
		}
		if err := f.Archive.KeepLines(ctx, lines[:n]); err != nil {
			b.Fatal(err)
		}
	}
}
