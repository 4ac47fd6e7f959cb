package textcheck

import (
	"strings"
	"testing"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

func TestLineAndText(t *testing.T) {
	for _, tc := range []struct {
		in          string
		line, multi bool // accepted as a line, as text
	}{
		{"Ada Lovelace", true, true},
		{"Zoë · 李小龙 · محمد · 🏳️‍🌈 · 👩🏽‍💻", true, true},                                // ZWJ sequences, variation selectors
		{"\u200f‏שלום\u200e", true, true},                                             // direction marks
		{"نامه\u200cها", true, true},                                                  // ZWNJ (Persian)
		{"🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", true, true}, // a tag sequence flag
		{"two\nlines", false, true},
		{"tab\there", false, true},
		{"nul\x00", false, false},
		{"cr\r\nlf", false, false},
		{"esc\x1b[31m", false, false},
		{"del\x7f", false, false},
		{"c1\u0085", false, false},
		{"c1\u009b", false, false},
		{"rlo\u202egnp.exe", false, false},
		{"lre\u202a", false, false},
		{"isolate\u2066x\u2069", false, false},
		{"zw\u200bsp", false, false},
		{"word\u2060joiner", false, false},
		{"bom\ufeff", false, false},
		{"ls\u2028", false, true},
		{"ps\u2029", false, true},
		{"annot\ufff9", false, false},
		{"nonchar\uffff", false, false},
		{"bad utf8 \xff", false, false},
		{"replacement \ufffd", false, false},
	} {
		if err := Line("name", tc.in); (err == nil) != tc.line {
			t.Errorf("Line(%q) = %v, want accepted %v", tc.in, err, tc.line)
		}
		if err := Text("name", tc.in); (err == nil) != tc.multi {
			t.Errorf("Text(%q) = %v, want accepted %v", tc.in, err, tc.multi)
		}
	}
}

func TestErrorNamesFieldAndCharacter(t *testing.T) {
	err := Line("shipping.name", "Bob\u202eevil")
	if apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("code = %v", err)
	}
	msg := apperr.MessageOf(err)
	if !strings.HasPrefix(msg, "shipping.name ") || !strings.Contains(msg, "U+202E at character 4") {
		t.Fatalf("message = %q", msg)
	}
}
