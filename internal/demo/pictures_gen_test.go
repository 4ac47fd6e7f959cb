package demo

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite pictures/ from the drawings (go generate ./internal/demo)")

// TestPictures: the pictures the seed stores are what the upload pipeline
// makes of the drawings, byte for byte: a change to a drawing, to the
// pipeline or to an encoder in a new Go release shows here, and `go
// generate ./internal/demo` brings pictures/ up to date.
func TestPictures(t *testing.T) {
	if runtime.GOARCH != "amd64" && !*update {
		// The compiler may fuse the drawing's multiply-adds elsewhere
		// (arm64), rounding a pixel differently: pictures/ is made and
		// checked on amd64, where CI runs.
		t.Skipf("the demo pictures are checked on amd64, not %s", runtime.GOARCH)
	}
	names := slices.Sorted(maps.Keys(drawings()))
	if *update {
		if err := os.RemoveAll("pictures"); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir("pictures", 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := writePicture(n); err != nil {
				t.Fatal(err)
			}
		}
		return // the embedded files are the old ones until the next build
	}
	entries, err := pictureFiles.ReadDir("pictures")
	if err != nil {
		t.Fatal(err)
	}
	var manifests []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			manifests = append(manifests, n)
		}
	}
	if !slices.Equal(manifests, names) {
		t.Errorf("pictures/ holds %v, the drawings are %v: run go generate ./internal/demo", manifests, names)
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			t.Parallel() // each is a few seconds of drawing and scaling under the race detector
			want, wantVs, err := process(n)
			if err != nil {
				t.Fatal(err)
			}
			got, gotVs, err := stored(n)
			if err != nil {
				t.Fatalf("%v: run go generate ./internal/demo", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("stored image %+v, the drawing makes %+v: run go generate ./internal/demo", got, want)
			}
			if len(gotVs) != len(wantVs) {
				t.Fatalf("%d stored variants, the drawing makes %d: run go generate ./internal/demo", len(gotVs), len(wantVs))
			}
			for i := range wantVs {
				g, w := gotVs[i], wantVs[i]
				if g.ImageID != w.ImageID || g.Width != w.Width || g.Height != w.Height || g.ContentType != w.ContentType || !bytes.Equal(g.Data, w.Data) {
					t.Errorf("variant %d: stored %dx%d %s (%d bytes), the drawing makes %dx%d %s (%d bytes): run go generate ./internal/demo",
						i, g.Width, g.Height, g.ContentType, len(g.Data), w.Width, w.Height, w.ContentType, len(w.Data))
				}
			}
		})
	}
}

// writePicture runs the drawing name through the pipeline into pictures/.
func writePicture(name string) error {
	im, vs, err := process(name)
	if err != nil {
		return err
	}
	p := processed{ID: im.ID, Width: im.Width, Height: im.Height}
	for _, v := range vs {
		file := fmt.Sprintf("%s-%d%s", name, v.Width, map[string]string{"image/jpeg": ".jpg", "image/png": ".png"}[v.ContentType])
		if err := os.WriteFile(filepath.Join("pictures", file), v.Data, 0o644); err != nil {
			return err
		}
		p.Variants = append(p.Variants, variant{Width: v.Width, Height: v.Height, ContentType: v.ContentType, File: file})
	}
	b, err := json.MarshalIndent(p, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join("pictures", name+".json"), append(b, '\n'), 0o644)
}
