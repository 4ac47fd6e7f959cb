package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestSetGCTarget(t *testing.T) {
	for _, tc := range []struct {
		name, gogc string
		want       []int // the targets set
		logged     string
	}{
		{name: "GOGC unset: serve chooses", gogc: "", want: []int{mediaGCPercent}, logged: "source=\"serve's default"},
		{name: "GOGC set: kept", gogc: "200", want: nil, logged: "gogc=200 source=GOGC"},
		{name: "GOGC off: kept", gogc: "off", want: nil, logged: "gogc=off source=GOGC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			getenv := func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			}
			var set []int
			setGCTarget(log, getenv, func(p int) int { set = append(set, p); return 100 })
			if len(set) != len(tc.want) || (len(set) == 1 && set[0] != tc.want[0]) {
				t.Fatalf("targets set: %v, want %v", set, tc.want)
			}
			if !strings.Contains(buf.String(), tc.logged) {
				t.Fatalf("log %q does not say %q", buf.String(), tc.logged)
			}
		})
	}
	if mediaGCPercent <= 0 || mediaGCPercent >= 100 {
		t.Fatalf("mediaGCPercent %d: a media node's target is below the runtime's 100 and above 0 (0 collects all the time)", mediaGCPercent)
	}
}
