package web_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"

	"encoding/binary"
	"encoding/json"
	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/driver/postgres"
	"github.com/pavilion-live/pavilion/internal/images"
	"github.com/pavilion-live/pavilion/internal/testrig/testinfra"
	"github.com/pavilion-live/pavilion/web"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/internal/demo"
)

func testPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(x * 3), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is a PNG that claims w×h pixels and holds no pixel data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte("IHDR"), w), h)
	chunk = append(chunk, 8, 6, 0, 0, 0) // 8-bit RGBA
	b.Write(binary.BigEndian.AppendUint32(nil, 13))
	b.Write(chunk)
	b.Write(binary.BigEndian.AppendUint32(nil, crc32.ChecksumIEEE(chunk)))
	return b.Bytes()
}

func TestImageUploadAndServe(t *testing.T) {
	e := newEnv(t)
	brandPath := "/api/brands/" + e.creds.BrandID + "/images"
	pic := testPNG(t, 400, 300)
	as := func(ctype string) reqOpt { return header("Content-Type", ctype) }

	// Who may upload: the brand's admins (and platform admins), nobody else.
	e.want(e.do("POST", brandPath, pic, as("image/png")), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", brandPath, pic, as("image/png"), bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", brandPath, pic, as("image/png"), bearer(e.rivalTk)), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", brandPath, pic, as("image/png"), bearer(e.creds.HostToken)), http.StatusForbidden, "forbidden")

	// Bad uploads: a clear error, nothing stored.
	tk := bearer(e.creds.BrandAdminToken)
	e.want(e.do("POST", brandPath, pic, as("image/gif"), tk), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", brandPath, pic, as("image/jpeg"), tk), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", brandPath, []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"), as("image/svg+xml"), tk), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", brandPath, "not a picture at all", as("image/png"), tk), http.StatusBadRequest, "invalid")
	e.want(e.do("POST", brandPath, pic, tk), http.StatusBadRequest, "invalid") // sent as application/json by e.do
	// Over the upload limit (256 KiB in this env), by Content-Length and streamed.
	big := bytes.Repeat([]byte{0}, 300<<10)
	e.want(e.do("POST", brandPath, big, as("image/png"), tk), http.StatusRequestEntityTooLarge, "too_large")
	// A picture claiming 20000×20000 pixels in a few bytes is refused before decoding.
	e.want(e.do("POST", brandPath, pngHeader(20000, 20000), as("image/png"), tk), http.StatusRequestEntityTooLarge, "too_large")
	// The 1 MiB limit of other requests still holds for them.
	e.want(e.do("PATCH", "/api/brands/"+e.creds.BrandID, strings.Repeat(" ", 2<<20), tk), http.StatusRequestEntityTooLarge, "too_large")

	r := e.do("POST", brandPath, pic, as("image/png"), tk)
	e.want(r, http.StatusCreated, "")
	var out struct {
		Image struct {
			ID     string `json:"id"`
			URL    string `json:"url"`
			SrcSet string `json:"srcset"`
			Widths []int  `json:"widths"`
			Width  int    `json:"width"`
		} `json:"image"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	im := out.Image
	if im.URL != "/media/"+im.ID || len(im.Widths) != 3 || im.Width != 400 ||
		im.SrcSet != im.URL+"/160 160w, "+im.URL+"/320 320w, "+im.URL+"/400 400w" {
		t.Fatalf("image = %+v", im)
	}
	// The same file again is the same image.
	r = e.do("POST", brandPath, pic, as("image/png"), tk)
	e.want(r, http.StatusCreated, "")
	if !bytes.Contains(r.body, []byte(im.ID)) {
		t.Fatalf("second upload: %s", r.body)
	}

	// Served to anyone, re-encoded, cached for good.
	for path, width := range map[string]int{im.URL: 400, im.URL + "/160": 160, im.URL + "/200": 320, im.URL + "/1280": 400} {
		r := e.do("GET", path, nil)
		e.want(r, http.StatusOK, "")
		if r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.header.Get("Content-Type") != "image/jpeg" ||
			r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s headers: %v", path, r.header)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(r.body))
		if err != nil || cfg.Width != width {
			t.Fatalf("%s: %v, width %d, want %d", path, err, cfg.Width, width)
		}
		etag := r.header.Get("ETag")
		e.want(e.do("GET", path, nil, header("If-None-Match", etag)), http.StatusNotModified, "")
	}
	e.want(e.do("GET", "/media/ffffffffffffffffffffffffffffffff", nil), http.StatusNotFound, "not_found")
	e.want(e.do("GET", "/media/..%2f..%2fetc", nil), http.StatusNotFound, "not_found")
	e.want(e.do("GET", im.URL+"/0", nil), http.StatusBadRequest, "invalid")
	e.want(e.do("GET", im.URL+"/99999", nil), http.StatusBadRequest, "invalid")

	// An uploaded image goes on a product, a logo and a show's cover.
	e.want(e.do("POST", "/api/brands/"+e.creds.BrandID+"/products", map[string]any{
		"name": "Pictured", "images": []string{im.URL},
		"skus": []map[string]any{{"code": "PIC-1", "price_minor": 100, "currency": "EUR", "on_hand": 1}},
	}, tk), http.StatusCreated, "")
	e.want(e.do("PATCH", "/api/brands/"+e.creds.BrandID, map[string]any{"logo_url": im.URL}, tk), http.StatusOK, "")
	// And on an existing product, by its brand's admins only.
	var prods struct {
		Products []struct {
			ID     string   `json:"id"`
			Images []string `json:"images"`
		} `json:"products"`
	}
	if err := json.Unmarshal(e.do("GET", "/api/brands/"+e.creds.BrandID+"/products", nil).body, &prods); err != nil {
		t.Fatal(err)
	}
	prodPath := "/api/products/" + prods.Products[0].ID
	pics := map[string]any{"images": []string{im.URL, prods.Products[0].Images[0]}}
	e.want(e.do("PATCH", prodPath, pics), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("PATCH", prodPath, pics, bearer(e.rivalTk)), http.StatusForbidden, "forbidden")
	e.want(e.do("PATCH", prodPath, pics, bearer(e.creds.HostToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("PATCH", prodPath, map[string]any{"images": []string{"javascript:alert(1)"}}, tk), http.StatusBadRequest, "invalid")
	e.want(e.do("PATCH", prodPath, map[string]any{}, tk), http.StatusBadRequest, "invalid")
	e.want(e.do("PATCH", "/api/products/"+uuid.NewString(), pics, tk), http.StatusNotFound, "not_found")
	r = e.do("PATCH", prodPath, pics, tk)
	e.want(r, http.StatusOK, "")
	if !bytes.Contains(r.body, []byte(`"images":["`+im.URL+`",`)) {
		t.Fatalf("product after PATCH: %s", r.body)
	}
	r = e.do("PATCH", "/api/shows/"+demo.ShowID.String(), map[string]any{"cover_url": im.URL}, tk)
	e.want(r, http.StatusOK, "")
	if !bytes.Contains(e.do("GET", "/api/shows/"+demo.ShowID.String(), nil).body, []byte(`"cover_url":"`+im.URL+`"`)) {
		t.Fatal("the show's cover did not stick")
	}
	// Hosts have a picture; viewers do not.
	e.want(e.do("POST", "/api/me/avatar", pic, as("image/png"), bearer(e.creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", "/api/me/avatar", pic, as("image/png")), http.StatusUnauthorized, "unauthorized")
	e.want(e.do("POST", "/api/me/avatar", []byte("not a picture"), as("image/png"), bearer(e.creds.HostToken)), http.StatusBadRequest, "invalid")
	r = e.do("POST", "/api/me/avatar", testPNG(t, 96, 96), as("image/png"), bearer(e.creds.HostToken))
	e.want(r, http.StatusOK, "")
	if !bytes.Contains(r.body, []byte(`"avatar_url":"/media/`)) {
		t.Fatalf("avatar: %s", r.body)
	}
	if !bytes.Contains(e.do("GET", "/api/shows/"+demo.ShowID.String(), nil).body, []byte(`"avatar_url":"/media/`)) {
		t.Fatal("the show does not carry its host's picture")
	}
	// The player's top bar names the hosts.
	if !bytes.Contains(e.do("GET", "/api/shows/"+demo.ShowID.String(), nil).body, []byte(`"name":"Lina Host"`)) {
		t.Fatal("the show does not name its host")
	}
	e.want(e.do("PATCH", "/api/shows/"+demo.ShowID.String(), map[string]any{"cover_url": "javascript:alert(1)"}, tk), http.StatusBadRequest, "invalid")
}

// TestImagesOnPostgres runs the upload and serving path, and the demo's
// drawn pictures, on the PostgreSQL store.
func TestImagesOnPostgres(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, testinfra.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	svc := &account.Service{Store: db, Hasher: cheap}
	pics := &images.Service{Store: db}
	srv := httptest.NewServer((&web.Server{Accounts: svc, Brands: db, Shows: db, Catalog: db, Images: pics,
		Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	deps := demo.Deps{Accounts: svc, Brands: db, Shows: db, Catalog: db, Images: pics}
	if err := demo.Seed(ctx, deps); err != nil {
		t.Fatal(err)
	}
	creds, err := demo.Issue(ctx, deps, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv}

	// The demo's pictures are uploaded images, served like any other.
	sh, err := db.ShowByID(ctx, demo.ShowID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.BrandBySlug(ctx, "maison-lumiere")
	if err != nil {
		t.Fatal(err)
	}
	products, err := db.ListProducts(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	urls := []string{sh.CoverURL, b.LogoURL}
	for _, p := range products {
		urls = append(urls, p.Images...)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "/media/") {
			t.Fatalf("demo picture %q is not an uploaded image", u)
		}
		r := e.do("GET", u+"/320", nil)
		e.want(r, http.StatusOK, "")
		if _, _, err := image.DecodeConfig(bytes.NewReader(r.body)); err != nil {
			t.Fatalf("%s: %v", u, err)
		}
	}
	if e.do("GET", b.LogoURL, nil).header.Get("Content-Type") != "image/png" {
		t.Fatal("the logo lost its transparency")
	}

	path := "/api/brands/" + creds.BrandID + "/images"
	pic := testPNG(t, 200, 100)
	e.want(e.do("POST", path, pic, header("Content-Type", "image/png"), bearer(creds.ViewerToken)), http.StatusForbidden, "forbidden")
	e.want(e.do("POST", path, pic, header("Content-Type", "image/webp"), bearer(creds.BrandAdminToken)), http.StatusBadRequest, "invalid")
	r := e.do("POST", path, pic, header("Content-Type", "image/png"), bearer(creds.BrandAdminToken))
	e.want(r, http.StatusCreated, "")
	var out struct{ Image struct{ URL string } }
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", out.Image.URL+"/160", nil)
	e.want(r, http.StatusOK, "")
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(r.body)); err != nil || cfg.Width != 160 || cfg.Height != 80 {
		t.Fatalf("variant: %v %+v", err, cfg)
	}
}
