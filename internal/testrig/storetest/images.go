package storetest

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/images"
)

func testImages(t *testing.T, st Stores) {
	if st.Images == nil {
		t.Skip("no image store")
	}
	ctx := context.Background()
	b := newBrand("pictures")
	must(t, st.Brands.CreateBrand(ctx, b))
	im := &images.Image{ID: "00112233445566778899aabbccddeeff", BrandID: b.ID, UserID: uuid.New(), Width: 500, Height: 250,
		Widths: []int{160, 320, 500}, CreatedAt: now()}
	variant := func(w int) images.Variant {
		return images.Variant{ImageID: im.ID, Width: w, Height: w / 2, ContentType: "image/jpeg", Data: bytes.Repeat([]byte{byte(w)}, w)}
	}
	vs := []images.Variant{variant(160), variant(320), variant(500)}
	must(t, st.Images.PutImage(ctx, im, vs))

	got, err := st.Images.ImageByID(ctx, im.ID)
	must(t, err)
	if got.BrandID != b.ID || got.UserID != im.UserID || got.Width != 500 || got.Height != 250 ||
		!slices.Equal(got.Widths, im.Widths) || !got.CreatedAt.Equal(im.CreatedAt) {
		t.Fatalf("ImageByID = %+v, want %+v", got, im)
	}
	// The smallest variant at least as wide as asked, else the widest.
	for _, c := range []struct{ ask, want int }{{1, 160}, {160, 160}, {161, 320}, {320, 320}, {400, 500}, {1280, 500}} {
		v, err := st.Images.Variant(ctx, im.ID, c.ask)
		must(t, err)
		if v.Width != c.want || v.Height != c.want/2 || v.ContentType != "image/jpeg" || !bytes.Equal(v.Data, variant(c.want).Data) {
			t.Fatalf("Variant(%d) = %dw %dh %s %d bytes, want %dw", c.ask, v.Width, v.Height, v.ContentType, len(v.Data), c.want)
		}
	}
	// The same bytes again (another brand's upload of the same file): the
	// first stays, no error.
	other := *im
	other.UserID = uuid.New()
	must(t, st.Images.PutImage(ctx, &other, vs[:1]))
	got, err = st.Images.ImageByID(ctx, im.ID)
	must(t, err)
	if got.UserID != im.UserID || len(got.Widths) != 3 {
		t.Fatalf("a second put changed the image: %+v", got)
	}

	_, err = st.Images.ImageByID(ctx, "ffffffffffffffffffffffffffffffff")
	wantCode(t, err, apperr.NotFound)
	_, err = st.Images.Variant(ctx, "ffffffffffffffffffffffffffffffff", 320)
	wantCode(t, err, apperr.NotFound)
	// An avatar belongs to no brand.
	avatar := &images.Image{ID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", UserID: uuid.New(), Width: 64, Height: 64, Widths: []int{64}, CreatedAt: now()}
	must(t, st.Images.PutImage(ctx, avatar, []images.Variant{variant(64)}))
	if got, err := st.Images.ImageByID(ctx, avatar.ID); err != nil || got.BrandID != uuid.Nil || got.UserID != avatar.UserID {
		t.Fatalf("avatar image: %v %+v", err, got)
	}
	// An image of a brand that does not exist cannot be stored.
	orphan := &images.Image{ID: "ffffffffffffffffffffffffffffffff", BrandID: uuid.New(), UserID: uuid.New(), Width: 1, Height: 1, CreatedAt: now()}
	if err := st.Images.PutImage(ctx, orphan, []images.Variant{variant(160)}); err == nil {
		t.Fatal("stored an image of a brand that does not exist")
	}
}
