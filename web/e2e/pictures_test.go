package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pavilion-live/pavilion/internal/demo"
)

// writePNG writes a w×h picture to a file for the file inputs.
func writePNG(t *testing.T, name string, w, h int) string {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{uint8(40 + x%200), uint8(20 + y%180), 120, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBrandUploadsPictures: a brand admin gives a new product a picture and
// the brand a logo from the console; the server keeps re-encoded copies
// under /media/, and a file that is not a picture is refused plainly.
func TestBrandUploadsPictures(t *testing.T) {
	b := startBrowser(t)
	s := startServer(t)
	admin := b.newUser(t, s, "brand admin")
	admin.open("/brand")
	admin.waitFor("the log-in prompt", `!document.querySelector("#gate").hidden`, 10*time.Second)
	admin.do("open the log-in dialog", chromedp.Click(chromedp.ID("gate-login")), chromedp.WaitVisible(chromedp.ID("auth-email")))
	admin.fillLogin(demo.BrandAdminEmail)
	admin.waitFor("the console", `!document.querySelector("#console").hidden`, 10*time.Second)
	admin.do("products", chromedp.Click(chromedp.ID("tab-products")))
	admin.waitFor("the SKU rows", `document.querySelector("#prod-rows [data-sku]")`, 5*time.Second)

	fill := func(name, code string) {
		_ = eval[bool](admin, `(document.querySelector("#new-prod").reset(), true)`)
		admin.do("fill in the product",
			chromedp.SendKeys(chromedp.ID("np-name"), name),
			chromedp.SendKeys(chromedp.ID("np-code"), code),
			chromedp.SendKeys(chromedp.ID("np-attr"), "colour=vert"),
			chromedp.SendKeys(chromedp.ID("np-price"), "120"),
		)
	}
	// Not a picture: refused, nothing created.
	bogus := filepath.Join(t.TempDir(), "bogus.png")
	if err := os.WriteFile(bogus, []byte("this is not a picture at all, only words"), 0o644); err != nil {
		t.Fatal(err)
	}
	fill("Bogus pouch", "BOGUS-1")
	admin.do("choose a bogus file", chromedp.SetUploadFiles(chromedp.ID("np-image"), []string{bogus}))
	admin.do("create", chromedp.Click(chromedp.CSS(`#new-prod button[type=submit]`)))
	admin.waitFor("the refusal", `/JPEG, PNG or WebP/.test(document.querySelector("#np-error").textContent)`, 10*time.Second)
	if eval[bool](admin, `[...document.querySelectorAll("#prod-rows td")].some((td) => td.textContent.includes("Bogus pouch"))`) {
		t.Fatal("a product was created with a refused picture")
	}

	// A real picture: stored, re-encoded, shown beside the product.
	fill("Vert pouch", "POUCH-VERT")
	admin.do("choose a picture", chromedp.SetUploadFiles(chromedp.ID("np-image"), []string{writePNG(t, "pouch.png", 900, 900)}))
	admin.do("create", chromedp.Click(chromedp.CSS(`#new-prod button[type=submit]`)))
	admin.waitFor("the product with its picture", `[...document.querySelectorAll("#prod-rows .prod-name")].some((e) => e.textContent.startsWith("Vert pouch") && e.querySelector("img")?.complete && e.querySelector("img").naturalWidth > 0)`, 15*time.Second)
	src := eval[string](admin, `[...document.querySelectorAll("#prod-rows .prod-name")].find((e) => e.textContent.startsWith("Vert pouch")).querySelector("img").currentSrc`)
	if !strings.Contains(src, "/media/") {
		t.Fatalf("the product's picture is %q, want an uploaded image", src)
	}
	res, err := http.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Type") != "image/jpeg" || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("picture served as %q, cache %q", res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(body)); err != nil || cfg.Width > 160 {
		t.Errorf("the 40-pixel thumbnail came as %dpx wide (%v): want a small variant", cfg.Width, err)
	}
	// A second picture for an existing product (the sneaker): appended.
	sneakerID := eval[string](admin, `[...document.querySelectorAll("#prod-rows [data-add-picture]")].find((l) => l.closest(".prod-name").textContent.includes("Runway sneaker")).dataset.addPicture`)
	admin.do("add a picture to the sneaker", chromedp.SetUploadFiles(chromedp.CSS(`[data-add-picture="`+sneakerID+`"] input`), []string{writePNG(t, "sneaker-2.png", 640, 480)}))
	var prod struct {
		Products []struct {
			ID     string   `json:"id"`
			Images []string `json:"images"`
		} `json:"products"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		apiCall(t, s, "GET", "/api/brands/maison-lumiere/products", "", nil, &prod)
		n := 0
		for _, p := range prod.Products {
			if p.ID == sneakerID {
				n = len(p.Images)
			}
		}
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sneaker has %d pictures after adding one, want 2", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	admin.screenshots("brand-product-pictures")

	// A logo for the brand, through the hub.
	admin.do("hub", chromedp.Click(chromedp.ID("tab-hub")))
	admin.do("choose a logo", chromedp.SetUploadFiles(chromedp.ID("h-logo-file"), []string{writePNG(t, "logo.png", 300, 300)}))
	admin.waitFor("the logo's address", `/^\/media\/[0-9a-f]{32}$/.test(document.querySelector("#h-logo").value)`, 10*time.Second)
	admin.do("save the hub", chromedp.Click(chromedp.CSS(`#hub button[type=submit]`)))
	admin.waitFor("saved", `document.querySelector("#h-ok").textContent !== ""`, 5*time.Second)
	admin.checkA11y("brand console (pictures)")
}
