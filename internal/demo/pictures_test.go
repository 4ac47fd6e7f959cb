package demo

import (
	"image/color"
	"testing"
)

// TestMixClamps: shading brighter than a colour saturates it; it must not
// wrap a channel around (a light runway drawn teal at the bottom).
func TestMixClamps(t *testing.T) {
	got := mix(color.NRGBA{0, 0, 0, 255}, color.NRGBA{236, 226, 210, 255}, 1.4)
	if got.R != 255 || got.G != 255 || got.B != 255 {
		t.Fatalf("mix past 1 = %v, want white", got)
	}
	if got := mix(color.NRGBA{10, 20, 30, 255}, color.NRGBA{110, 120, 130, 255}, 0.5); got.R != 60 || got.G != 70 || got.B != 80 {
		t.Fatalf("mix halfway = %v", got)
	}
}
