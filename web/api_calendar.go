package web

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/show"
)

// calendarWindow is how far back the feeds reach: calendars keep a recent
// show that ended, and learn of a cancellation, instead of seeing it vanish.
const calendarWindow = 30 * 24 * time.Hour

// calendar is the public schedule as iCalendar (RFC 5545): every show the
// caller may see that ends after now less calendarWindow, up to the largest page.
func (s *Server) calendar(w http.ResponseWriter, r *http.Request) error {
	u := UserFrom(r.Context())
	list, err := s.Shows.ListShows(r.Context(), show.Filter{
		IncludeMembers: u.Has(account.RoleMember),
		EndsAfter:      time.Now().Add(-calendarWindow),
		Limit:          200,
	})
	if err != nil {
		return err
	}
	return s.writeCalendar(w, r, "Pavilion shows", list)
}

// myCalendar is the caller's "notify me" shows and the shows of the brands
// they follow as iCalendar. It needs a
// signed-in caller (session cookie or bearer token), like the rest of /api/me.
func (s *Server) myCalendar(w http.ResponseWriter, r *http.Request) error {
	u, err := requireUser(r)
	if err != nil {
		return err
	}
	subs, err := s.Shows.Subscribed(r.Context(), u.ID)
	if err != nil {
		return err
	}
	cutoff := time.Now().Add(-calendarWindow)
	// Every show of a followed brand belongs in it too, not only those the
	// caller asked about one by one.
	if s.Follows != nil {
		brands, err := s.Follows.Followed(r.Context(), u.ID)
		if err != nil {
			return err
		}
		for _, b := range brands {
			more, err := s.Shows.ListShows(r.Context(), show.Filter{BrandID: b.ID, EndsAfter: cutoff,
				IncludeMembers: true, Limit: 200})
			if err != nil {
				return err
			}
			subs = append(subs, more...)
		}
	}
	var list []show.Show
	seen := map[uuid.UUID]bool{}
	for _, sh := range subs {
		// Visibility can change after subscribing: a show that became
		// members-only stays invisible to a non-member.
		if !seen[sh.ID] && sh.EndsAt.After(cutoff) && account.CanSeeShow(u, sh.Visibility == show.Members, sh.BrandID, sh.HostIDs) {
			seen[sh.ID] = true
			list = append(list, sh)
		}
	}
	slices.SortFunc(list, func(a, b show.Show) int { return a.StartsAt.Compare(b.StartsAt) })
	return s.writeCalendar(w, r, "My Pavilion shows", list)
}

func (s *Server) writeCalendar(w http.ResponseWriter, r *http.Request, name string, list []show.Show) error {
	brands := map[uuid.UUID]string{}
	brandName := func(ctx context.Context, id uuid.UUID) string {
		if n, ok := brands[id]; ok {
			return n
		}
		n := ""
		if b, err := s.Brands.BrandByID(ctx, id); err == nil {
			n = b.Name
		}
		brands[id] = n
		return n
	}
	base := s.baseURL(r)
	host := "pavilion"
	if u, err := url.Parse(base); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	stamp := time.Now().UTC()

	var c icalWriter
	c.line("BEGIN", "VCALENDAR")
	c.line("VERSION", "2.0")
	c.line("PRODID", "-//Pavilion//Pavilion live shows//EN")
	c.line("CALSCALE", "GREGORIAN")
	c.line("METHOD", "PUBLISH")
	c.text("X-WR-CALNAME", name)
	for _, sh := range list {
		brand := brandName(r.Context(), sh.BrandID)
		summary := sh.Title
		if brand != "" {
			summary = brand + ": " + sh.Title
		}
		desc := sh.Description
		if sh.Kind == show.KindPavilionDay {
			desc = strings.TrimSpace("Pavilion Day of " + brand + ".\n\n" + desc)
		}
		c.line("BEGIN", "VEVENT")
		c.line("UID", sh.ID.String()+"@"+host)
		c.line("DTSTAMP", icalTime(stamp))
		c.line("LAST-MODIFIED", icalTime(sh.UpdatedAt))
		// A show that took place is in the calendar as it did.
		start, end := sh.Took()
		c.line("DTSTART", icalTime(start))
		c.line("DTEND", icalTime(end))
		c.text("SUMMARY", summary)
		if desc != "" {
			c.text("DESCRIPTION", desc)
		}
		c.line("URL", base+"/shows/"+sh.ID.String())
		status := "CONFIRMED"
		if sh.State == show.Cancelled {
			status = "CANCELLED"
		}
		c.line("STATUS", status)
		if sh.Visibility == show.Members {
			c.line("CLASS", "PRIVATE")
		}
		c.line("END", "VEVENT")
	}
	c.line("END", "VCALENDAR")

	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	// The answer depends on who asks (members see more).
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(c.buf.Bytes())
	return err
}

// icalTime is a UTC DATE-TIME: calendars convert to the viewer's zone.
func icalTime(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icalWriter writes content lines: CRLF-terminated, folded at 75 octets
// without splitting a UTF-8 sequence (RFC 5545 section 3.1).
type icalWriter struct{ buf bytes.Buffer }

// line writes NAME:value with value as given (it must need no escaping).
func (c *icalWriter) line(name, value string) {
	l := name + ":" + value
	const max = 75
	first := true
	for len(l) > 0 {
		limit := max
		if !first {
			limit = max - 1 // the leading space counts
			c.buf.WriteByte(' ')
		}
		n := len(l)
		if n > limit {
			n = limit
			for n > 0 && !utf8.RuneStart(l[n]) {
				n--
			}
		}
		c.buf.WriteString(l[:n])
		c.buf.WriteString("\r\n")
		l = l[n:]
		first = false
	}
}

// text writes a TEXT property, escaped.
func (c *icalWriter) text(name, value string) { c.line(name, icalEscape(value)) }

var icalEscaper = strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)

// icalEscape escapes a TEXT value and drops control characters, which
// RFC 5545 does not allow in one.
func icalEscape(v string) string {
	v = icalEscaper.Replace(v)
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, v)
}
