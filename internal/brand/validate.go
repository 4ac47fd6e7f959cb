package brand

import (
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/textcheck"
)

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)

// Validate trims b's text and checks every field, answering with the first
// problem in words a brand admin can act on.
func Validate(b *Brand) error {
	b.Slug = strings.TrimSpace(b.Slug)
	b.Name = strings.TrimSpace(b.Name)
	b.Story = strings.TrimSpace(b.Story)
	b.Flagship = strings.TrimSpace(b.Flagship)
	if !slugRE.MatchString(b.Slug) {
		return apperr.Errorf(apperr.Invalid, "slug must be 1 to 64 lower-case letters, digits or dashes, not starting or ending with a dash")
	}
	if b.Name == "" || utf8.RuneCountInString(b.Name) > 100 {
		return apperr.Errorf(apperr.Invalid, "name must be 1 to 100 characters")
	}
	if utf8.RuneCountInString(b.Story) > 5000 {
		return apperr.Errorf(apperr.Invalid, "story must be at most 5000 characters")
	}
	if utf8.RuneCountInString(b.Flagship) > 500 {
		return apperr.Errorf(apperr.Invalid, "flagship must be at most 500 characters")
	}
	for _, f := range []struct {
		name, v   string
		multiline bool
	}{{"name", b.Name, false}, {"story", b.Story, true}, {"flagship", b.Flagship, false}} {
		check := textcheck.Line
		if f.multiline {
			check = textcheck.Text
		}
		if err := check(f.name, f.v); err != nil {
			return err
		}
	}
	for field, v := range map[string]string{"logo_url": b.LogoURL, "website": b.Website} {
		if err := CheckURL(field, v); err != nil {
			return err
		}
	}
	return nil
}

// CheckURL accepts "", an absolute http(s) URL, or a path on this server
// ("/static/…"). Anything else (javascript:, data:, protocol-relative //host)
// could become an injection vector in a page.
func CheckURL(field, v string) error {
	if v == "" {
		return nil
	}
	// A path on this server skips url.Parse, which would refuse controls.
	if err := textcheck.Line(field, v); err != nil {
		return err
	}
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.Contains(v, "\\") && len(v) <= 2048 {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(v) > 2048 {
		return apperr.Errorf(apperr.Invalid, "%s must be an absolute http or https URL or a path on this server", field)
	}
	return nil
}
