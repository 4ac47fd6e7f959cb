package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/images"
)

// imageOut is an uploaded image as the API shows it: where to find it and
// the srcset to draw it with.
type imageOut struct {
	*images.Image
	URL    string `json:"url"`
	SrcSet string `json:"srcset"`
}

func newImageOut(im *images.Image) imageOut {
	parts := make([]string, 0, len(im.Widths))
	for _, w := range im.Widths {
		parts = append(parts, fmt.Sprintf("%s/%d %dw", im.URL(), w, w))
	}
	return imageOut{Image: im, URL: im.URL(), SrcSet: strings.Join(parts, ", ")}
}

// isImageUpload says whether r is an image upload, whose body may be larger
// than other requests' (see limitBody).
func isImageUpload(r *http.Request) bool {
	return r.Method == http.MethodPost && (r.URL.Path == "/api/me/avatar" ||
		strings.HasPrefix(r.URL.Path, "/api/brands/") && strings.HasSuffix(r.URL.Path, "/images"))
}

// uploadImage takes the raw bytes of one image (the body, with its
// Content-Type) for a brand its caller administers.
func (s *Server) uploadImage(w http.ResponseWriter, r *http.Request) error {
	if s.Images == nil {
		return notImplemented("image uploads (no image store configured)")
	}
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	b, err := s.adminBrand(r)
	if err != nil {
		return err
	}
	im, err := s.receiveImage(r, b.ID, u.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, "image", newImageOut(im))
}

// receiveImage reads an upload's body and hands it to the image service.
func (s *Server) receiveImage(r *http.Request, brandID, userID uuid.UUID) (*images.Image, error) {
	ctype, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, apperr.Errorf(apperr.Invalid, "send the image as the body with its Content-Type: image/jpeg, image/png or image/webp")
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apperr.Errorf(apperr.TooLarge, "an image is at most %d bytes", mbe.Limit)
		}
		return nil, apperr.Errorf(apperr.Invalid, "reading the image: %v", err)
	}
	return s.Images.Upload(r.Context(), brandID, userID, ctype, data)
}

// uploadAvatar sets the caller's picture. Only the people who appear on
// shows (hosts, brand admins, admins) have one: a viewer's account cannot
// store pictures.
func (s *Server) uploadAvatar(w http.ResponseWriter, r *http.Request) error {
	if s.Images == nil {
		return notImplemented("avatars (no image store configured)")
	}
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	if !u.Has(account.RoleHost) && !u.Has(account.RoleBrandAdmin) {
		return apperr.Errorf(apperr.Forbidden, "only hosts and brand admins have a picture")
	}
	im, err := s.receiveImage(r, uuid.Nil, u.ID)
	if err != nil {
		return err
	}
	if err := s.Accounts.Store.SetAvatar(r.Context(), u.ID, im.URL()); err != nil {
		return err
	}
	u, err = s.Accounts.Store.UserByID(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, "user", u)
}

// serveImage serves one variant of an image. An image's ID is the hash of
// its bytes, so what a URL names never changes: it may be cached for good.
func (s *Server) serveImage(w http.ResponseWriter, r *http.Request) error {
	if s.Images == nil {
		return notImplemented("images (no image store configured)")
	}
	id := r.PathValue("id")
	if !images.ValidID(id) {
		return apperr.Errorf(apperr.NotFound, "image not found")
	}
	width, err := images.ParseWidth(r.PathValue("width"))
	if err != nil {
		return err
	}
	v, err := s.Images.Store.Variant(r.Context(), id, width)
	if err != nil {
		return err
	}
	etag := fmt.Sprintf(`"%s-%d"`, id, v.Width)
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", v.ContentType)
	h.Set("Content-Length", fmt.Sprint(len(v.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(v.Data)
	}
	return nil
}
