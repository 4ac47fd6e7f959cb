package sqlstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// brokenErr is a driver error that names a constraint.
type brokenErr struct {
	name string
	kind Kind
}

func (e brokenErr) Error() string { return "broken " + e.name }

var testErrs = Errors{Driver: "test", Broken: func(err error) (string, Kind, bool) {
	var b brokenErr
	if !errors.As(err, &b) {
		return "", 0, false
	}
	return b.name, b.kind, true
}}

func TestErrorsWrap(t *testing.T) {
	own := apperr.Errorf(apperr.Gone, "gone")
	for _, c := range []struct {
		name string
		err  error
		code apperr.Code // "" for an internal error
		msg  string
	}{
		{"named", brokenErr{"skus_stock_check", Check}, apperr.Conflict, "stock on hand cannot go below sold plus held units"},
		{"unnamed unique", brokenErr{"", Unique}, apperr.Conflict, "already exists"},
		{"unnamed foreign key", brokenErr{"", ForeignKey}, apperr.NotFound, "referenced record not found"},
		{"out of range", brokenErr{"", OutOfRange}, apperr.Invalid, "number out of range"},
		{"unknown kind", brokenErr{"", 0}, "", "test: op: broken "},
		{"other", errors.New("disk full"), "", "test: op: disk full"},
		{"application", own, apperr.Gone, "gone"},
	} {
		got := testErrs.Wrap("op", c.err)
		if !errors.Is(got, c.err) {
			t.Errorf("%s: %v does not wrap %v", c.name, got, c.err)
		}
		var ae *apperr.Error
		switch {
		case c.code == "" && errors.As(got, &ae):
			t.Errorf("%s: %v is an application error, want internal", c.name, got)
		case c.code == "" && !strings.HasPrefix(got.Error(), c.msg):
			t.Errorf("%s: %q, want it to start %q", c.name, got, c.msg)
		case c.code != "" && (!errors.As(got, &ae) || ae.Code != c.code || ae.Message != c.msg):
			t.Errorf("%s: %v, want %s %q", c.name, got, c.code, c.msg)
		}
	}
	if testErrs.Wrap("op", nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}

func TestPageOf(t *testing.T) {
	for _, c := range []struct{ offset, limit, max, wantOffset, wantLimit int }{
		{-5, 0, MaxLimit, 0, DefaultLimit},
		{10, -1, MaxLimit, 10, DefaultLimit},
		{0, 500, MaxLimit, 0, MaxLimit},
		{0, 500, MaxOrderLimit, 0, 500},
		{3, 5000, MaxOrderLimit, 3, MaxOrderLimit},
	} {
		if o, l := PageOf(c.offset, c.limit, c.max); o != c.wantOffset || l != c.wantLimit {
			t.Errorf("PageOf(%d, %d, %d) = %d, %d; want %d, %d", c.offset, c.limit, c.max, o, l, c.wantOffset, c.wantLimit)
		}
	}
}
