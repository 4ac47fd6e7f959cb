package show

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pavilion-live/pavilion/internal/apperr"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/textcheck"
)

// MaxDuration bounds one show; a Pavilion Day spans at most a calendar day
// plus a little, a show far less.
const MaxDuration = 26 * time.Hour

// Validate trims s's text and checks every field a brand admin sets.
func Validate(s *Show) error {
	s.Title = strings.TrimSpace(s.Title)
	if s.Title == "" || utf8.RuneCountInString(s.Title) > 200 {
		return apperr.Errorf(apperr.Invalid, "title must be 1 to 200 characters")
	}
	if err := textcheck.Line("title", s.Title); err != nil {
		return err
	}
	if utf8.RuneCountInString(s.Description) > 5000 {
		return apperr.Errorf(apperr.Invalid, "description must be at most 5000 characters")
	}
	if err := textcheck.Text("description", s.Description); err != nil {
		return err
	}
	if err := brand.CheckURL("cover_url", s.CoverURL); err != nil {
		return err
	}
	if s.Kind == "" {
		s.Kind = KindShow
	}
	if s.Kind != KindShow && s.Kind != KindPavilionDay {
		return apperr.Errorf(apperr.Invalid, "kind must be %q or %q", KindShow, KindPavilionDay)
	}
	if s.Visibility == "" {
		s.Visibility = Public
	}
	if s.Visibility != Public && s.Visibility != Members {
		return apperr.Errorf(apperr.Invalid, "visibility must be %q or %q", Public, Members)
	}
	if s.StartsAt.IsZero() || s.EndsAt.IsZero() {
		return apperr.Errorf(apperr.Invalid, "starts_at and ends_at are required (RFC 3339 times)")
	}
	if !s.EndsAt.After(s.StartsAt) {
		return apperr.Errorf(apperr.Invalid, "ends_at must be after starts_at")
	}
	if s.EndsAt.Sub(s.StartsAt) > MaxDuration {
		return apperr.Errorf(apperr.Invalid, "a show lasts at most %d hours", int(MaxDuration.Hours()))
	}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(s.TimeZone); err != nil {
		return apperr.Errorf(apperr.Invalid, "time_zone %q is not an IANA time zone such as Asia/Shanghai", s.TimeZone)
	}
	if s.HoldSeconds != 0 && (s.HoldSeconds < 60 || s.HoldSeconds > 3600) {
		return apperr.Errorf(apperr.Invalid, "hold_seconds must be 0 (the default) or from 60 to 3600")
	}
	if len(s.HostIDs) > 20 {
		return apperr.Errorf(apperr.Invalid, "a show has at most 20 hosts")
	}
	s.StartsAt = s.StartsAt.UTC().Truncate(time.Microsecond)
	s.EndsAt = s.EndsAt.UTC().Truncate(time.Microsecond)
	return nil
}
