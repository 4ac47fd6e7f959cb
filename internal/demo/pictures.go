package demo

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"path"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/images"
)

// The demo's pictures are drawn here from shapes (no downloads) and go
// through the same upload pipeline as a brand's own, ahead of time: `go
// generate` stores the pipeline's output under pictures/, and the seed puts
// those variants in the store as an upload of the drawing would. Drawing and
// scaling them was most of a first seed's time (many times over under the
// race detector, for every test that starts a demo server); TestPictures
// checks that the committed files are what the pipeline makes of the
// drawings today.

//go:generate go test -run ^TestPictures$ . -update

//go:embed pictures
var pictureFiles embed.FS

// drawings are the demo's pictures by name.
func drawings() map[string]func() *image.NRGBA {
	return map[string]func() *image.NRGBA{
		"logo": logo, "cover": cover, "portrait": portrait, "sneaker": sneaker,
		"bag-noir":    func() *image.NRGBA { return bag(noir) },
		"bag-ivoire":  func() *image.NRGBA { return bag(color.NRGBA{236, 228, 212, 255}) },
		"carre-rouge": func() *image.NRGBA { return carre(color.NRGBA{164, 30, 42, 255}) },
		"carre-bleu":  func() *image.NRGBA { return carre(color.NRGBA{30, 58, 120, 255}) },
	}
}

// canvas is a picture drawn with anti-aliased shapes given by signed
// distance functions (negative inside, in pixels).
type canvas struct{ img *image.NRGBA }

func newCanvas(w, h int, top, bottom color.NRGBA) *canvas {
	c := &canvas{image.NewNRGBA(image.Rect(0, 0, w, h))}
	for y := range h {
		t := float64(y) / float64(h-1)
		col := mix(top, bottom, t)
		for x := range w {
			c.img.SetNRGBA(x, y, col)
		}
	}
	return c
}

// mix blends a toward b by t; t past 1 brightens beyond b, clamped to
// white (an unclamped channel would wrap around to dark).
func mix(a, b color.NRGBA, t float64) color.NRGBA {
	l := func(x, y uint8) uint8 {
		return uint8(math.Max(0, math.Min(255, float64(x)+(float64(y)-float64(x))*t+0.5)))
	}
	return color.NRGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), l(a.A, b.A)}
}

// fill paints col where sdf < 0, shade (if any) varying the colour per pixel.
func (c *canvas) fill(sdf func(x, y float64) float64, col color.NRGBA, shade func(x, y float64) float64) {
	// In tiles, skipping a tile whose centre is far outside the shape: the
	// distance functions are (about) exact, so nothing there is painted.
	const tile = 16
	b := c.img.Bounds()
	for ty := b.Min.Y; ty < b.Max.Y; ty += tile {
		for tx := b.Min.X; tx < b.Max.X; tx += tile {
			if sdf(float64(tx)+tile/2, float64(ty)+tile/2) > tile*2 {
				continue
			}
			c.fillTile(sdf, col, shade, image.Rect(tx, ty, tx+tile, ty+tile).Intersect(b))
		}
	}
}

func (c *canvas) fillTile(sdf func(x, y float64) float64, col color.NRGBA, shade func(x, y float64) float64, b image.Rectangle) {
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			px, py := float64(x)+0.5, float64(y)+0.5
			cover := math.Max(0, math.Min(1, 0.5-sdf(px, py)))
			if cover == 0 {
				continue
			}
			k := col
			if shade != nil {
				k = mix(color.NRGBA{0, 0, 0, col.A}, col, math.Max(0, math.Min(1.4, shade(px, py))))
			}
			a := cover * float64(k.A) / 255
			old := c.img.NRGBAAt(x, y)
			c.img.SetNRGBA(x, y, color.NRGBA{
				uint8(float64(old.R)*(1-a) + float64(k.R)*a + 0.5), uint8(float64(old.G)*(1-a) + float64(k.G)*a + 0.5),
				uint8(float64(old.B)*(1-a) + float64(k.B)*a + 0.5), uint8(math.Min(255, float64(old.A)+a*255*(1-float64(old.A)/255))),
			})
		}
	}
}

func roundRect(cx, cy, hw, hh, r float64) func(x, y float64) float64 {
	return func(x, y float64) float64 {
		dx, dy := math.Abs(x-cx)-hw+r, math.Abs(y-cy)-hh+r
		return math.Hypot(math.Max(dx, 0), math.Max(dy, 0)) + math.Min(math.Max(dx, dy), 0) - r
	}
}

func circle(cx, cy, r float64) func(x, y float64) float64 {
	return func(x, y float64) float64 { return math.Hypot(x-cx, y-cy) - r }
}

func ring(cx, cy, r, width float64) func(x, y float64) float64 {
	return func(x, y float64) float64 { return math.Abs(math.Hypot(x-cx, y-cy)-r) - width/2 }
}

func ellipse(cx, cy, rx, ry float64) func(x, y float64) float64 {
	return func(x, y float64) float64 {
		d := math.Hypot((x-cx)/rx, (y-cy)/ry)
		return (d - 1) * math.Min(rx, ry)
	}
}

func and(a, b func(x, y float64) float64) func(x, y float64) float64 {
	return func(x, y float64) float64 { return math.Max(a(x, y), b(x, y)) }
}

func above(yl float64) func(x, y float64) float64 {
	return func(_, y float64) float64 { return y - yl }
}

var (
	cream = color.NRGBA{246, 240, 230, 255}
	sand  = color.NRGBA{226, 212, 192, 255}
	gold  = color.NRGBA{201, 162, 90, 255}
	noir  = color.NRGBA{28, 27, 31, 255}
)

// bag draws the quilted bag in body colour col.
func bag(col color.NRGBA) *image.NRGBA {
	const s = 720.0
	c := newCanvas(s, s, cream, sand)
	c.fill(ellipse(s/2, s*0.86, s*0.34, s*0.035), color.NRGBA{0, 0, 0, 50}, nil) // shadow
	c.fill(and(ring(s/2, s*0.40, s*0.2, s*0.03), above(s*0.40)), gold, nil)      // chain handle
	quilt := func(x, y float64) float64 {
		u, v := math.Mod(x+y, 60), math.Mod(x-y+720, 60)
		if math.Min(u, v) < 3 {
			return 0.72
		}
		return 1 - 0.25*(y-s*0.4)/(s*0.45)
	}
	c.fill(roundRect(s/2, s*0.63, s*0.32, s*0.22, 36), col, quilt)
	c.fill(roundRect(s/2, s*0.47, s*0.32, s*0.06, 20), mix(col, noir, 0.15), nil) // flap
	c.fill(circle(s/2, s*0.53, s*0.035), gold, func(x, y float64) float64 { return 1.2 - (y-s*0.5)/(s*0.2) })
	return c.img
}

// carre draws the silk square: a border, a medallion and a ring of dots.
func carre(col color.NRGBA) *image.NRGBA {
	const s = 720.0
	c := newCanvas(s, s, cream, sand)
	c.fill(roundRect(s/2+8, s/2+12, s*0.36, s*0.36, 6), color.NRGBA{0, 0, 0, 40}, nil)
	c.fill(roundRect(s/2, s/2, s*0.36, s*0.36, 6), col, func(x, y float64) float64 { return 1.05 - 0.15*math.Sin((x+y)/90) })
	c.fill(and(roundRect(s/2, s/2, s*0.32, s*0.32, 4), func(x, y float64) float64 { return -roundRect(s/2, s/2, s*0.30, s*0.30, 4)(x, y) }), gold, nil)
	c.fill(ring(s/2, s/2, s*0.14, 10), gold, nil)
	c.fill(circle(s/2, s/2, s*0.07), cream, nil)
	for i := range 12 {
		a := float64(i) * math.Pi / 6
		c.fill(circle(s/2+math.Cos(a)*s*0.22, s/2+math.Sin(a)*s*0.22, 12), cream, nil)
	}
	return c.img
}

// sneaker draws the runway sneaker from the side.
func sneaker() *image.NRGBA {
	const s = 720.0
	c := newCanvas(s, s, cream, sand)
	c.fill(ellipse(s/2, s*0.72, s*0.38, s*0.03), color.NRGBA{0, 0, 0, 45}, nil)
	c.fill(ellipse(s*0.56, s*0.58, s*0.30, s*0.14), color.NRGBA{250, 250, 247, 255}, func(x, y float64) float64 { return 1.1 - 0.2*(y-s*0.45)/(s*0.25) })
	c.fill(roundRect(s*0.40, s*0.52, s*0.14, s*0.12, 60), color.NRGBA{250, 250, 247, 255}, func(x, y float64) float64 { return 1.05 - 0.15*(y-s*0.4)/(s*0.25) })
	c.fill(roundRect(s*0.50, s*0.68, s*0.36, s*0.035, 18), noir, nil) // sole
	c.fill(ellipse(s*0.62, s*0.56, s*0.12, s*0.03), gold, nil)        // stripe
	for i := range 4 {
		c.fill(circle(s*0.40+float64(i)*22, s*0.45+float64(i)*10, 6), noir, nil) // eyelets
	}
	return c.img
}

// logo is the brand's mark: a gold ring round an L on noir, transparent
// around (so it goes through the PNG path).
func logo() *image.NRGBA {
	const s = 256.0
	c := &canvas{image.NewNRGBA(image.Rect(0, 0, s, s))}
	c.fill(circle(s/2, s/2, s/2-2), noir, nil)
	c.fill(ring(s/2, s/2, s*0.38, 6), gold, nil)
	c.fill(roundRect(s*0.44, s/2, s*0.04, s*0.2, 2), gold, nil)
	c.fill(roundRect(s*0.53, s*0.66, s*0.13, s*0.04, 2), gold, nil)
	return c.img
}

// cover is the show's portrait cover: a lit runway.
func cover() *image.NRGBA {
	const w, h = 720.0, 1280.0
	c := newCanvas(w, h, color.NRGBA{24, 22, 28, 255}, color.NRGBA{58, 46, 40, 255})
	c.fill(circle(w/2, h*0.18, w*0.7), color.NRGBA{255, 236, 200, 40}, nil)
	c.fill(circle(w/2, h*0.18, w*0.4), color.NRGBA{255, 236, 200, 40}, nil)
	runway := func(x, y float64) float64 { // a trapezoid widening toward the viewer
		if y < h*0.45 {
			return h*0.45 - y
		}
		half := w*0.08 + (y-h*0.45)*0.45
		return math.Abs(x-w/2) - half
	}
	c.fill(runway, color.NRGBA{236, 226, 210, 255}, func(_, y float64) float64 { return 0.5 + 0.6*(y-h*0.45)/(h*0.55) })
	c.fill(ellipse(w/2, h*0.62, w*0.09, h*0.012), color.NRGBA{0, 0, 0, 70}, nil)
	c.fill(roundRect(w/2, h*0.52, w*0.045, h*0.09, 24), noir, nil) // the model, a silhouette
	c.fill(circle(w/2, h*0.415, w*0.035), noir, nil)
	c.fill(roundRect(w/2+w*0.06, h*0.54, w*0.04, h*0.025, 8), gold, nil) // with the bag
	return c.img
}

// portrait is the host's avatar: a head and shoulders on a warm ground.
func portrait() *image.NRGBA {
	const s = 320.0
	c := newCanvas(s, s, color.NRGBA{240, 195, 106, 255}, color.NRGBA{201, 140, 90, 255})
	c.fill(ellipse(s/2, s*1.02, s*0.36, s*0.3), noir, nil)                                  // shoulders
	c.fill(roundRect(s/2, s*0.7, s*0.06, s*0.08, 12), color.NRGBA{224, 178, 150, 255}, nil) // neck
	c.fill(ellipse(s/2, s*0.38, s*0.2, s*0.22), color.NRGBA{58, 38, 30, 255}, nil)          // hair
	c.fill(ellipse(s/2, s*0.45, s*0.15, s*0.19), color.NRGBA{236, 194, 166, 255}, nil)      // face
	c.fill(ellipse(s/2, s*0.3, s*0.17, s*0.08), color.NRGBA{58, 38, 30, 255}, nil)          // fringe
	c.fill(circle(s/2-s*0.055, s*0.45, 5), noir, nil)                                       // eyes
	c.fill(circle(s/2+s*0.055, s*0.45, 5), noir, nil)
	c.fill(and(ring(s/2, s*0.5, s*0.06, 4), func(_, y float64) float64 { return s*0.52 - y }), color.NRGBA{176, 60, 60, 255}, nil) // smile
	return c.img
}

// processed is a drawing as the upload pipeline makes it: the image (its ID
// from the uploaded bytes) and its variants.
type processed struct {
	ID       string    `json:"id"`
	Width    int       `json:"width"`
	Height   int       `json:"height"`
	Variants []variant `json:"variants"` // ascending
}

// variant is an images.Variant with its bytes in a file of their own.
type variant struct {
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	ContentType string `json:"content_type"`
	File        string `json:"file"`
}

// process draws the picture name and runs it through the upload pipeline,
// as an upload of the drawing as a PNG would.
func process(name string) (*images.Image, []images.Variant, error) {
	draw, ok := drawings()[name]
	if !ok {
		return nil, nil, fmt.Errorf("demo picture %q: no such drawing", name)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, draw()); err != nil {
		return nil, nil, fmt.Errorf("demo picture %q: %w", name, err)
	}
	im, vs, err := images.Process("image/png", buf.Bytes(), images.Limits{})
	if err != nil {
		return nil, nil, fmt.Errorf("demo picture %q: %w", name, err)
	}
	return im, vs, nil
}

// stored reads the picture name as go generate stored it.
func stored(name string) (*images.Image, []images.Variant, error) {
	b, err := pictureFiles.ReadFile(path.Join("pictures", name+".json"))
	if err != nil {
		return nil, nil, fmt.Errorf("demo picture %q: %w", name, err)
	}
	var p processed
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, nil, fmt.Errorf("demo picture %q: %w", name, err)
	}
	im := &images.Image{ID: p.ID, Width: p.Width, Height: p.Height}
	vs := make([]images.Variant, len(p.Variants))
	for i, v := range p.Variants {
		data, err := pictureFiles.ReadFile(path.Join("pictures", v.File))
		if err != nil {
			return nil, nil, fmt.Errorf("demo picture %q: %w", name, err)
		}
		vs[i] = images.Variant{ImageID: p.ID, Width: v.Width, Height: v.Height, ContentType: v.ContentType, Data: data}
		im.Widths = append(im.Widths, v.Width)
	}
	return im, vs, nil
}

// upload stores the picture name for brandID, uploaded by userID at now,
// as images.Service.Upload stores an upload: the existing image when it is
// stored already.
func upload(ctx context.Context, svc *images.Service, brandID, userID uuid.UUID, name string, now time.Time) (string, error) {
	im, vs, err := stored(name)
	if err != nil {
		return "", err
	}
	im.BrandID, im.UserID, im.CreatedAt = brandID, userID, now
	if err := svc.Store.PutImage(ctx, im, vs); err != nil {
		return "", fmt.Errorf("demo picture %q: store image: %w", name, err)
	}
	if im, err = svc.Store.ImageByID(ctx, im.ID); err != nil {
		return "", fmt.Errorf("demo picture %q: %w", name, err)
	}
	return im.URL(), nil
}
