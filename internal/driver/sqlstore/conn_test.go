package sqlstore

import (
	"errors"
	"testing"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

func TestErrorsRef(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		code apperr.Code // "" when err passes unchanged
		msg  string
	}{
		{"unnamed foreign key names the thing", brokenErr{"", ForeignKey}, apperr.NotFound, "show not found"},
		{"named foreign key says what Constraints says", brokenErr{"brand_follows_user_fkey", ForeignKey}, apperr.NotFound, "user not found"},
		{"unique passes", brokenErr{"", Unique}, "", ""},
		{"other passes", errors.New("disk full"), "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := testErrs.Ref(c.err, "show")
			if c.code == "" {
				if got != c.err {
					t.Fatalf("Ref = %v, want the error unchanged", got)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(got, &ae) || ae.Code != c.code || ae.Message != c.msg {
				t.Fatalf("Ref = %v, want %s %q", got, c.code, c.msg)
			}
		})
	}
	if testErrs.Ref(nil, "show") != nil {
		t.Fatal("Ref(nil) is not nil")
	}
}

func TestNoRowsIsBoth(t *testing.T) {
	driverErr := errors.New("driver: no rows")
	err := NoRows(driverErr)
	if !errors.Is(err, ErrNoRows) || !errors.Is(err, driverErr) {
		t.Fatalf("NoRows(%v) is not both ErrNoRows and the driver's error", driverErr)
	}
	var ae *apperr.Error
	if !errors.As(NotFound(err, "draw"), &ae) || ae.Code != apperr.NotFound || ae.Message != "draw not found" {
		t.Fatalf("NotFound(no rows) = %v", NotFound(err, "draw"))
	}
	if other := errors.New("other"); NotFound(other, "draw") != other {
		t.Fatal("NotFound changed another error")
	}
}
