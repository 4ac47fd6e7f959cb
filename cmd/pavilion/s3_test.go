package main

import (
	"context"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// bucketStorage makes a bucket of the test's own on the S3-compatible
// server of PAVILION_TEST_S3_URL (http://ACCESS:SECRET@host:port; .ci/run
// starts one) for a node's --recordings. Outside CI the test skips
// without it; under CI=true it fails.
func bucketStorage(t *testing.T) storage {
	t.Helper()
	raw := os.Getenv("PAVILION_TEST_S3_URL")
	if raw == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PAVILION_TEST_S3_URL is not set: CI must start an S3-compatible server (.ci/run)")
		}
		t.Skip("set PAVILION_TEST_S3_URL=http://ACCESS:SECRET@host:port to record to an S3-compatible server")
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		t.Fatalf("PAVILION_TEST_S3_URL %q: want http://ACCESS:SECRET@host:port", raw)
	}
	access := u.User.Username()
	secret, _ := u.User.Password()
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), Secure: u.Scheme == "https"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bucket := "pavilion-test-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:20]
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for obj := range c.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Recursive: true}) {
			_ = c.RemoveObject(context.Background(), bucket, obj.Key, minio.RemoveObjectOptions{})
		}
		_ = c.RemoveBucket(context.Background(), bucket)
	})
	const prefix = "replays/"
	return storage{
		args: []string{"--recordings", "s3://" + bucket + "/" + strings.TrimSuffix(prefix, "/"), "--s3-endpoint", u.Scheme + "://" + u.Host},
		// The credentials, as an operator gives them.
		env: []string{"AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret},
		files: func(t *testing.T, show string) []string {
			dir := t.TempDir()
			var files []string
			for obj := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix + show + "/", Recursive: true}) {
				if obj.Err != nil {
					t.Fatal(obj.Err)
				}
				local := filepath.Join(dir, path.Base(obj.Key))
				if err := c.FGetObject(ctx, bucket, obj.Key, local, minio.GetObjectOptions{}); err != nil {
					t.Fatal(err)
				}
				files = append(files, local)
			}
			return files
		},
	}
}
