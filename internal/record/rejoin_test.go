package record

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pavilion-live/pavilion/internal/driver/sqlite"
	"github.com/pavilion-live/pavilion/internal/record/recordtest"
	"github.com/pavilion-live/pavilion/internal/replay"
	"github.com/pavilion-live/pavilion/internal/testrig/storetest"
	"github.com/pavilion-live/pavilion/stream"
)

// dyingJoin is a process that dies while joining: the joined file is half
// written (a copy of half the first part), nothing is listed, the parts
// stay; it notes where the file is.
type dyingJoin struct {
	*Recorder
	outs []string
}

var errDied = errors.New("the process died")

func (d *dyingJoin) Join(out string, parts []string, _ []int64, _ func() (bool, error), _ func(time.Duration, int64) error) error {
	src, err := d.Path(parts[0])
	if err != nil {
		return err
	}
	dst, err := d.Path(out)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, b[:len(b)/2], 0o640); err != nil {
		return err
	}
	d.outs = append(d.outs, out)
	return errDied
}

// A node that died while joining a show's files (the host's and the
// guest's, each a node restart apart) left them listed apart and half-written
// joined files: the next start (JoinUnjoined) makes each role's one file over
// the half-written one, lists it in the place of its parts and removes
// them; the replay has both, whole. While another process holds a joined
// file's lock, the join is left to it; a second run changes nothing.
func TestInterruptedJoinIsFinishedOnStart(t *testing.T) {
	recordtest.Need(t, "ffprobe")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	show, _ := storetest.TwoShows(t, storetest.Stores{Accounts: db, Brands: db, Shows: db}, "maison")

	clip := recordtest.Make(t, 2)
	r, clock, done := newRecorder(t)
	var files []File
	for _, role := range []string{stream.RoleHost, stream.RoleGuest} {
		rec, err := r.Record(show, role)
		if err != nil {
			t.Fatal(err)
		}
		p := newPublisher(t, rec, clip)
		p.play(clip, clock, 3*time.Second)
		p.leave()
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		files = append(files, (*done)[len(*done)-1])
		clock.add(2 * time.Second) // the restart
		rec, _ = r.Record(show, role)
		p = newPublisher(t, rec, clip)
		p.play(clip, clock, 3*time.Second)
		p.leave()
		if err := rec.Close(); err != nil {
			t.Fatal(err)
		}
		files = append(files, (*done)[len(*done)-1])
	}
	for _, f := range files {
		end := f.EndedAt
		if err := db.AddRecording(ctx, &replay.Recording{ID: f.ID, ShowID: f.ShowID, Path: f.Path, MediaType: f.MediaType, Role: f.Role,
			StartedAt: f.StartedAt, EndedAt: &end, DurationMS: f.Duration.Milliseconds(), Bytes: f.Bytes}); err != nil {
			t.Fatal(err)
		}
	}

	// The join dies half-way, for both roles.
	dying := &dyingJoin{Recorder: r}
	svc := &replay.Service{Store: db, Shows: db, Files: dying}
	if n, err := svc.JoinUnjoined(ctx); n != 0 || err != nil {
		t.Fatalf("a dying join: %d joined, %v", n, err)
	}
	if len(dying.outs) != 2 {
		t.Fatalf("joins begun: %v, want the host's and the guest's", dying.outs)
	}
	if list, _ := db.Recordings(ctx, show); len(list) != 4 {
		t.Fatalf("%d recordings listed after a dead join, want the 4 parts", len(list))
	}

	// The next start, while another process joins the host's files: that
	// one is left to it.
	svc.Files = r
	other, err := os.OpenFile(filepath.Join(r.Dir, filepath.FromSlash(dying.outs[0])), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := lock(other); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.JoinUnjoined(ctx); n != 1 || err != nil {
		t.Fatalf("with the host's join under way elsewhere: %d joined, %v; want the guest's", n, err)
	}
	other.Close()
	if n, err := svc.JoinUnjoined(ctx); n != 1 || err != nil {
		t.Fatalf("then: %d joined, %v; want the host's", n, err)
	}
	if n, err := svc.JoinUnjoined(ctx); n != 0 || err != nil {
		t.Fatalf("a second run: %d joined, %v", n, err)
	}

	list, err := db.Recordings(ctx, show)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("listed after the join: %+v, want one file a role", list)
	}
	for _, rec := range list {
		i := 0
		if rec.Role == replay.RoleGuest {
			i = 2
		}
		if want := dying.outs[i/2]; rec.Path != want {
			t.Errorf("%s joined into %s, want over the dead join's %s", rec.Role, rec.Path, want)
		}
		a, b := files[i], files[i+1]
		want := b.StartedAt.Sub(a.StartedAt) + b.Duration
		if !rec.StartedAt.Equal(a.StartedAt) || !near(time.Duration(rec.DurationMS)*time.Millisecond, want, 300*time.Millisecond) {
			t.Errorf("%s: %+v, want from %v for %v", rec.Role, rec, a.StartedAt, want)
		}
		p, _ := r.Path(rec.Path)
		checkStreams(t, p, "vp8", want)
		for _, part := range []File{a, b} {
			if pp, _ := r.Path(part.Path); fileExists(pp) {
				t.Errorf("the part %s is still on disk", part.Path)
			}
		}
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
