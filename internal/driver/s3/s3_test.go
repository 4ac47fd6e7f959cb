package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/record"
)

func TestParseLocation(t *testing.T) {
	for raw, want := range map[string]Location{
		"s3://replays":               {Bucket: "replays"},
		"s3://replays/":              {Bucket: "replays"},
		"s3://my.replays/pavilion":   {Bucket: "my.replays", Prefix: "pavilion/"},
		"s3://replays/eu/pavilion/":  {Bucket: "replays", Prefix: "eu/pavilion/"},
		"s3://replays-2026/a-b/c_d/": {Bucket: "replays-2026", Prefix: "a-b/c_d/"},
	} {
		got, err := ParseLocation(raw)
		if err != nil || got != want {
			t.Errorf("%s: %+v %v, want %+v", raw, got, err, want)
		}
	}
	for _, bad := range []string{"", "replays", "http://replays/x", "s3://", "s3://Replays", "s3://a", "s3://key:secret@replays/x",
		"s3://replays/../x", "s3://replays/a//b", "s3://replays/x?region=eu", "s3://-replays"} {
		if _, err := ParseLocation(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// testServer is the S3-compatible server of PAVILION_TEST_S3_URL
// (http://ACCESS:SECRET@host:port; .ci/run starts one): the options to
// reach it. Outside CI the tests skip without it; under CI=true they fail.
func testServer(t *testing.T) Options {
	t.Helper()
	raw := os.Getenv("PAVILION_TEST_S3_URL")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PAVILION_TEST_S3_URL is not set: CI must start an S3-compatible server (.ci/run)")
		}
		t.Skip("set PAVILION_TEST_S3_URL=http://ACCESS:SECRET@host:port to run against an S3-compatible server")
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		t.Fatalf("PAVILION_TEST_S3_URL %q: want http://ACCESS:SECRET@host:port", raw)
	}
	secret, _ := u.User.Password()
	return Options{Endpoint: u.Scheme + "://" + u.Host, AccessKey: u.User.Username(), SecretKey: secret}
}

// newBucket makes a bucket of its own for the test and opens it, with a spool.
func newBucket(t *testing.T, prefix string) *Bucket {
	t.Helper()
	o := testServer(t)
	ctx := context.Background()
	name := "pavilion-test-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	// A bucket that does not exist is refused at start.
	spool := &record.Recorder{Dir: t.TempDir()}
	if _, err := Open(ctx, Location{Bucket: name}, o, spool, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a bucket that does not exist was opened")
	}
	return mustBucket(t, ctx, o, name, prefix, spool)
}

func mustBucket(t *testing.T, ctx context.Context, o Options, name, prefix string, spool *record.Recorder) *Bucket {
	t.Helper()
	// Made with a client of the test's own: the server's administration is
	// not Pavilion's job (the operator makes the bucket).
	c, err := clientFor(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(ctx, name, minio.MakeBucketOptions{Region: o.Region}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for obj := range c.ListObjects(context.Background(), name, minio.ListObjectsOptions{Recursive: true}) {
			_ = c.RemoveObject(context.Background(), name, obj.Key, minio.RemoveObjectOptions{})
		}
		_ = c.RemoveBucket(context.Background(), name)
	})
	b, err := Open(ctx, Location{Bucket: name, Prefix: prefix}, o, spool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// objects lists the keys in the bucket.
func objects(t *testing.T, b *Bucket) []string {
	t.Helper()
	var keys []string
	for obj := range b.Client.ListObjects(context.Background(), b.Loc.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

// A complete file goes from the spool to the bucket, under the prefix; it
// is served from there with range requests (seeking), fetched back for a
// join, and deleted from both.
func TestBucketKeepsAndServesRecordings(t *testing.T) {
	b := newBucket(t, "eu/replays/")
	show := uuid.New()
	rel := show.String() + "/" + uuid.NewString() + ".webm"
	local, _ := b.Spool.Path(rel)
	if err := os.MkdirAll(filepath.Dir(local), 0o750); err != nil {
		t.Fatal(err)
	}
	content := make([]byte, 300<<10)
	_, _ = rand.Read(content)
	if err := os.WriteFile(local, content, 0o640); err != nil {
		t.Fatal(err)
	}

	// Not stored yet: read from the spool.
	f, _, err := b.Open(rel)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(f)
	f.Close()
	if !bytes.Equal(got, content) {
		t.Fatal("the spool's file read back differs")
	}

	// What the spool holds, of recordings no writer holds (other files left out).
	_ = os.WriteFile(filepath.Join(filepath.Dir(local), "notes.txt"), []byte("x"), 0o640)
	if left, err := b.Leftovers(); err != nil || len(left) != 1 || left[0] != rel {
		t.Errorf("leftovers %v %v, want [%s]", left, err, rel)
	}

	if err := b.Kept(rel); err != nil {
		t.Fatal(err)
	}
	if keys := objects(t, b); len(keys) != 1 || keys[0] != "eu/replays/"+rel {
		t.Errorf("objects %v, want eu/replays/%s", keys, rel)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("the stored file is still in the spool: %v", err)
	}

	// Served with range requests, as the replay's media route does.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, mod, err := b.Open(rel)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", mod, f)
	}))
	defer srv.Close()
	for _, rg := range []struct {
		header   string
		from, to int
	}{{"bytes=0-99", 0, 100}, {"bytes=200000-209999", 200000, 210000}, {"bytes=-500", len(content) - 500, len(content)}} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.Header.Set("Range", rg.header)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		part, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusPartialContent || !bytes.Equal(part, content[rg.from:rg.to]) {
			t.Errorf("%s: %d, %d bytes", rg.header, res.StatusCode, len(part))
		}
	}

	// A join fetches the parts it needs back into the spool.
	if err := b.fetch(rel); err != nil {
		t.Fatal(err)
	}
	if back, _ := os.ReadFile(local); !bytes.Equal(back, content) {
		t.Error("the fetched file differs")
	}

	// Deleted from the bucket and the spool.
	if err := b.Delete(rel); err != nil {
		t.Fatal(err)
	}
	if keys := objects(t, b); len(keys) != 0 {
		t.Errorf("left after delete: %v", keys)
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("left in the spool: %v", err)
	}
	if _, _, err := b.Open(rel); !errors.Is(err, apperr.E(apperr.NotFound)) {
		t.Errorf("opening a deleted recording: %v, want NotFound", err)
	}
	// Paths outside the prefix are refused.
	for _, bad := range []string{"../x", "/etc/passwd", "a/../../x"} {
		if _, _, err := b.Open(bad); err == nil {
			t.Errorf("%q opened", bad)
		}
		if err := b.Delete(bad); err == nil {
			t.Errorf("%q deleted", bad)
		}
	}
}
