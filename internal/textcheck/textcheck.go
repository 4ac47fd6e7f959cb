// Package textcheck is the one rule for characters in text people write:
// names, addresses, titles, descriptions, chat. It refuses what cannot be
// seen or that changes how the text around it is shown, and what a database
// or a log line cannot hold (NUL is refused by PostgreSQL, CR/LF forge log
// lines and CSV rows). It judges characters only; lengths and formats stay
// with each field's own validation.
package textcheck

import (
	"unicode/utf8"

	"github.com/pavilion-live/pavilion/internal/apperr"
)

// Refused reports whether r may not appear in written text. multiline
// allows the line feed, the tab and the Unicode line and paragraph
// separators U+2028 and U+2029 (descriptions, chat); every other character
// refused is refused everywhere:
//
//   - C0 controls U+0000–U+001F (NUL, CR, ESC…), DEL U+007F and the C1
//     controls U+0080–U+009F;
//   - bidirectional embeddings and overrides U+202A–U+202E and isolates
//     U+2066–U+2069, which reorder the text around them ("Trojan Source");
//   - invisible characters that only serve to hide or split text: the zero
//     width space U+200B, the word joiner and invisible operators
//     U+2060–U+2064, the deprecated format controls U+206A–U+206F, the byte
//     order mark U+FEFF, interlinear annotations U+FFF9–U+FFFB;
//   - the noncharacters U+FFFE and U+FFFF;
//   - U+FFFD, which is what invalid UTF-8 decodes to.
//
// Kept on purpose: the zero width (non-)joiners U+200C and U+200D (emoji
// sequences, Persian and Indic scripts), the direction marks U+200E, U+200F
// and U+061C (they set the direction of neutral characters in right-to-left
// text without reordering it), variation selectors, tag characters (flag
// emoji) and the soft hyphen.
func Refused(r rune, multiline bool) bool {
	switch {
	case r == '\n', r == '\t', r == 0x2028, r == 0x2029:
		return !multiline
	case r < 0x20, r >= 0x7f && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200b, r >= 0x2060 && r <= 0x2064, r >= 0x206a && r <= 0x206f:
		return true
	case r == 0xfeff:
		return true
	case r >= 0xfff9 && r <= 0xfffb, r == 0xfffd, r == 0xfffe, r == 0xffff:
		return true
	}
	return false
}

// Line checks a one-line field (a name, a title, an address line): an
// Invalid error naming field and the first refused character, or nil.
func Line(field, s string) error { return check(field, s, false) }

// Text checks a multi-line field (a description, a story, a chat message):
// as Line, but line breaks (LF, U+2028, U+2029) and tabs are allowed.
func Text(field, s string) error { return check(field, s, true) }

func check(field, s string, multiline bool) error {
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		n++
		if r == utf8.RuneError && size <= 1 {
			return apperr.Errorf(apperr.Invalid, "%s is not valid UTF-8 (byte %d)", field, i)
		}
		if Refused(r, multiline) {
			return apperr.Errorf(apperr.Invalid, "%s must not contain control or invisible formatting characters (U+%04X at character %d)", field, r, n)
		}
		i += size
	}
	return nil
}
