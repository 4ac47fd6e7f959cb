package images

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"slices"
	"testing"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

func picture(w, h int, alpha uint8) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x), uint8(y), 128, alpha})
		}
	}
	return img
}

func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG that claims w×h pixels and holds no pixel data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestProcessScalesAndReencodes(t *testing.T) {
	src := encodeJPEG(t, picture(900, 600, 255))
	src = append(src, []byte("trailing bytes that are not part of the picture")...)
	im, vs, err := Process("image/jpeg", src, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if im.Width != 900 || im.Height != 600 || len(im.ID) != 32 || !ValidID(im.ID) {
		t.Fatalf("image = %+v", im)
	}
	// Never scaled up: 1280 becomes the source's own 900.
	if want := []int{160, 320, 640, 900}; !slices.Equal(im.Widths, want) {
		t.Fatalf("widths = %v, want %v", im.Widths, want)
	}
	for _, v := range vs {
		if v.ContentType != "image/jpeg" || v.ImageID != im.ID {
			t.Fatalf("variant %d: %s for %s", v.Width, v.ContentType, v.ImageID)
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(v.Data))
		if err != nil || format != "jpeg" || cfg.Width != v.Width || cfg.Height != v.Height || v.Height != (v.Width*2+1)/3 {
			t.Fatalf("variant %d: %v %s %dx%d (says %dx%d)", v.Width, err, format, cfg.Width, cfg.Height, v.Width, v.Height)
		}
		if bytes.Contains(v.Data, []byte("trailing")) {
			t.Fatal("the upload's extra bytes survived re-encoding")
		}
	}
	// The same bytes make the same image.
	again, _, err := Process("image/jpeg", src, Limits{})
	if err != nil || again.ID != im.ID {
		t.Fatalf("second process: %v %s != %s", err, again.ID, im.ID)
	}
}

func TestProcessKeepsTransparencyAsPNG(t *testing.T) {
	im, vs, err := Process("image/png", encodePNG(t, picture(200, 100, 100)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(im.Widths, []int{160, 200}) {
		t.Fatalf("widths = %v", im.Widths)
	}
	for _, v := range vs {
		if v.ContentType != "image/png" {
			t.Fatalf("a transparent picture became %s", v.ContentType)
		}
	}
	// An opaque PNG becomes a JPEG.
	_, vs, err = Process("image/png", encodePNG(t, picture(100, 100, 255)), Limits{})
	if err != nil || len(vs) != 1 || vs[0].ContentType != "image/jpeg" || vs[0].Width != 100 {
		t.Fatalf("opaque png: %v %+v", err, vs)
	}
}

func TestProcessRefuses(t *testing.T) {
	var gifBytes bytes.Buffer
	if err := gif.Encode(&gifBytes, picture(50, 50, 255), nil); err != nil {
		t.Fatal(err)
	}
	okPNG := encodePNG(t, picture(64, 64, 255))
	cases := []struct {
		name, ctype string
		data        []byte
		lim         Limits
		code        apperr.Code
	}{
		{"declared type not an image", "text/html", okPNG, Limits{}, apperr.Invalid},
		{"declared svg", "image/svg+xml", []byte("<svg/>"), Limits{}, apperr.Invalid},
		{"png sent as jpeg", "image/jpeg", okPNG, Limits{}, apperr.Invalid},
		{"gif sent as png", "image/png", gifBytes.Bytes(), Limits{}, apperr.Invalid},
		{"not an image", "image/png", []byte("hello, world, this is not a picture at all"), Limits{}, apperr.Invalid},
		{"empty", "image/webp", nil, Limits{}, apperr.Invalid},
		{"truncated", "image/png", okPNG[:len(okPNG)/2], Limits{}, apperr.Invalid},
		{"header only, huge", "image/png", pngHeader(100_000, 100_000), Limits{}, apperr.TooLarge},
		{"one side too long", "image/png", pngHeader(9000, 20), Limits{}, apperr.TooLarge},
		{"too many pixels", "image/png", okPNG, Limits{MaxPixels: 64*64 - 1}, apperr.TooLarge},
		{"too small", "image/png", encodePNG(t, picture(8, 8, 255)), Limits{}, apperr.Invalid},
		{"too many bytes", "image/png", okPNG, Limits{MaxBytes: int64(len(okPNG) - 1)}, apperr.TooLarge},
		{"webp garbage", "image/webp", []byte("RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00\x00\x00\x00\x00"), Limits{}, apperr.Invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Process(c.ctype, c.data, c.lim)
			if apperr.CodeOf(err) != c.code {
				t.Fatalf("Process = %v, want code %s", err, c.code)
			}
		})
	}
}

func TestParseWidth(t *testing.T) {
	for s, want := range map[string]int{"": DefaultWidth, "1": 1, "320": 320, "1280": 1280} {
		if w, err := ParseWidth(s); err != nil || w != want {
			t.Fatalf("ParseWidth(%q) = %d, %v", s, w, err)
		}
	}
	for _, s := range []string{"0", "-1", "1281", "x", "99999999999999999999"} {
		if _, err := ParseWidth(s); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("ParseWidth(%q) = %v", s, err)
		}
	}
}

// BenchmarkProcess is one phone photo's worth of work: a 1920×1440 JPEG
// checked, decoded, redrawn, scaled to four widths and re-encoded.
func BenchmarkProcess(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, picture(1920, 1440, 255), &jpeg.Options{Quality: 90}); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := Process("image/jpeg", data, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
