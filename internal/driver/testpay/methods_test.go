package testpay

import "testing"

// A card number is remembered as its token, never as itself; what is not a
// test method is not remembered at all.
func TestReusable(t *testing.T) {
	for _, tc := range []struct{ in, ref, label string }{
		{"4242 4242 4242 4242", TokenSuccess, "Visa •••• 4242"},
		{"4242-4242-4242-4242", TokenSuccess, "Visa •••• 4242"},
		{TokenSuccess, TokenSuccess, "Visa •••• 4242"},
		{"4000 0000 0000 3220", TokenSlow, "Visa •••• 3220"},
	} {
		ref, label, ok := Reusable(tc.in)
		if !ok || ref != tc.ref || label != tc.label {
			t.Errorf("Reusable(%q) = %q, %q, %v; want %q, %q", tc.in, ref, label, ok, tc.ref, tc.label)
		}
	}
	for _, in := range []string{"", "5555 5555 5555 4444", "tok_unknown"} {
		if ref, _, ok := Reusable(in); ok {
			t.Errorf("Reusable(%q) = %q: an unknown method was remembered", in, ref)
		}
	}
}
