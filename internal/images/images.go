// Package images owns the pictures people upload: product photos, show
// covers, brand logos and avatars. An upload is checked (type, byte size,
// pixel dimensions read from the header before anything is decoded), decoded,
// redrawn into a fresh bitmap (so nothing of the file but its pixels
// survives: no metadata, no trailing bytes, no second image), scaled to a few
// widths and re-encoded; the store keeps those re-encoded variants only.
//
// An image is named by the hash of the uploaded bytes, so its URLs never
// change meaning and are served with immutable cache headers. This package
// never serves HTTP and never reads a URL: the web package does the former,
// and nothing fetches remote images at all.
package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // registers the WebP decoder with image.Decode

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Widths are the widths every image is offered at (smaller ones are made
// only when the source is wider; a source narrower than a width is kept at
// its own width, never scaled up). Clients build srcset from this list.
var Widths = []int{160, 320, 640, 1280}

// DefaultWidth is the variant GET /media/{id} answers with.
const DefaultWidth = 640

// Limits bound what an upload may be. Zero fields get the defaults.
type Limits struct {
	MaxBytes  int64 // the uploaded file; default 8 MiB
	MaxSide   int   // either dimension, in pixels; default 8000
	MaxPixels int   // width × height; default 40 million
	MinSide   int   // either dimension; default 16
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes == 0 {
		l.MaxBytes = 8 << 20
	}
	if l.MaxSide == 0 {
		l.MaxSide = 8000
	}
	if l.MaxPixels == 0 {
		l.MaxPixels = 40_000_000
	}
	if l.MinSide == 0 {
		l.MinSide = 16
	}
	return l
}

// Image is an uploaded picture as kept: its identity, who uploaded it, the
// source's size and the widths of the variants stored.
type Image struct {
	ID        string    `json:"id"`       // 32 hex digits: the first half of the SHA-256 of the uploaded bytes
	BrandID   uuid.UUID `json:"brand_id"` // uuid.Nil: a person's avatar, of no brand
	UserID    uuid.UUID `json:"user_id"`  // who uploaded it
	Width     int       `json:"width"`
	Height    int       `json:"height"`
	Widths    []int     `json:"widths"` // of the stored variants, ascending
	CreatedAt time.Time `json:"created_at"`
}

// URL is the path an image is served at in its default width; the one to
// put in a product's images, a logo or a cover.
func (im *Image) URL() string { return "/media/" + im.ID }

// Variant is one re-encoded size of an image.
type Variant struct {
	ImageID     string
	Width       int
	Height      int
	ContentType string // image/jpeg or image/png
	Data        []byte
}

// Store keeps images and their variants. PutImage stores an image with its
// variants in one transaction; an image whose ID is already stored is left
// as it is (the same bytes make the same variants) and is not an error.
// Variant returns the smallest stored variant at least width wide, else the
// widest; NotFound when the image is unknown.
type Store interface {
	PutImage(ctx context.Context, im *Image, variants []Variant) error
	ImageByID(ctx context.Context, id string) (*Image, error)
	Variant(ctx context.Context, id string, width int) (*Variant, error)
}

// Service turns uploads into stored images.
type Service struct {
	Store  Store
	Limits Limits
	Now    func() time.Time // zero: time.Now
}

// MaxBytes is the largest upload taken, for the HTTP layer's body limit.
func (s *Service) MaxBytes() int64 { return s.Limits.withDefaults().MaxBytes }

// Upload checks, processes and stores data for brandID, uploaded by userID
// and declared by the client as contentType. It returns the stored image
// (the existing one when the same bytes were uploaded before).
func (s *Service) Upload(ctx context.Context, brandID, userID uuid.UUID, contentType string, data []byte) (*Image, error) {
	im, variants, err := Process(contentType, data, s.Limits)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	im.BrandID, im.UserID, im.CreatedAt = brandID, userID, now().UTC().Truncate(time.Microsecond)
	if err := s.Store.PutImage(ctx, im, variants); err != nil {
		return nil, fmt.Errorf("store image: %w", err)
	}
	return s.Store.ImageByID(ctx, im.ID)
}

// formats maps the declared content types accepted to the decoder's name.
var formats = map[string]string{"image/jpeg": "jpeg", "image/png": "png", "image/webp": "webp"}

// Process is the pure part of an upload: check, decode, redraw, scale and
// encode. It touches no store.
func Process(contentType string, data []byte, lim Limits) (*Image, []Variant, error) {
	lim = lim.withDefaults()
	want, ok := formats[contentType]
	if !ok {
		return nil, nil, apperr.Errorf(apperr.Invalid, "an image must be image/jpeg, image/png or image/webp, not %q", contentType)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, nil, apperr.Errorf(apperr.TooLarge, "an image is at most %d bytes", lim.MaxBytes)
	}
	// The header first: a small file can claim a huge bitmap, and decoding
	// it would allocate what it claims.
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, nil, apperr.Errorf(apperr.Invalid, "not a readable JPEG, PNG or WebP image")
	}
	if format != want {
		return nil, nil, apperr.Errorf(apperr.Invalid, "the file is a %s image, not the %s it was sent as", format, contentType)
	}
	if cfg.Width < lim.MinSide || cfg.Height < lim.MinSide {
		return nil, nil, apperr.Errorf(apperr.Invalid, "an image is at least %d×%d pixels", lim.MinSide, lim.MinSide)
	}
	if cfg.Width > lim.MaxSide || cfg.Height > lim.MaxSide || cfg.Width*cfg.Height > lim.MaxPixels {
		return nil, nil, apperr.Errorf(apperr.TooLarge, "an image is at most %d pixels a side and %d pixels in all", lim.MaxSide, lim.MaxPixels)
	}
	src, err := decode(data)
	if err != nil {
		return nil, nil, err
	}
	b := src.Bounds()
	if b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, nil, apperr.Errorf(apperr.Invalid, "the image's size does not match its header")
	}
	// Redraw into a bitmap of our own: from here on only pixels count. RGBA,
	// because x/image/draw scales it on its fast path.
	full := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(full, full.Bounds(), src, b.Min, draw.Src)
	opaque := full.Opaque()

	sum := sha256.Sum256(data)
	im := &Image{ID: hex.EncodeToString(sum[:16]), Width: b.Dx(), Height: b.Dy()}
	var sizes []int
	for _, w := range Widths {
		w = min(w, im.Width)
		if len(sizes) > 0 && sizes[len(sizes)-1] == w {
			break // the source's own width is already stored
		}
		sizes = append(sizes, w)
	}
	// Largest first, each from the one before: a kernel's cost grows with
	// how far it shrinks, so four halvings cost a fraction of four scalings
	// of the source (the demo's seed spent most of its time here).
	variants := make([]Variant, len(sizes))
	from := full
	for i := len(sizes) - 1; i >= 0; i-- {
		w := sizes[i]
		h := max(1, (im.Height*w+im.Width/2)/im.Width) // of the source's proportions, not the last step's
		v, scaled, err := encode(from, w, h, opaque)
		if err != nil {
			return nil, nil, err
		}
		v.ImageID = im.ID
		variants[i], from = v, scaled
	}
	im.Widths = sizes
	return im, variants, nil
}

// decode decodes data; a decoder that panics on hostile input is an invalid
// image, not a crashed request.
func decode(data []byte) (img image.Image, err error) {
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, apperr.Errorf(apperr.Invalid, "not a readable image")
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, apperr.Errorf(apperr.Invalid, "not a readable image: %v", err)
	}
	return img, nil
}

// encode scales from to w×h and encodes it: JPEG for opaque pictures, PNG
// where transparency must survive (logos). It returns the scaled bitmap too,
// for the next smaller width.
func encode(from *image.RGBA, w, h int, opaque bool) (Variant, *image.RGBA, error) {
	fb := from.Bounds()
	img := from
	if w != fb.Dx() || h != fb.Dy() {
		img = image.NewRGBA(image.Rect(0, 0, w, h))
		draw.CatmullRom.Scale(img, img.Bounds(), from, fb, draw.Src, nil)
	}
	var buf bytes.Buffer
	v := Variant{Width: w, Height: h}
	if opaque {
		v.ContentType = "image/jpeg"
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 82}); err != nil {
			return v, nil, fmt.Errorf("encode jpeg: %w", err)
		}
	} else {
		v.ContentType = "image/png"
		if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, img); err != nil {
			return v, nil, fmt.Errorf("encode png: %w", err)
		}
	}
	v.Data = buf.Bytes()
	return v, img, nil
}

var idRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ValidID reports whether id has the shape of an image ID.
func ValidID(id string) bool { return idRE.MatchString(id) }

// ParseWidth reads a requested width ("" is DefaultWidth); anything but a
// positive number up to the largest width is Invalid.
func ParseWidth(s string) (int, error) {
	if s == "" {
		return DefaultWidth, nil
	}
	w, err := strconv.Atoi(s)
	if err != nil || w <= 0 || w > Widths[len(Widths)-1] {
		return 0, apperr.Errorf(apperr.Invalid, "width must be a number from 1 to %d", Widths[len(Widths)-1])
	}
	return w, nil
}
