// Package s3 keeps the recordings of shows in an S3-compatible bucket
// (`--recordings s3://bucket/prefix`), through the MinIO Go client.
//
// A bucket cannot be written a frame at a time, nor repaired after a
// crash: a recording is written, repaired and joined as a file in a spool
// directory (internal/record), and stored in the bucket once it is
// complete (Kept), then removed from the spool. Replays are read from the
// bucket with range requests (a *minio.Object seeks), so players seek; a
// file finished but not stored yet is read from the spool.
//
// It implements replay.Files; it decides nothing about who may watch.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/pavilion-live/pavilion/internal/record"
)

// Location is a bucket and a prefix of its keys, from s3://bucket/prefix.
type Location struct {
	Bucket string
	Prefix string // "" or ending in "/"
}

// bucketName: S3's rules for a bucket name (3 to 63 lower-case letters,
// digits, dots and hyphens, starting and ending with a letter or digit).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// ParseLocation reads s3://bucket[/prefix].
func ParseLocation(raw string) (Location, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" {
		return Location{}, fmt.Errorf("%q is not an s3://bucket/prefix address", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("%q: give the bucket and a prefix only (credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", raw)
	}
	if !bucketName.MatchString(u.Host) {
		return Location{}, fmt.Errorf("%q: %q is not a bucket name", raw, u.Host)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		if path.Clean(prefix) != prefix || strings.HasPrefix(prefix, "..") {
			return Location{}, fmt.Errorf("%q: the prefix must be a clean path", raw)
		}
		prefix += "/"
	}
	return Location{Bucket: u.Host, Prefix: prefix}, nil
}

// Options say how to reach the S3 service.
type Options struct {
	// Endpoint is the service's address: "https://s3.eu-west-3.amazonaws.com"
	// or "http://127.0.0.1:7070" (a scheme-less host:port means https).
	Endpoint string
	// Region, when the service wants one named.
	Region string
	// AccessKey and SecretKey; empty: from the environment
	// (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or MINIO_ACCESS_KEY and
	// MINIO_SECRET_KEY), then the instance's IAM role.
	AccessKey, SecretKey string
}

// Bucket is where recordings are kept (replay.Files).
type Bucket struct {
	Client *minio.Client
	Loc    Location
	// Spool writes, repairs and joins the files before they are stored.
	Spool  *record.Recorder
	Logger *slog.Logger
}

// Open connects to the service and checks that the bucket is there.
func Open(ctx context.Context, loc Location, o Options, spool *record.Recorder, log *slog.Logger) (*Bucket, error) {
	c, err := clientFor(o)
	if err != nil {
		return nil, err
	}
	ok, err := c.BucketExists(ctx, loc.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3: bucket %s at %s: %w", loc.Bucket, o.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3: bucket %s does not exist at %s", loc.Bucket, o.Endpoint)
	}
	return &Bucket{Client: c, Loc: loc, Spool: spool, Logger: log}, nil
}

// clientFor makes a client of the service o names.
func clientFor(o Options) (*minio.Client, error) {
	host, secure := o.Endpoint, true
	if u, err := url.Parse(o.Endpoint); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		if u.Path != "" && u.Path != "/" {
			return nil, fmt.Errorf("s3: endpoint %q: give the host only (the bucket comes from s3://bucket/prefix)", o.Endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
	}
	if host == "" {
		return nil, errors.New("s3: no endpoint (--s3-endpoint)")
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.IAM{},
	})
	if o.AccessKey != "" {
		creds = credentials.NewStaticV4(o.AccessKey, o.SecretKey, "")
	}
	c, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: o.Region})
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	return c, nil
}

func (b *Bucket) log() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.Default()
}

// key is the object key of a recording's path, refusing a path that would
// leave the prefix (the same rule as the spool's).
func (b *Bucket) key(rel string) (string, error) {
	if _, err := b.Spool.Path(rel); err != nil {
		return "", err
	}
	return b.Loc.Prefix + path.Clean(filepath.ToSlash(rel)), nil
}

// opTimeout bounds one request that is not a transfer.
const opTimeout = 30 * time.Second

func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}

// Open opens a recording for reading (replay.Files): the object, read
// with range requests as the reader seeks; a file not stored yet from the
// spool.
func (b *Bucket) Open(rel string) (io.ReadSeekCloser, time.Time, error) {
	key, err := b.key(rel)
	if err != nil {
		return nil, time.Time{}, err
	}
	// The object lives as long as its reader; the request for each range
	// is made as it is read.
	obj, err := b.Client.GetObject(context.Background(), b.Loc.Bucket, key, minio.GetObjectOptions{})
	if err == nil {
		var st minio.ObjectInfo
		st, err = obj.Stat()
		if err == nil {
			return obj, st.LastModified, nil
		}
		obj.Close()
	}
	if notFound(err) {
		return b.Spool.Open(rel)
	}
	return nil, time.Time{}, fmt.Errorf("s3: %s: %w", key, err)
}

// Delete removes a recording from the bucket and the spool (replay.Files).
func (b *Bucket) Delete(rel string) error {
	key, err := b.key(rel)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := b.Client.RemoveObject(ctx, b.Loc.Bucket, key, minio.RemoveObjectOptions{}); err != nil && !notFound(err) {
		return fmt.Errorf("s3: remove %s: %w", key, err)
	}
	return b.Spool.Delete(rel)
}

// Repair finishes a file whose writer died, in the spool (replay.Files).
func (b *Bucket) Repair(rel string) (time.Duration, int64, error) { return b.Spool.Repair(rel) }

// Busy reports whether err is Repair's answer for a file being written.
func (b *Bucket) Busy(err error) bool { return b.Spool.Busy(err) }

// Incompatible reports whether err is Join's answer for files that cannot be one.
func (b *Bucket) Incompatible(err error) bool { return b.Spool.Incompatible(err) }

// Join joins recordings into one new file in the spool (replay.Files),
// fetching the parts already stored; Kept stores the result.
func (b *Bucket) Join(out string, parts []string, offsetsMS []int64, due func() (bool, error), list func(time.Duration, int64) error) error {
	for _, p := range parts {
		if err := b.fetch(p); err != nil {
			return err
		}
	}
	return b.Spool.Join(out, parts, offsetsMS, due, list)
}

// fetch brings a stored recording back into the spool, unless it is there.
func (b *Bucket) fetch(rel string) error {
	local, err := b.Spool.Path(rel)
	if err != nil {
		return err
	}
	if _, err := os.Stat(local); err == nil {
		return nil
	}
	key, err := b.key(rel)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	if err := b.Client.FGetObject(ctx, b.Loc.Bucket, key, local, minio.GetObjectOptions{}); err != nil {
		return fmt.Errorf("s3: fetch %s: %w", key, err)
	}
	return nil
}

// transferTimeout bounds storing or fetching one file (hours of show are
// gigabytes).
const transferTimeout = time.Hour

// Kept stores a complete file in the bucket and removes it from the spool
// (replay.Files). A failure leaves it in the spool, where Open finds it.
func (b *Bucket) Kept(rel string) error {
	local, err := b.Spool.Path(rel)
	if err != nil {
		return err
	}
	key, err := b.key(rel)
	if err != nil {
		return err
	}
	ctype := record.MediaWebM
	if strings.HasSuffix(rel, ".mp4") {
		ctype = record.MediaMP4
	}
	ctx, cancel := context.WithTimeout(context.Background(), transferTimeout)
	defer cancel()
	info, err := b.Client.FPutObject(ctx, b.Loc.Bucket, key, local, minio.PutObjectOptions{ContentType: ctype})
	if err != nil {
		return fmt.Errorf("s3: store %s: %w", key, err)
	}
	if err := os.Remove(local); err != nil {
		b.log().Warn("s3: a stored recording stays in the spool", "path", local, "err", err)
	}
	// The show's directory in the spool goes when it is empty.
	_ = os.Remove(filepath.Dir(local))
	b.log().Info("s3: recording stored", "key", key, "bytes", info.Size)
	return nil
}

// Leftovers lists the files in the spool that no writer holds: finished
// ones a failed store left there, or ones waiting for their repair
// (replay.Service.StoreLeftovers keeps the finished ones).
func (b *Bucket) Leftovers() ([]string, error) { return b.Spool.Idle() }
