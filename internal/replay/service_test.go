package replay

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
)

// listedStore lists recordings; the rest of Store is not used here.
type listedStore struct {
	Store
	recs []Recording
}

func (s listedStore) Recordings(_ context.Context, show uuid.UUID) ([]Recording, error) {
	var out []Recording
	for _, r := range s.recs {
		if r.ShowID == show {
			out = append(out, r)
		}
	}
	return out, nil
}

// spoolFiles is a bucket's Files: what is left in its spool, and what it stored.
type spoolFiles struct {
	Files
	left []string
	kept []string
}

func (f *spoolFiles) Leftovers() ([]string, error) { return f.left, nil }
func (f *spoolFiles) Kept(p string) error          { f.kept = append(f.kept, p); return nil }

// Only listed, finished recordings left in a spool are stored: not one
// waiting for its repair, nor a file the database does not list.
func TestStoreLeftovers(t *testing.T) {
	show := uuid.New()
	end := time.Now()
	finished := Recording{ID: uuid.New(), ShowID: show, Path: show.String() + "/a.webm", EndedAt: &end}
	unfinished := Recording{ID: uuid.New(), ShowID: show, Path: show.String() + "/b.webm"}
	files := &spoolFiles{left: []string{finished.Path, unfinished.Path, show.String() + "/orphan.webm", "not-a-show/x.webm"}}
	s := &Service{Store: listedStore{recs: []Recording{finished, unfinished}}, Files: files}
	n, err := s.StoreLeftovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || len(files.kept) != 1 || files.kept[0] != finished.Path {
		t.Errorf("stored %d: %v, want only %s", n, files.kept, finished.Path)
	}
	// A directory's Files has no spool: nothing to do.
	s.Files = struct{ Files }{files}
	if n, err := s.StoreLeftovers(context.Background()); n != 0 || err != nil {
		t.Errorf("%d %v", n, err)
	}
}
