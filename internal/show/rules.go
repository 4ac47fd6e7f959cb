package show

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// DayLayout is how a Pavilion Day's calendar days are written.
const DayLayout = time.DateOnly

// CalendarDays returns the calendar days, in loc, that [start, end) touches:
// a Pavilion Day books each of them whole. A show ending exactly at midnight
// does not touch the day that midnight begins.
func CalendarDays(start, end time.Time, loc *time.Location) []string {
	if loc == nil {
		loc = time.UTC
	}
	if !end.After(start) {
		return nil
	}
	last := end.Add(-time.Nanosecond).In(loc)
	lastDay := time.Date(last.Year(), last.Month(), last.Day(), 0, 0, 0, 0, time.UTC)
	s := start.In(loc)
	var days []string
	// Walk civil dates in UTC so that a daylight-saving change in loc never
	// skips or repeats a day.
	for d := time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC); !d.After(lastDay); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format(DayLayout))
	}
	return days
}

// CanMove reports whether a show may go from state from to state to:
// scheduled → live → ended, and scheduled → ended or cancelled. Staying put is
// always allowed.
func CanMove(from, to State) bool {
	if from == to {
		return true
	}
	switch from {
	case Scheduled:
		return to == Live || to == Ended || to == Cancelled
	case Live:
		return to == Ended
	}
	return false
}

// CheckTransition is the Store's check for Transition: unlike an edit, staying
// put is refused too (going live twice, ending twice), so that of two racing
// calls exactly one wins.
func CheckTransition(from, to State) error {
	if from == to {
		return apperr.Errorf(apperr.Conflict, "the show is already %s", to)
	}
	if !CanMove(from, to) {
		return apperr.Errorf(apperr.Conflict, "the show is %s and cannot become %s", from, to)
	}
	return nil
}

// CheckEdit says whether a stored show old may become next: Conflict for a
// state change the state machine refuses, for schedule changes (start, kind,
// hosts) to a live show, and for schedule changes to an ended or cancelled
// one. Stores call it inside their write transactions on the row they lock.
func CheckEdit(old, next *Show) error {
	if old.BrandID != next.BrandID {
		return apperr.Errorf(apperr.Conflict, "a show cannot move to another brand")
	}
	if !CanMove(old.State, next.State) {
		return apperr.Errorf(apperr.Conflict, "the show is %s and cannot become %s", old.State, next.State)
	}
	moved := !old.StartsAt.Equal(next.StartsAt) || old.Kind != next.Kind || !sameHosts(old.HostIDs, next.HostIDs)
	switch old.State {
	case Live:
		if moved {
			return apperr.Errorf(apperr.Conflict, "the show is live: its start, kind and hosts cannot change")
		}
	case Ended, Cancelled:
		if moved || !old.EndsAt.Equal(next.EndsAt) {
			return apperr.Errorf(apperr.Conflict, "the show is %s: its schedule can no longer change", old.State)
		}
	}
	return nil
}

func sameHosts(a, b []uuid.UUID) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
	slices.SortFunc(b, func(x, y uuid.UUID) int { return slices.Compare(x[:], y[:]) })
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// CheckDays is the Store's check of a Pavilion Day's days: one that holds
// its slot must name them, well formed. Other kinds hold no day.
func CheckDays(s *Show) error {
	if s.Kind != KindPavilionDay || s.State == Cancelled {
		return nil
	}
	if len(s.Days) == 0 {
		return apperr.Errorf(apperr.Invalid, "a Pavilion Day must name the calendar days it holds")
	}
	for _, d := range s.Days {
		if _, err := time.Parse(DayLayout, d); err != nil {
			return apperr.Errorf(apperr.Invalid, "Pavilion Day %q is not a YYYY-MM-DD date", d)
		}
	}
	return nil
}

// HeldDays returns the days s holds in the store: none unless it is a
// Pavilion Day that is not cancelled.
func HeldDays(s *Show) []string {
	if s.Kind != KindPavilionDay || s.State == Cancelled {
		return nil
	}
	return slices.Compact(slices.Sorted(slices.Values(s.Days)))
}

// DayTaken is the Conflict a Store answers when a day is held by another brand's
// (or another of the same brand's) Pavilion Day.
func DayTaken(day, brandName string) error {
	return apperr.Errorf(apperr.Conflict, "Pavilion Day %s is already held by %s", day, brandName)
}

// HostBooked is the Conflict a Store answers when a host is already on an
// overlapping show.
func HostBooked(hostName, showTitle string, starts time.Time) error {
	return apperr.Errorf(apperr.Conflict, "host %s is already booked on %q, which overlaps (starts %s)",
		hostName, showTitle, starts.UTC().Format(time.RFC3339))
}
